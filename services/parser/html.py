"""Entry HTML -> sanitised HTML (nh3 allow-list) and plain text for indexing."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
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
_SPACES: Final = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_LINES: Final = re.compile(r"\n\s*\n+")
_HAS_MARKUP: Final = re.compile(r"[<&]")


def _url_filter(base: str) -> Callable[[str, str, str], str | None]:
    def resolve(tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES and value and "://" not in value[:12]:
            try:
                return urljoin(base, value)
            except ValueError:
                return None
        return value

    return resolve


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitize_html(fragment: str, *, base_url: str | None = None) -> str:
    """Allow-list sanitised HTML; relative links/images resolved against ``base_url``."""
    if not fragment:
        return ""
    if base_url and ("href=" in fragment or "src=" in fragment):
        return nh3.clean(
            fragment,
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(DROP_WITH_CONTENT),
            attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=_url_filter(base_url),
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        ).strip()
    return _CLEANER.clean(fragment).strip()


def html_to_text(fragment: str) -> str:
    """Readable plain text of an HTML fragment: tags gone, entities decoded,
    one paragraph per line."""
    if not fragment:
        return ""
    if _HAS_MARKUP.search(fragment) is None:
        return _tidy(fragment)
    marked = _BLOCK_BOUNDARY.sub("\n", fragment)
    return _tidy(htmllib.unescape(_PLAIN.clean(marked)))


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    lines = (line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def inline_text(fragment: str) -> str:
    """Text on one line (titles, names): markup and line breaks removed."""
    return " ".join(html_to_text(fragment).split())
