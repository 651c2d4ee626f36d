"""JSON Feed 1.0/1.1 documents (https://www.jsonfeed.org/version/1.1/) -> ParsedFeed.

A small adapter of our own rather than fastfeedparser's JSON support: the spec
is a plain JSON mapping, and fastfeedparser keeps only the first author and
drops the per-item ``language`` of JSON Feed 1.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.parser.dates import to_utc
from services.parser.formats.model import FeedParseError, ParsedFeed, RawEnclosure, RawEntry
from services.parser.formats.values import as_count, as_text, plain_text_html


def _authors(obj: Mapping[str, Any]) -> list[str]:
    """``authors`` (1.1), else the single ``author`` object of 1.0."""
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), Mapping) else []
    names = [as_text(a.get("name")).strip() for a in raw if isinstance(a, Mapping)]
    return [n for n in names if n]


def _entry(item: Mapping[str, Any], feed_authors: list[str]) -> RawEntry:
    content = as_text(item.get("content_html"))
    if not content and item.get("content_text"):
        content = plain_text_html(as_text(item.get("content_text")))
    enclosures = [
        RawEnclosure(
            url=as_text(a.get("url")),
            type=as_text(a.get("mime_type")) or None,
            length=as_count(a.get("size_in_bytes")),
        )
        for a in item.get("attachments") or []
        if isinstance(a, Mapping) and a.get("url")
    ]
    tags = item.get("tags")
    return RawEntry(
        guid=as_text(item.get("id")).strip() or None,
        link=as_text(item.get("url")).strip() or as_text(item.get("external_url")).strip() or None,
        title=as_text(item.get("title")),
        summary_html=as_text(item.get("summary")),
        content_html=content,
        authors=_authors(item) or feed_authors,
        categories=[as_text(t).strip() for t in tags if as_text(t).strip()]
        if isinstance(tags, list)
        else [],
        published=to_utc(item.get("date_published")),
        updated=to_utc(item.get("date_modified")),
        language=as_text(item.get("language")).strip() or None,
        enclosures=enclosures,
    )


def parse_json(text: str, fmt: str) -> ParsedFeed:
    """A JSON Feed document (decoded text, ``fmt`` from the sniffer) -> ParsedFeed.
    Each item is adapted on its own: a bad item is counted, never fatal."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FeedParseError("malformed", f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedParseError("not_a_feed", "JSON document without an 'items' list")
    feed_authors = _authors(doc)
    entries: list[RawEntry] = []
    errors = 0
    for item in doc["items"]:
        try:
            if not isinstance(item, Mapping):
                raise TypeError("item is not an object")
            entries.append(_entry(item, feed_authors))
        except Exception:
            errors += 1
    return ParsedFeed(
        format=fmt,
        parser="jsonfeed",
        title=as_text(doc.get("title")).strip(),
        site_url=as_text(doc.get("home_page_url")).strip() or None,
        language=as_text(doc.get("language")).strip() or None,
        entries=entries,
        entry_errors=errors,
    )
