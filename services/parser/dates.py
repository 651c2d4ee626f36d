"""Dates as feeds and pages write them -> aware UTC datetimes (pure)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from dateutil import parser as dateparser


def to_utc(value: Any) -> datetime | None:
    """Parse a feed or page date to an aware UTC datetime; None when unusable.

    Takes what the parsing libraries hand over: a ``datetime``, a UTC
    ``struct_time`` (feedparser's ``*_parsed``) or a string (RFC 3339 first,
    then dateutil for RFC 822 and the rest). A date without a zone is taken as
    UTC (RFC 3339 requires one; feeds that omit it are most often UTC servers).
    Years outside 1970..2100 are junk.
    """
    if value is None or value == "":
        return None
    dt: datetime | None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, time.struct_time):
        dt = datetime(*value[:6], tzinfo=UTC)
    elif isinstance(value, str):
        raw = value.strip()
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = dateparser.parse(raw)
            except (ValueError, OverflowError, TypeError, dateparser.ParserError):
                return None
    else:
        return None
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if not 1970 <= dt.year <= 2100:
        return None
    return dt
