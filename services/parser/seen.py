"""Seen markers ("this version of this entry was published") and the feed's
observed publishing rate. Pure functions; the Redis side is in the handler."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import xxhash

from services.parser.formats import RawEntry
from shared.pipeline import streams

MAX_RATE_ENTRIES: Final = 50


def entry_version(feed_id: str, entry: RawEntry, *, url: str | None) -> str:
    """feed id + identity (GUID, else URL) + hash of what the feed says about
    the entry. A changed title or body gives a new version (an update); an
    unchanged entry on the next poll gives the same one and is skipped."""
    identity = entry.guid or url or ""
    # One buffer hashed at once: the same bytes as updating with each part
    # followed by NUL, in one encode and one hash call instead of eight.
    joined = "\x00".join(
        (
            feed_id,
            identity,
            entry.title,
            entry.summary_html,
            entry.content_html,
            entry.link or "",
            entry.published.isoformat() if entry.published else "",
            entry.updated.isoformat() if entry.updated else "",
            "",
        )
    )
    return xxhash.xxh3_128_hexdigest(joined.encode("utf-8", "surrogatepass"))


def seen_key(version: str) -> str:
    # One key per published entry version, with a TTL (dedup window).
    return f"{streams.ENTRY_SEEN_PREFIX}{version}"


def publish_rate_per_day(dates: Sequence[datetime | None]) -> float | None:
    """Entries per day over the span of the newest dated entries; None with
    fewer than two distinct dates."""
    known = sorted((d for d in dates if d is not None), reverse=True)[:MAX_RATE_ENTRIES]
    if len(known) < 2:
        return None
    span_days = (known[0] - known[-1]).total_seconds() / 86400.0
    if span_days <= 0:
        return None
    return (len(known) - 1) / span_days
