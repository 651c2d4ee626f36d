"""Entry HTML -> sanitised HTML (nh3 allow-list) and plain text for indexing."""

from __future__ import annotations

import html as htmllib
import re
from functools import lru_cache
from typing import Final
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_TAGS: Final = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl",
        "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong",
        "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
# Removed with everything inside: never article text.
DROP_WITH_CONTENT: Final = frozenset(
    {"script", "style", "noscript", "iframe", "object", "embed", "svg", "math", "template"}
)

_PLAIN = nh3.Cleaner(
    tags=set(), clean_content_tags=set(DROP_WITH_CONTENT), attributes={}, strip_comments=True
)
# A line break wherever a block element starts or ends, so stripping tags does
# not glue "<p>one</p><p>two</p>" into "onetwo".
_BLOCK_BOUNDARY: Final = re.compile(
    r"<(?:/?(?:p|div|li|ul|ol|h[1-6]|blockquote|pre|tr|table|section|article|header|footer|"
    r"figure|figcaption|dd|dt|dl)\b[^>]*|br\s*/?|hr\s*/?)>",
    re.IGNORECASE,
)
_HAS_MARKUP: Final = re.compile(r"[<&]")


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


# nh3 output always double-quotes attribute values (and never puts a quote
# inside one), so every URL attribute it kept reads ` href="..."`; only
# relative ones are rewritten (a Python callback per attribute inside nh3
# would cost more than the whole sanitising pass). The scan walks the `="`
# occurrences with str.find: a regex starting with " " stops at every word.
_ABSOLUTE_PREFIXES: Final = ("http://", "https://", "mailto:")


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Allow-list sanitised HTML; relative links/images resolved against ``base_url``."""
    if not fragment:
        return ""
    # Inert text: what nh3 would return, without its parse.
    cleaned = (fragment if _is_inert_text(fragment) else _CLEANER.clean(fragment)).strip()
    if base_url and ('href="' in cleaned or 'src="' in cleaned or 'cite="' in cleaned):
        cleaned = _resolve_relative(cleaned, base_url)
    return cleaned


def _is_inert_text(fragment: str) -> bool:
    """Text that nh3 (html5ever) returns unchanged: no markup or entity
    characters, nothing its parser rewrites (CR, NUL, a BOM) or escapes
    (NBSP). Checked against nh3 on random Unicode strings."""
    return not (
        "<" in fragment
        or "&" in fragment
        or ">" in fragment
        or "\r" in fragment
        or "\x00" in fragment
        or "\xa0" in fragment
        or "\ufeff" in fragment
    )


def _resolve_relative(cleaned: str, base: str) -> str:
    """Rewrite every ` href|src|cite="relative"` (what the regex
    ``' (href|src|cite)="(?!https?://|mailto:)([^"]*)"'`` would match, left to
    right) with the URL resolved against ``base``."""
    parts: list[str] = []
    last = pos = 0
    find = cleaned.find
    while (i := find('="', pos)) >= 0:
        pos = i + 1
        if cleaned[i - 5 : i] == " href":
            name = "href"
        elif cleaned[i - 4 : i] == " src":
            name = "src"
        elif cleaned[i - 5 : i] == " cite":
            name = "cite"
        else:
            continue
        j = find('"', i + 2)
        if j < 0:
            break
        value = cleaned[i + 2 : j]
        if value.startswith(_ABSOLUTE_PREFIXES):
            continue
        parts.append(cleaned[last : i - len(name) - 1])
        parts.append(_absolute(name, value, base))
        last = pos = j + 1
    if not parts:
        return cleaned
    parts.append(cleaned[last:])
    return "".join(parts)


# A root-relative path ("/t/83", "/a/b.html?x=1") that urljoin would only
# prefix with the base's scheme and host: no dot segments, no empty segments,
# no ";params", no fragment, no empty query, nothing urlsplit strips.
_ROOT_RELATIVE: Final = re.compile(
    r"/(?!/)(?:[A-Za-z0-9_~!$'()*+,=:@%-][A-Za-z0-9._~!$'()*+,=:@%-]*)?"
    r"(?:/(?!\.)[A-Za-z0-9_~!$'()*+,=:@%-][A-Za-z0-9._~!$'()*+,=:@%-]*)*"
    r"/?(?:\?[A-Za-z0-9._~!$'()*+,;=:@%/?&-]+)?"
)


_PLAIN_ORIGIN: Final = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?=[/?#]|$)")


def _origin(base: str) -> str | None:
    """``scheme://netloc`` of an http(s) base as urljoin would reuse it, else None."""
    plain = _PLAIN_ORIGIN.match(base)  # the base is usually a canonical article URL
    return plain.group(0) if plain is not None else _split_origin(base)


@lru_cache(maxsize=1024)
def _split_origin(base: str) -> str | None:
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _absolute(name: str, raw_value: str, base: str) -> str:
    value = htmllib.unescape(raw_value)
    origin = _origin(base) if value.startswith("/") else None
    if origin is not None and _ROOT_RELATIVE.fullmatch(value) is not None:
        # Same result as urljoin for this shape, without its general
        # parse/split/re-join (which cost more than nh3's whole pass).
        return f' {name}="{htmllib.escape(origin + value)}"'
    try:
        resolved = urljoin(base, value)
    except ValueError:
        return ""
    if not resolved.startswith(("http://", "https://", "mailto:")):
        return ""  # e.g. a relative "javascript:" smuggled past as a path
    return f' {name}="{htmllib.escape(resolved)}"'


def html_to_text(fragment: str) -> str:
    """Readable plain text of an HTML fragment: tags gone, entities decoded,
    one paragraph per line."""
    if not fragment:
        return ""
    if _HAS_MARKUP.search(fragment) is None:
        return _tidy(fragment)
    marked = _BLOCK_BOUNDARY.sub("\n", fragment)
    return _tidy(htmllib.unescape(_PLAIN.clean(marked)))


# In nh3 output every tag is lower-case, allow-listed and well-formed, so a
# plain tag-stripping regex is exact there (it is not on arbitrary HTML).
_CLEAN_BLOCK_END: Final = re.compile(
    r"</(?:p|li|h[1-6]|blockquote|pre|tr|dd|dt|figcaption|table|ul|ol|dl|figure)>|<br>|<hr>"
)
_CLEAN_TAG: Final = re.compile(r"<[^>]*>")


def text_of_clean_html(cleaned: str) -> str:
    """Plain text of :func:`sanitize_html` output (cheaper than :func:`html_to_text`)."""
    if not cleaned:
        return ""
    if "<" not in cleaned and "&" not in cleaned:
        return _tidy(cleaned)
    marked = _CLEAN_BLOCK_END.sub("\n", cleaned)
    return _tidy(htmllib.unescape(_CLEAN_TAG.sub("", marked)))


# Every non-ASCII character str.split() treats as white space.
_ODD_SPACE_OTHER: Final = (
    "\x85", "\xa0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
    "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000",
)  # fmt: skip


def _only_plain_spaces(text: str) -> bool:
    """True when " " and "\n" are the only white space in ``text`` (one
    single-character search each: memchr speed, far cheaper than a regex)."""
    if (
        "\t" in text
        or "\r" in text
        or "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
        or "\x1f" in text
    ):
        return False
    return text.isascii() or not any(c in text for c in _ODD_SPACE_OTHER)


def _tidy(text: str) -> str:
    """One space between words, no blank lines, no zero-width spaces.

    str.split knows every Unicode space (NBSP included) and is faster than
    any regex we measured, but it builds one string per word; most lines
    need no change beyond trimming, so they skip it."""
    if "\u200b" in text:
        text = text.replace("\u200b", "")
    if not _only_plain_spaces(text):
        lines = (" ".join(line.split()) for line in text.split("\n"))
        return "\n".join(line for line in lines if line)
    out: list[str] = []
    for line in text.split("\n"):
        # Only " " is white space here, so without a double space trimming
        # gives exactly " ".join(line.split()).
        line = " ".join(line.split()) if "  " in line else line.strip(" ")
        if line:
            out.append(line)
    return "\n".join(out)


def inline_text(fragment: str) -> str:
    """Text on one line (titles, names): markup and line breaks removed."""
    if _HAS_MARKUP.search(fragment) is None:  # the usual plain title
        return " ".join(fragment.replace("\u200b", "").split())
    return " ".join(html_to_text(fragment).split())
