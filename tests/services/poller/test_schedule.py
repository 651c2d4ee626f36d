"""Pure scheduling rules: adaptive interval, hints, jitter, backoff."""

from __future__ import annotations

import random

import pytest

from services.poller import schedule
from shared.feeds import Feed
from shared.settings import Settings

S = Settings(min_interval=300, max_interval=86_400, default_interval=1800, max_error_backoff=86_400)
NOW = 1_700_000_000.0


def feed(**kw: object) -> Feed:
    return Feed(feed_id="f", url="https://example.org/feed", **kw)


def test_new_feed_uses_the_default_interval() -> None:
    assert schedule.base_interval(feed(), S) == 1800


def test_interval_follows_publish_rate() -> None:
    assert schedule.base_interval(feed(publish_rate=48), S) == pytest.approx(1800)
    assert schedule.base_interval(feed(publish_rate=4), S) == pytest.approx(21_600)


def test_interval_stays_between_floor_and_ceiling() -> None:
    assert schedule.base_interval(feed(publish_rate=10_000), S) == 300
    assert schedule.base_interval(feed(publish_rate=0.01), S) == 86_400


def test_fixed_interval_overrides_rate_and_hints() -> None:
    f = feed(interval=600, publish_rate=1, feed_ttl=7200)
    assert schedule.success_interval(f, S, http_hint=9000) == 600


def test_fixed_interval_is_never_below_the_floor() -> None:
    assert schedule.success_interval(feed(interval=10), S, http_hint=None) == 300


def test_later_hint_wins() -> None:
    f = feed(publish_rate=48, feed_ttl=3600)
    assert schedule.success_interval(f, S, http_hint=None) == 3600
    assert schedule.success_interval(f, S, http_hint=7200) == 7200
    assert schedule.success_interval(feed(publish_rate=48, feed_ttl=60), S, http_hint=None) == 1800


def test_hints_are_capped_by_the_ceiling() -> None:
    assert schedule.success_interval(feed(feed_ttl=10 * 86_400), S, http_hint=None) == 86_400


def test_max_age_is_read_from_cache_control() -> None:
    headers = {"Cache-Control": "public, max-age=3600"}
    assert schedule.http_freshness(headers, now=NOW) == 3600


def test_expires_is_measured_from_the_server_date() -> None:
    headers = {
        "Date": "Tue, 14 Nov 2023 22:13:20 GMT",
        "Expires": "Tue, 14 Nov 2023 23:13:20 GMT",
    }
    assert schedule.http_freshness(headers, now=NOW + 999) == pytest.approx(3600)


def test_max_age_wins_over_expires() -> None:
    headers = {"Cache-Control": "max-age=60", "Expires": "Tue, 14 Nov 2023 23:13:20 GMT"}
    assert schedule.http_freshness(headers, now=NOW) == 60


def test_no_hint_without_headers() -> None:
    assert schedule.http_freshness({}, now=NOW) is None
    assert schedule.http_freshness({"Expires": "0"}, now=NOW) is None


def test_jitter_only_delays() -> None:
    rng = random.Random(3)
    values = [schedule.with_jitter(1000, rng) for _ in range(200)]
    assert min(values) >= 1000
    assert max(values) <= 1100
    assert len({round(v) for v in values}) > 50  # feeds do not stay aligned


def test_backoff_doubles_with_jitter() -> None:
    rng = random.Random(5)
    for n in range(1, 6):
        ceiling = 300 * 2 ** (n - 1)
        wait = schedule.error_backoff(n, S, rng)
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_is_capped_and_never_stops() -> None:
    rng = random.Random(7)
    wait = schedule.error_backoff(500, S, rng)
    assert 43_200 <= wait <= 86_400


def test_retry_after_extends_the_error_wait() -> None:
    rng = random.Random(1)
    at = schedule.next_error_poll(1, S, now=NOW, retry_after=5000, rng=rng)
    assert at == NOW + 5000


def test_deferred_poll_waits_for_the_host() -> None:
    at = schedule.next_deferred_poll(now=NOW, retry_after=600, rng=random.Random(2))
    assert NOW + 600 <= at <= NOW + 630
