"""A feed as the registry stores it: settings, health, and the hash encoding.

Each feed is one Redis hash (see :mod:`shared.feeds.registry`); its fields are
those of :class:`Feed`, written by :func:`encode_fields` and read back by
:func:`decode_feed`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import xxhash
from pydantic import BaseModel, Field

from shared.pipeline.events import FullContent
from shared.pipeline.redisconn import as_text


class FeedStatus(StrEnum):
    NEW = "new"  # never polled
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    NETWORK_ERROR = "network_error"
    TOO_LARGE = "too_large"
    NOT_A_FEED = "not_a_feed"
    REFUSED = "refused"  # SSRF guard
    PARSE_ERROR = "parse_error"
    GONE = "gone"  # HTTP 410: disabled


HEALTHY = {FeedStatus.NEW, FeedStatus.OK, FeedStatus.NOT_MODIFIED}


def feed_id_for(url: str) -> str:
    """Stable id from the URL a feed was registered with (kept across redirects)."""
    return xxhash.xxh64_hexdigest(url.strip().encode())


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


class Feed(BaseModel):
    feed_id: str
    url: str
    title: str | None = None
    category: str | None = Field(default=None, description="OPML outline path, '/'-joined.")
    site_url: str | None = None
    interval: float | None = Field(default=None, description="Fixed interval (s); None adapts.")
    full_content: FullContent = FullContent.AUTO
    enabled: bool = True
    added_at: float = 0.0
    # state
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: FeedStatus = FeedStatus.NEW
    http_status: int | None = None
    last_error: str | None = None
    warning: str | None = Field(
        default=None,
        description="A problem of the last parsed document that was worked around (a broken"
        " document read in recovery mode); cleared by the next clean document.",
    )
    error_count: int = 0
    last_polled_at: float | None = None
    next_poll_at: float | None = None
    last_ok_at: float | None = None
    publish_rate: float | None = Field(default=None, description="Observed entries per day.")
    feed_ttl: float | None = Field(
        default=None, description="Interval the feed asks for (<ttl>, sy:updatePeriod), seconds."
    )
    last_entry_count: int | None = None
    suggested_feed: str | None = None

    @property
    def healthy(self) -> bool:
        return self.last_error is None and self.last_status in HEALTHY

    def public(self) -> dict[str, Any]:
        """The contract of ``feedpipe feeds list --json`` and ``GET /feeds``."""
        return {
            "id": self.feed_id,
            "url": self.url,
            "title": self.title,
            "category": self.category,
            "enabled": self.enabled,
            "full_content": self.full_content.value,
            "interval": self.interval,
            "last_status": self.last_status.value,
            "http_status": self.http_status,
            "last_error": self.last_error,
            "warning": self.warning,
            "error_count": self.error_count,
            "last_polled_at": _iso(self.last_polled_at),
            "next_poll_at": _iso(self.next_poll_at),
            "publish_rate_per_day": self.publish_rate,
            "suggested_feed": self.suggested_feed,
        }


def _iso(value: float | None) -> str | None:
    ts = _ts(value)
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def encode_fields(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, StrEnum):
            out[key] = value.value
        else:
            out[key] = str(value)
    return out


_NULLABLE = {
    name for name, f in Feed.model_fields.items() if not f.is_required() and f.default is None
}


def decode_feed(raw: Any) -> Feed:
    data: dict[str, Any] = {}
    for k, v in raw.items():
        key, value = as_text(k), as_text(v)
        if value == "" and key in _NULLABLE:
            data[key] = None
        elif key == "enabled":
            data[key] = value == "1"
        else:
            data[key] = value
    return Feed.model_validate(data)
