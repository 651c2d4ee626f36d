"""Content sniffing: is a fetched document a feed, an HTML page, or unknown?

Servers label feeds badly (``text/html`` RSS, ``text/plain`` Atom), so the
body's first element decides; the Content-Type is only the tie-breaker when
the body says nothing.
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urljoin

import lxml.html
from lxml.etree import ParserError

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
)


class DocKind(StrEnum):
    FEED = "feed"
    HTML = "html"
    UNKNOWN = "unknown"


# Skips a BOM, whitespace, the XML declaration, comments, processing
# instructions and a non-HTML doctype before the first element.
_PROLOG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\s+(?!html)[^>]*>)*", re.S | re.I
)
_FIRST_TAG = re.compile(rb"<\s*([A-Za-z!][\w:.\-]*)")
_FEED_ROOTS = {b"rss", b"feed", b"rdf:rdf", b"rdf", b"channel"}
_HTML_ROOTS = {b"html", b"!doctype", b"head", b"body"}

SNIFF_BYTES = 4096
ALTERNATE_SCAN_BYTES = 512 * 1024


def sniff(body: bytes, content_type: str | None) -> DocKind:
    head = body[:SNIFF_BYTES]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"{", b"[")):
        return DocKind.FEED  # JSON Feed (the parser validates it)
    rest = head[_PROLOG.match(head).end() :]  # type: ignore[union-attr]
    match = _FIRST_TAG.match(rest)
    if match:
        tag = match.group(1).lower()
        local = tag.rsplit(b":", 1)[-1] if tag != b"rdf:rdf" else tag
        if tag in _FEED_ROOTS or local in _FEED_ROOTS:
            return DocKind.FEED
        if tag in _HTML_ROOTS:
            return DocKind.HTML
        return DocKind.UNKNOWN
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in {"text/html", "application/xhtml+xml"}:
        return DocKind.HTML
    return DocKind.UNKNOWN


def find_alternate_feed(body: bytes, base_url: str) -> str | None:
    """The first ``<link rel="alternate">`` feed of an HTML page, absolute."""
    try:
        doc = lxml.html.document_fromstring(body[:ALTERNATE_SCAN_BYTES])
    except (ParserError, ValueError):
        return None
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";", 1)[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            return urljoin(base_url, href)
    return None
