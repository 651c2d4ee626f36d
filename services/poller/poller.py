"""The polling loop: claim due feeds, fetch them, record what happened.

Reads top to bottom like the refresh of one feed: claim -> fetch -> plan
(pure, :mod:`services.poller.outcome`) -> write. Writes of many feeds are
queued and sent to Redis in one pipeline (state, schedule and the published
``FeedFetched`` events), which is what keeps a 304-heavy poll cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from services.poller.outcome import PollPlan, Verdict, plan_poll
from shared import metrics
from shared.feeds import Feed, FeedRegistry
from shared.fetch.fetcher import FetchOutcome, FetchResult, SafeFetcher
from shared.logging import get_logger
from shared.pipeline import stages, streams
from shared.pipeline.events import FeedFetched
from shared.pipeline.streaminfo import LAG_COUNT_CAP, group_info
from shared.settings import Settings

log = get_logger(__name__)

IDLE_MAX_S = 1.0  # longest sleep when nothing is due (new feeds are seen this fast)
IDLE_MIN_S = 0.02
BACKPRESSURE_CHECK_S = 2.0
FEED_GAUGE_EVERY_S = 30.0
WRITE_BATCH = 500


_FETCH_COUNTERS = {o: metrics.FEED_FETCHES.labels(o.value) for o in FetchOutcome}
_QUIET = frozenset({Verdict.NOT_MODIFIED, Verdict.UNCHANGED})


def _changed(feed: Feed, fields: dict[str, Any]) -> dict[str, Any]:
    """Only the fields whose value differs from the feed as read at claim time
    (a 304 then rewrites three fields, not ten)."""
    return {k: v for k, v in fields.items() if getattr(feed, k, _MISSING) != v}


_MISSING = object()


@dataclass(slots=True)
class _Write:
    feed: Feed
    lease_until: float
    plan: PollPlan
    event: FeedFetched | None


class Poller:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        *,
        fetcher: SafeFetcher | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        name: str = "poller",
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.registry = FeedRegistry(redis)
        self.fetcher = fetcher or SafeFetcher(settings, redis=redis)
        self.rng = rng or random.Random()
        self.clock = clock
        self.name = name
        self._inflight: set[asyncio.Task[None]] = set()
        self._writes: asyncio.Queue[_Write | None] = asyncio.Queue()
        self._paused = False
        self._throttle = 1.0  # share of poll_concurrency allowed by backpressure
        self._next_backpressure_check = 0.0
        self._next_gauges = 0.0
        self.polls = 0  # feeds fully handled by this poller (for tests and benchmarks)
        self._debug = settings.log_level.upper() == "DEBUG"
        self._lag_measurable: int | None = None  # cap of lag counting, 0 when exact
        self.claim_size = stages.POLLER.batch_size(settings)  # most feeds claimed at once

    # --- main loop ------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        writer = asyncio.create_task(self._writer())
        try:
            while not stop.is_set():
                await self._observe()
                free = self._capacity() - len(self._inflight)
                if self._inflight and free < self._low_water():
                    # Busy: claim again once a useful batch of slots is free,
                    # not one feed per finished fetch.
                    await self._wait(stop, at_most=IDLE_MAX_S)
                    continue
                wanted = min(free, self.claim_size)
                claimed = await self._claim_and_start()
                if claimed and claimed >= wanted:
                    await asyncio.sleep(0)  # more may be due: let fetches start, claim again
                    continue
                await self._idle(stop)  # nothing (more) due now
        finally:
            await self._drain(writer)

    def _low_water(self) -> int:
        return max(min(self.claim_size, self._capacity() // 4), 1)

    async def run_until_idle(self) -> None:
        """Poll everything due now, then return (tests, one-shot runs)."""
        writer = asyncio.create_task(self._writer())
        try:
            while True:
                claimed = await self._claim_and_start()
                if claimed == 0 and not self._inflight:
                    break
                if self._inflight:
                    await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._drain(writer)

    def _capacity(self) -> int:
        return max(int(self.settings.poll_concurrency * self._throttle), 0)

    async def _claim_and_start(self) -> int:
        free = self._capacity() - len(self._inflight)
        if free <= 0 or self._paused:
            return 0
        now = self.clock()
        claimed = await self.registry.claim_due_feeds(
            now=now, limit=min(free, self.claim_size), lease=self.settings.lease_seconds
        )
        for feed, lease_until in claimed:
            task = asyncio.create_task(self._poll(feed, lease_until))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(claimed)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Sleep until the next feed is due (at most IDLE_MAX_S), a fetch
        finishes, or stop."""
        next_due = await self.registry.next_due_at()
        delay = IDLE_MAX_S if next_due is None else next_due - self.clock()
        await self._wait(stop, at_most=min(max(delay, IDLE_MIN_S), IDLE_MAX_S))

    async def _wait(self, stop: asyncio.Event, *, at_most: float) -> None:
        waiters: set[asyncio.Future[Any]] = set(self._inflight)
        stopper = asyncio.ensure_future(stop.wait())
        waiters.add(stopper)
        try:
            await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()

    # --- one feed ---------------------------------------------------------------------
    async def _poll(self, feed: Feed, lease_until: float) -> None:
        with structlog.contextvars.bound_contextvars(feed_id=feed.feed_id, feed_url=feed.url):
            try:
                if not feed.enabled:
                    # Disabled feeds are not scheduled; this entry is stale.
                    await self.redis.zrem(streams.SCHEDULE, feed.feed_id)
                    return
                result = await self.fetcher.fetch(
                    feed.url, etag=feed.etag, last_modified=feed.last_modified
                )
                now = self.clock()
                plan = plan_poll(feed, result, settings=self.settings, now=now, rng=self.rng)
                self._observe_fetch(result)
                event = self._event(feed, result, now) if plan.publish else None
                self._log(feed, result, plan)
                self._writes.put_nowait(_Write(feed, lease_until, plan, event))
            except Exception:
                # The lease runs out and another poll picks the feed up.
                log.exception("Feed poll crashed")

    @staticmethod
    def _event(feed: Feed, result: FetchResult, now: float) -> FeedFetched:
        return FeedFetched(
            feed_id=feed.feed_id,
            feed_url=feed.url,
            final_url=result.final_url,
            fetched_at=datetime.fromtimestamp(now, UTC),
            content_type=result.content_type,
            body=result.body,
            full_content=feed.full_content,
        )

    @staticmethod
    def _observe_fetch(result: FetchResult) -> None:
        _FETCH_COUNTERS[result.result].inc()
        metrics.FEED_FETCH_SECONDS.observe(result.elapsed)

    def _log(self, feed: Feed, result: FetchResult, plan: PollPlan) -> None:
        if plan.verdict in _QUIET and not self._debug and not plan.new_url:
            return  # a 304 is the common case: logged only at DEBUG
        fields = {
            "result": result.result.value,
            "verdict": plan.verdict.value,
            "status": result.status,
            "elapsed": round(result.elapsed, 4),
            "next_poll_at": datetime.fromtimestamp(plan.next_poll_at, UTC).isoformat(),
        }
        if plan.verdict in (Verdict.FAILED, Verdict.GONE):
            log.warning(plan.message, error=plan.fields.get("last_error"), **fields)
        elif plan.verdict is Verdict.DEFERRED:
            log.info(plan.message, reason=result.error, **fields)
        elif plan.verdict is Verdict.CHANGED:
            log.info(plan.message, bytes=len(result.body), **fields)
        else:
            log.debug(plan.message, **fields)
        if plan.new_url:
            log.info("Feed moved permanently", new_url=plan.new_url)

    # --- writes ------------------------------------------------------------------------
    async def _writer(self) -> None:
        """Write queued results in batches until the ``None`` sentinel."""
        done = False
        while not done:
            batch: list[_Write] = []
            item = await self._writes.get()
            while True:
                if item is None:
                    done = True
                    break
                batch.append(item)
                if len(batch) >= WRITE_BATCH or self._writes.empty():
                    break
                item = self._writes.get_nowait()
            if batch:
                await self._flush(batch)

    async def _flush(self, batch: list[_Write]) -> None:
        payloads = [w.event.model_dump_json() if w.event is not None else None for w in batch]
        for attempt in range(5):
            # Rebuilt on every attempt: a failed execute() empties the pipeline.
            # A retry after a partial write may publish an event twice; the
            # stream is at-least-once and the deduplicator absorbs it.
            pipe = self.redis.pipeline(transaction=False)
            for w, payload in zip(batch, payloads, strict=True):
                await self._queue(pipe, w, payload)
            try:
                await pipe.execute()
                break
            except RedisError as exc:
                log.warning(
                    "Writing poll results failed, retrying", error=str(exc), feeds=len(batch)
                )
                await asyncio.sleep(0.2 * 2**attempt)
        else:
            log.error("Poll results lost; their leases will expire", feeds=len(batch))
        self.polls += len(batch)

    async def _queue(self, pipe: Pipeline, w: _Write, payload: str | None) -> None:
        keep_parse_error = w.plan.verdict in _QUIET
        # Unchanged fields are skipped; a status that does change is written by
        # the script only if the parser has not marked the feed broken since.
        fields = _changed(w.feed, w.plan.fields)
        if w.plan.new_url:
            await self.registry.queue_change_url(pipe, w.feed.feed_id, w.feed.url, w.plan.new_url)
        if w.plan.disable:
            await self.registry.queue_update(pipe, w.feed.feed_id, fields)
            await self.registry.queue_unschedule(pipe, w.feed.feed_id)
            return
        await self.registry.queue_poll_result(
            pipe,
            w.feed.feed_id,
            fields,
            lease_until=w.lease_until,
            next_poll_at=w.plan.next_poll_at,
            publish=payload,
            keep_parse_error=keep_parse_error,
        )

    async def _drain(self, writer: asyncio.Task[None]) -> None:
        """Finish fetches in flight and write their results before returning."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.settings.fetch_timeout + 1)
        for task in list(self._inflight):
            task.cancel()  # leases expire; another poll takes the feeds
        self._writes.put_nowait(None)
        try:
            await asyncio.wait_for(writer, timeout=10)
        except TimeoutError:
            log.warning("Poll results still unwritten at shutdown; their leases will expire")
        with contextlib.suppress(asyncio.CancelledError):
            await writer

    # --- observation -------------------------------------------------------------------
    async def _observe(self) -> None:
        now = self.clock()
        if now >= self._next_backpressure_check:
            self._next_backpressure_check = now + BACKPRESSURE_CHECK_S
            await self._check_backpressure()
            late = await self.registry.oldest_due(now)
            metrics.SCHEDULE_LAG.set(max(late or 0.0, 0.0))
        if now >= self._next_gauges:
            self._next_gauges = now + FEED_GAUGE_EVERY_S
            counts = await self.registry.state_counts(
                failing_after=metrics.FEED_FAILING_AFTER_ERRORS
            )
            metrics.FEEDS_FAILING.set(counts.pop("failing"))
            for state, count in counts.items():
                metrics.FEEDS.labels(state).set(count)

    async def _check_backpressure(self) -> None:
        """Slow down when the parser falls behind: fewer claims from half the
        threshold, none at the threshold."""
        threshold = await self._lag_threshold()
        parser = stages.PARSER
        lag = (await group_info(self.redis, parser.input.name, parser.group)).lag
        paused = lag >= threshold
        half = threshold / 2
        throttle = 1.0 if lag <= half else max(1.0 - (lag - half) / half, 0.0)
        if paused != self._paused:
            if paused:
                log.warning(
                    "Parser lag above threshold, pausing polls", lag=lag, threshold=threshold
                )
            else:
                log.info("Parser lag back under threshold, resuming polls", lag=lag)
        elif throttle < 1.0 and self._throttle == 1.0:
            log.info("Parser lag rising, polling fewer feeds at once", lag=lag, threshold=threshold)
        self._paused = paused
        self._throttle = max(throttle, 0.05) if not paused else 0.0

    async def _lag_threshold(self) -> int:
        """The configured threshold, or what can be measured: Redis before 7.0
        has no group lag, and counting unread entries stops at LAG_COUNT_CAP."""
        if self._lag_measurable is None:
            info = await self.redis.info("server")
            major = str(info.get("redis_version", "7")).split(".", 1)[0]
            self._lag_measurable = LAG_COUNT_CAP if major.isdigit() and int(major) < 7 else 0
        limit = self.settings.lag_threshold
        return min(limit, self._lag_measurable) if self._lag_measurable else limit
