"""What each fetch result does to a feed's state (pure)."""

from __future__ import annotations

import random

from services.poller.outcome import Verdict, body_hash, plan_poll
from shared.feeds import Feed, FeedStatus
from shared.fetch.fetcher import FetchOutcome, FetchResult
from shared.settings import Settings

S = Settings(min_interval=300, default_interval=1800, max_error_backoff=86_400)
NOW = 1_700_000_000.0
URL = "https://example.org/feed"


def feed(**kw: object) -> Feed:
    return Feed(feed_id="f", url=URL, **kw)


def result(outcome: FetchOutcome, **kw: object) -> FetchResult:
    return FetchResult(url=URL, final_url=URL, result=outcome, **kw)  # type: ignore[arg-type]


def plan(f: Feed, r: FetchResult):
    return plan_poll(f, r, settings=S, now=NOW, rng=random.Random(1))


def test_new_body_is_published_and_clears_errors() -> None:
    p = plan(
        feed(error_count=3, last_error="x"), result(FetchOutcome.OK, status=200, body=b"<rss/>")
    )
    assert p.verdict is Verdict.CHANGED
    assert p.publish
    assert p.fields["last_status"] is FeedStatus.OK
    assert p.fields["last_error"] is None
    assert p.fields["error_count"] == 0
    assert p.fields["body_hash"] == body_hash(b"<rss/>")


def test_same_body_hash_is_unchanged() -> None:
    f = feed(body_hash=body_hash(b"<rss/>"))
    p = plan(f, result(FetchOutcome.OK, status=200, body=b"<rss/>"))
    assert p.verdict is Verdict.UNCHANGED
    assert not p.publish


def test_304_keeps_old_validators_when_none_are_sent() -> None:
    p = plan(feed(etag='"a"'), result(FetchOutcome.NOT_MODIFIED, status=304))
    assert p.verdict is Verdict.NOT_MODIFIED
    assert "etag" not in p.fields
    assert p.fields["last_status"] is FeedStatus.NOT_MODIFIED


def test_304_does_not_clear_a_parse_error() -> None:
    f = feed(last_status=FeedStatus.PARSE_ERROR, last_error="bad xml", error_count=2)
    p = plan(f, result(FetchOutcome.NOT_MODIFIED, status=304))
    assert "last_status" not in p.fields
    assert "last_error" not in p.fields
    assert "error_count" not in p.fields
    assert p.next_poll_at - NOW <= 600  # error backoff (attempt 2), not the normal interval


def test_changed_body_after_parse_error_is_published() -> None:
    f = feed(last_status=FeedStatus.PARSE_ERROR, last_error="bad xml", body_hash="old")
    p = plan(f, result(FetchOutcome.OK, status=200, body=b"<rss/>"))
    assert p.publish


def test_failure_counts_and_explains() -> None:
    p = plan(feed(error_count=1), result(FetchOutcome.HTTP_ERROR, status=503, error="HTTP 503"))
    assert p.verdict is Verdict.FAILED
    assert p.fields["error_count"] == 2
    assert p.fields["last_status"] is FeedStatus.HTTP_ERROR
    assert p.fields["last_error"].startswith("HTTP 503 (attempt 2, next try at 2023-11-14T")


def test_retry_after_sets_the_next_poll() -> None:
    r = result(FetchOutcome.HTTP_ERROR, status=429, error="HTTP 429", retry_after=7200.0)
    assert plan(feed(), r).next_poll_at == NOW + 7200


def test_410_disables() -> None:
    p = plan(feed(), result(FetchOutcome.HTTP_ERROR, status=410, error="HTTP 410 Gone"))
    assert p.verdict is Verdict.GONE
    assert p.disable
    assert p.fields["enabled"] is False
    assert p.fields["last_status"] is FeedStatus.GONE


def test_permanent_redirect_moves_the_feed() -> None:
    new = "https://example.org/new"
    p = plan(feed(), result(FetchOutcome.OK, status=200, body=b"x", permanent_redirect=new))
    assert p.new_url == new


def test_permanent_redirect_on_failure_does_not_move_the_feed() -> None:
    r = result(
        FetchOutcome.HTTP_ERROR, status=404, error="HTTP 404", permanent_redirect="https://x/"
    )
    assert plan(feed(), r).new_url is None


def test_not_a_feed_keeps_the_suggestion() -> None:
    r = result(FetchOutcome.NOT_A_FEED, status=200, error="html", suggested_feed="https://x/rss")
    p = plan(feed(), r)
    assert p.fields["last_status"] is FeedStatus.NOT_A_FEED
    assert p.fields["suggested_feed"] == "https://x/rss"


def test_deferred_changes_only_the_schedule() -> None:
    r = result(FetchOutcome.DEFERRED, error="host asked to wait", retry_after=900.0)
    p = plan(feed(error_count=0), r)
    assert p.verdict is Verdict.DEFERRED
    assert set(p.fields) == {"next_poll_at"}
    assert p.next_poll_at >= NOW + 900


def test_too_large_error_is_not_labelled_with_the_200() -> None:
    r = result(FetchOutcome.TOO_LARGE, status=200, error="body too large: more than 10 bytes")
    assert plan(feed(), r).fields["last_error"].startswith("body too large")
