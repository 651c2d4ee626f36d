"""The parsed-feed model every format adapter produces: a wire-level view of a
feed document and its entries, the same whatever the format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class FeedParseError(ValueError):
    """The document is not a feed we can read; ``reason`` is a metric label
    (hostile, empty, not_a_feed, malformed)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class RawEnclosure:
    url: str
    type: str | None = None
    length: int | None = None


@dataclass(slots=True)
class RawEntry:
    """One entry as the feed states it: HTML unsanitised, links unresolved,
    dates in UTC (or None when absent or unusable)."""

    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary_html: str = ""
    content_html: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    enclosures: list[RawEnclosure] = field(default_factory=list)


@dataclass(slots=True)
class ParsedFeed:
    format: str  # rss2.0, rss1.0, rss0.9x, atom1.0, atom0.3, json1.0, json1.1, unknown
    parser: str  # fastfeedparser | feedparser | jsonfeed
    title: str = ""
    site_url: str | None = None
    language: str | None = None
    ttl_seconds: float | None = None
    encoding: str = "utf-8"
    entries: list[RawEntry] = field(default_factory=list)
    entry_errors: int = 0
    # Why the document is not well-formed XML when it was read in recovery
    # mode anyway (entries after the damage may be lost); None for a clean one.
    recovered: str | None = None
