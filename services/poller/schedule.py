"""When to poll a feed next. Pure functions: no Redis, no HTTP, no clock.

Rules, in order of precedence:

1. ``Retry-After`` (per host) and error backoff push the next poll out;
2. a per-feed fixed ``interval`` replaces adaptation (never below the floor);
3. otherwise the interval follows the observed publishing rate, then is raised
   to any hint the server or the feed gave (Cache-Control ``max-age``,
   ``Expires``, RSS ``<ttl>`` / ``sy:updatePeriod``), whichever is later;
4. the result stays within ``[min_interval, max_interval]`` and gets a little
   positive jitter so feeds added together do not stay aligned.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from shared.feeds import Feed
from shared.settings import Settings

DAY_S = 86_400.0
JITTER_FRACTION = 0.1  # next poll lands in [interval, interval * 1.1]


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def http_freshness(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the response says it stays fresh (RFC 9111 §4.2.1: ``max-age``
    wins over ``Expires``); None when the server gave no hint."""
    cache_control = headers.get("Cache-Control", "")
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age":
            try:
                return max(float(value.strip().strip('"')), 0.0)
            except ValueError:
                return None
    expires = _http_date(headers.get("Expires"))
    if expires is None:
        return None
    # Expires is relative to the server's clock: measure it from its Date.
    origin = _http_date(headers.get("Date")) or now
    return max(expires - origin, 0.0)


def base_interval(feed: Feed, settings: Settings) -> float:
    """The interval before hints: fixed, or from the observed publishing rate."""
    if feed.interval:
        return max(feed.interval, settings.min_interval)
    if feed.publish_rate and feed.publish_rate > 0:
        # One poll per expected new entry: a feed publishing 48 entries a day
        # is polled every 30 minutes, one publishing weekly once a day (ceiling).
        interval = DAY_S / feed.publish_rate
    else:
        interval = settings.default_interval
    return min(max(interval, settings.min_interval), settings.max_interval)


def success_interval(feed: Feed, settings: Settings, *, http_hint: float | None) -> float:
    interval = base_interval(feed, settings)
    if feed.interval:
        return interval  # the user's explicit choice overrides adaptation and hints
    hints = [h for h in (http_hint, feed.feed_ttl) if h is not None]
    if hints:
        interval = max(interval, *hints)
    return min(max(interval, settings.min_interval), settings.max_interval)


def with_jitter(interval: float, rng: random.Random) -> float:
    return interval * (1.0 + rng.uniform(0.0, JITTER_FRACTION))


def error_backoff(error_count: int, settings: Settings, rng: random.Random) -> float:
    """Exponential backoff with jitter from the floor, capped, never giving up:
    attempt n waits between half and all of ``min_interval * 2**(n-1)``."""
    exponent = max(error_count - 1, 0)
    ceiling = settings.min_interval * (2.0 ** min(exponent, 60))
    ceiling = min(ceiling, settings.max_error_backoff)
    return rng.uniform(ceiling / 2.0, ceiling)


def next_success_poll(
    feed: Feed,
    settings: Settings,
    *,
    now: float,
    headers: Mapping[str, str],
    rng: random.Random,
) -> float:
    hint = http_freshness(headers, now=now)
    return now + with_jitter(success_interval(feed, settings, http_hint=hint), rng)


def next_error_poll(
    error_count: int,
    settings: Settings,
    *,
    now: float,
    retry_after: float | None,
    rng: random.Random,
) -> float:
    wait = error_backoff(error_count, settings, rng)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return now + wait


def next_deferred_poll(*, now: float, retry_after: float | None, rng: random.Random) -> float:
    """A poll skipped for host politeness: retry once the host allows, spread a
    little so a host's feeds do not all return at the same instant."""
    wait = retry_after if retry_after and retry_after > 0 else 1.0
    return now + wait + rng.uniform(0.0, min(wait * JITTER_FRACTION, 30.0))
