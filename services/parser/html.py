"""Entry HTML -> sanitised HTML (nh3 allow-list) and plain text for indexing."""

from __future__ import annotations

import html as htmllib
import re
from typing import Final
from urllib.parse import urljoin

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
URL_ATTRIBUTES: Final = frozenset({"href", "src", "cite"})
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


# nh3 output always double-quotes attribute values, so this finds every URL
# attribute it kept; only relative ones are rewritten (a Python callback per
# attribute inside nh3 would cost more than the whole sanitising pass).
_URL_ATTR: Final = re.compile(r' (href|src|cite)="(?!https?://|mailto:)([^"]*)"')


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Allow-list sanitised HTML; relative links/images resolved against ``base_url``."""
    if not fragment:
        return ""
    cleaned = _CLEANER.clean(fragment).strip()
    if base_url and ('href="' in cleaned or 'src="' in cleaned or 'cite="' in cleaned):
        cleaned = _URL_ATTR.sub(lambda m: _absolute(m, base_url), cleaned)
    return cleaned


def _absolute(match: re.Match[str], base: str) -> str:
    value = htmllib.unescape(match.group(2))
    try:
        resolved = urljoin(base, value)
    except ValueError:
        return ""
    if not resolved.startswith(("http://", "https://", "mailto:")):
        return ""  # e.g. a relative "javascript:" smuggled past as a path
    return f' {match.group(1)}="{htmllib.escape(resolved)}"'


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


def _tidy(text: str) -> str:
    """One space between words, no blank lines. str.split knows every Unicode
    space (NBSP included) and is faster here than any regex we measured."""
    lines = (" ".join(line.replace("\u200b", "").split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def inline_text(fragment: str) -> str:
    """Text on one line (titles, names): markup and line breaks removed."""
    return " ".join(html_to_text(fragment).split())
