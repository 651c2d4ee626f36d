"""Any feed document (bytes as fetched) -> :class:`ParsedFeed`: decode, sniff
the format, hand the text to that format's adapter."""

from __future__ import annotations

from services.parser.formats.encoding import decode_document
from services.parser.formats.hints import sniff_format
from services.parser.formats.jsonfeed import parse_json
from services.parser.formats.model import FeedParseError, ParsedFeed
from services.parser.formats.safety import HostileDocumentError
from services.parser.formats.xmlfeed import parse_xml


def parse_document(body: bytes, *, content_type: str | None = None) -> ParsedFeed:
    """Parse any supported feed document. Raises :class:`FeedParseError`
    (``reason`` in hostile, empty, not_a_feed, malformed)."""
    if not body or not body.strip():
        raise FeedParseError("empty", "empty document")
    decoded = decode_document(body, content_type)
    text = decoded.text.lstrip("\ufeff")
    fmt = sniff_format(text)
    try:
        parsed = parse_json(text, fmt) if fmt.startswith("json") else parse_xml(text, fmt)
    except HostileDocumentError as exc:
        raise FeedParseError("hostile", str(exc)) from exc
    parsed.encoding = decoded.encoding
    return parsed
