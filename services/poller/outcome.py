"""What a fetch result means for a feed: new state, next poll, what to publish.

Pure: the poller loop performs the plan (Redis writes, stream publish).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import xxhash

from services.poller import schedule
from shared.feeds import Feed, FeedStatus
from shared.fetch.fetcher import FetchOutcome, FetchResult
from shared.settings import Settings


class Verdict(StrEnum):
    CHANGED = "changed"  # new document: publish it
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200 with the same body hash as last time
    GONE = "gone"  # 410: disable
    FAILED = "failed"
    DEFERRED = "deferred"  # not attempted (host politeness)


@dataclass(slots=True)
class PollPlan:
    verdict: Verdict
    next_poll_at: float
    fields: dict[str, Any] = field(default_factory=dict)
    publish: bool = False
    new_url: str | None = None
    disable: bool = False
    message: str = ""


def body_hash(body: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(body)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FAILURE_STATUS = {
    FetchOutcome.HTTP_ERROR: FeedStatus.HTTP_ERROR,
    FetchOutcome.NETWORK_ERROR: FeedStatus.NETWORK_ERROR,
    FetchOutcome.TOO_LARGE: FeedStatus.TOO_LARGE,
    FetchOutcome.NOT_A_FEED: FeedStatus.NOT_A_FEED,
    FetchOutcome.REFUSED: FeedStatus.REFUSED,
}


def plan_poll(
    feed: Feed, result: FetchResult, *, settings: Settings, now: float, rng: random.Random
) -> PollPlan:
    if result.result is FetchOutcome.DEFERRED:
        next_at = schedule.next_deferred_poll(now=now, retry_after=result.retry_after, rng=rng)
        return PollPlan(
            Verdict.DEFERRED,
            next_at,
            fields={"next_poll_at": next_at},
            message="Feed poll deferred: its host asked to wait",
        )
    if result.result in (FetchOutcome.OK, FetchOutcome.NOT_MODIFIED):
        return _plan_success(feed, result, settings=settings, now=now, rng=rng)
    if result.status == 410:
        return PollPlan(
            Verdict.GONE,
            now,
            fields={
                "last_status": FeedStatus.GONE,
                "last_error": "HTTP 410 Gone: the feed was removed; disabled",
                "http_status": 410,
                "enabled": False,
                "last_polled_at": now,
                "next_poll_at": None,
            },
            disable=True,
            message="Feed is gone, disabled",
        )
    return _plan_failure(feed, result, settings=settings, now=now, rng=rng)


def _plan_success(
    feed: Feed, result: FetchResult, *, settings: Settings, now: float, rng: random.Random
) -> PollPlan:
    digest = body_hash(result.body) if result.result is FetchOutcome.OK else None
    if result.result is FetchOutcome.NOT_MODIFIED:
        verdict = Verdict.NOT_MODIFIED
    elif digest == feed.body_hash:
        verdict = Verdict.UNCHANGED
    else:
        verdict = Verdict.CHANGED
    fields: dict[str, Any] = {"http_status": result.status, "last_polled_at": now}
    # A 304 may refresh the validators; keep the old ones when it does not.
    if result.etag:
        fields["etag"] = result.etag
    if result.last_modified:
        fields["last_modified"] = result.last_modified
    still_broken = feed.last_status is FeedStatus.PARSE_ERROR
    if verdict is Verdict.CHANGED:
        fields |= {
            "body_hash": digest,
            "last_status": FeedStatus.OK,
            "last_error": None,
            "error_count": 0,
            "last_ok_at": now,
            "suggested_feed": None,
        }
        if result.result is FetchOutcome.OK and not result.etag:
            fields["etag"] = None  # a stale validator would make the next 304 a lie
        if result.result is FetchOutcome.OK and not result.last_modified:
            fields["last_modified"] = None
    elif still_broken:
        # Same document the parser rejected: it is still broken, keep its error.
        pass
    else:
        fields |= {
            "last_status": FeedStatus.NOT_MODIFIED,
            "last_error": None,
            "error_count": 0,
            "last_ok_at": now,
        }
    if still_broken and verdict is not Verdict.CHANGED:
        next_at = schedule.next_error_poll(
            max(feed.error_count, 1), settings, now=now, retry_after=None, rng=rng
        )
    else:
        next_at = schedule.next_success_poll(
            feed, settings, now=now, headers=result.headers, rng=rng
        )
    fields["next_poll_at"] = next_at
    new_url = result.permanent_redirect if result.permanent_redirect != feed.url else None
    return PollPlan(
        verdict,
        next_at,
        fields=fields,
        publish=verdict is Verdict.CHANGED,
        new_url=new_url,
        message={
            Verdict.CHANGED: "Feed fetched",
            Verdict.NOT_MODIFIED: "Feed not modified",
            Verdict.UNCHANGED: "Feed unchanged",
        }[verdict],
    )


def _plan_failure(
    feed: Feed, result: FetchResult, *, settings: Settings, now: float, rng: random.Random
) -> PollPlan:
    attempts = feed.error_count + 1
    next_at = schedule.next_error_poll(
        attempts, settings, now=now, retry_after=result.retry_after, rng=rng
    )
    reason = result.error or result.result.value
    if (
        result.result is FetchOutcome.HTTP_ERROR
        and result.status is not None
        and str(result.status) not in reason
    ):
        reason = f"HTTP {result.status}: {reason}"
    error = f"{reason} (attempt {attempts}, next try at {_iso(next_at)})"
    fields: dict[str, Any] = {
        "last_status": _FAILURE_STATUS.get(result.result, FeedStatus.HTTP_ERROR),
        "last_error": error,
        "error_count": attempts,
        "http_status": result.status,
        "last_polled_at": now,
        "next_poll_at": next_at,
    }
    if result.result is FetchOutcome.NOT_A_FEED:
        fields["suggested_feed"] = result.suggested_feed
    return PollPlan(Verdict.FAILED, next_at, fields=fields, message="Feed fetch failed")
