"""One output's worker: its queue to its receiver, at least once.

A loop per output and deliverer process (each blocks on its own queue, so a
slow or failing receiver only ever holds up itself):

1. read up to FEEDPIPE_DELIVERY_BATCH_SIZE entries of the output's queue
   through the ``deliverer`` group (entries idle in a dead deliverer for
   FEEDPIPE_RECLAIM_IDLE_MS are reclaimed first, with their attempt counts);
2. send them as one batch (webhooks: as many bodies as
   FEEDPIPE_DELIVERY_MAX_BODY_BYTES needs) and retry a failed batch with
   tenacity (:mod:`shared.outputs.attempt` says which answers are retried and
   how), keeping its entries claimed meanwhile (``hold.lua``) so no other
   deliverer sends them at the same time;
3. on success XACK and XDEL the entries (the queue holds only what is still
   to deliver); after FEEDPIPE_DELIVERY_ATTEMPTS failures dead-letter them to
   ``feedpipe:dlq:deliverer`` with the last error (``feedpipe dlq replay
   deliverer`` puts them back on this output's queue); on 410 disable the
   output and leave its entries queued.

This loop is written by hand on redis-py rather than as FastStream subscribers
because the set of queues changes at run time with the outputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, wait_exponential_jitter

from shared import metrics
from shared.logging import get_logger
from shared.outputs import Delivery, Output, OutputKind, OutputRegistry, Transport
from shared.outputs.attempt import Attempt, Verdict
from shared.outputs.payload import encode_item, split_by_size
from shared.outputs.registry import delivery_group, ensure_queue_group
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleCommitted, DeadLetter
from shared.pipeline.redisconn import as_text
from shared.pipeline.stage import add_dead_letter, sleep_or_stop
from shared.settings import Settings

log = get_logger(__name__)

HOLD_LUA = (Path(__file__).parent / "hold.lua").read_text()
READ_BLOCK_MS = 1000  # how long a read waits for new entries (the stop check's period)
# Wait after a 429 without a usable Retry-After (capped by FEEDPIPE_DELIVERY_MAX_BACKOFF).
THROTTLED_WAIT_S = 60.0
# Room left in a webhook body for its envelope (delivery id, output id).
ENVELOPE_BYTES = 200


class Stopping(Exception):
    """The worker was told to stop while a batch waited for its next attempt."""


class Ended(Enum):
    GONE = "gone"  # the receiver answered 410: the output is disabled
    STOPPED = "stopped"


@dataclass(slots=True)
class Entry:
    entry_id: bytes
    payload: bytes
    event: ArticleCommitted
    item: bytes
    failures: int = 0
    last_error: str = ""


@dataclass(slots=True)
class _Progress:
    failures: int
    last_error: str
    attempts: list[Attempt] = field(default_factory=list)


def encode_attempts(failures: int, error: str) -> str:
    return f"{failures} {error}"


def decode_attempts(value: bytes | str | None) -> tuple[int, str]:
    if not value:
        return 0, ""
    count, _, error = as_text(value).partition(" ")
    return (int(count), error) if count.isdigit() else (0, "")


class _Wait:
    """Exponential backoff with jitter (tenacity's), or what a 429 asked for."""

    def __init__(self, settings: Settings) -> None:
        self.cap = settings.delivery_max_backoff
        self.backoff = wait_exponential_jitter(
            multiplier=settings.delivery_backoff,
            max=settings.delivery_max_backoff,
            jitter=settings.delivery_backoff,
        )

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        last = outcome.result() if outcome is not None and not outcome.failed else None
        if isinstance(last, Attempt) and last.verdict is Verdict.THROTTLED:
            asked = last.retry_after if last.retry_after is not None else THROTTLED_WAIT_S
            return min(asked, self.cap)
        return float(self.backoff(state))


class OutputWorker:
    def __init__(
        self,
        output: Output,
        *,
        redis: Redis,
        registry: OutputRegistry,
        transport: Transport,
        settings: Settings,
        consumer: str,
    ) -> None:
        self.output = output
        self.output_id = output.output_id
        self.redis = redis
        self.registry = registry
        self.transport = transport
        self.settings = settings
        self.consumer = consumer
        self.queue = streams.delivery_queue(output.output_id)
        self.attempts_key = streams.delivery_attempts_key(output.output_id)
        self.group = delivery_group()
        self.dlq = streams.dlq_stream(stages.DELIVERER.name)
        self.stop = asyncio.Event()
        self._hold = redis.register_script(HOLD_LUA)
        self._reclaim_every = max(settings.reclaim_idle_ms / 4000, 0.1)
        self._hold_every = max(settings.reclaim_idle_ms / 3000, 0.05)
        self._last_reclaim = 0.0
        self._wait = _Wait(settings)
        self._log = log.bind(output_id=output.output_id, target=output.target)
        # Every result's series exists from the start (at 0), so rates and the
        # "keeps failing" alert see an output before its first failure.
        for result in metrics.DELIVERY_RESULTS:
            metrics.DELIVERIES.labels(output.output_id, result)

    # --- the loop -----------------------------------------------------------------
    async def run(self) -> Ended:
        await ensure_queue_group(self.redis, self.output_id)
        try:
            while not self.stop.is_set():
                entries = await self._read()
                if entries and await self.handle(entries) is Ended.GONE:
                    return Ended.GONE
        finally:
            with contextlib.suppress(Exception):
                await self.transport.aclose()
        return Ended.STOPPED

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        batch = self.settings.delivery_batch_size
        now = time.monotonic()
        if now - self._last_reclaim >= self._reclaim_every:
            self._last_reclaim = now
            claimed: Any = await self.redis.xautoclaim(
                self.queue,
                self.group,
                self.consumer,
                min_idle_time=self.settings.reclaim_idle_ms,
                start_id="0-0",
                count=batch,
            )
            found = [(i, f) for i, f in claimed[1] if f]
            if found:
                return found
        reply: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.queue: ">"}, count=batch, block=READ_BLOCK_MS
        )
        return [(i, f) for _stream, entries in reply or () for i, f in entries if f]

    # --- one read batch -------------------------------------------------------------
    async def handle(self, raw: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> Ended | None:
        """Deliver a read batch; Ended.GONE when the output was disabled by a 410,
        Ended.STOPPED when told to stop (what is left stays pending)."""
        ids = [entry_id for entry_id, _ in raw]
        previous = await self.redis.hmget(self.attempts_key, ids)
        entries: list[Entry] = []
        poison: list[DeadLetter] = []
        for (entry_id, fields), before in zip(raw, previous, strict=True):
            payload = fields.get(streams.DATA_FIELD.encode(), b"")
            try:
                event = ArticleCommitted.model_validate_json(payload)
            except ValidationError as exc:
                poison.append(self._letter(entry_id, payload, f"schema violation: {exc}", 1))
                continue
            failures, error = decode_attempts(before)
            entries.append(Entry(entry_id, payload, event, encode_item(event), failures, error))
        if poison:
            await self._dead_letter(poison)
        for chunk in self._chunks(entries):
            if self.stop.is_set():
                return Ended.STOPPED
            ended = await self._deliver_chunk(chunk)
            if ended is not None:
                return ended
        return None

    def _chunks(self, entries: list[Entry]) -> list[list[Entry]]:
        if self.output.kind is not OutputKind.WEBHOOK or not entries:
            return [entries] if entries else []
        runs = split_by_size(
            [len(e.item) for e in entries],
            max_bytes=self.settings.delivery_max_body_bytes - ENVELOPE_BYTES,
        )
        return [[entries[i] for i in run] for run in runs]

    async def _deliver_chunk(self, chunk: list[Entry]) -> Ended | None:
        progress = _Progress(
            failures=max(e.failures for e in chunk),
            last_error=next((e.last_error for e in chunk if e.last_error), ""),
        )
        if progress.failures >= self.settings.delivery_attempts:  # exhausted before a crash
            await self._give_up(chunk, progress)
            return None
        delivery = Delivery(events=[e.event for e in chunk], items=[e.item for e in chunk])
        try:
            async with self._holding([e.entry_id for e in chunk]):
                attempt = await self._with_retries(delivery, chunk, progress)
        except Stopping:
            return Ended.STOPPED
        if attempt.verdict is Verdict.OK:
            await self._acknowledge(chunk)
            return None
        if attempt.verdict is Verdict.GONE:
            await self._gone(chunk, attempt)
            return Ended.GONE
        await self._give_up(chunk, progress)
        return None

    async def _with_retries(
        self, delivery: Delivery, chunk: list[Entry], progress: _Progress
    ) -> Attempt:
        async def once() -> Attempt:
            attempt = await self.transport.send(delivery)
            progress.attempts.append(attempt)
            await self._after(attempt, chunk, progress)
            return attempt

        retrying = AsyncRetrying(
            retry=retry_if_result(lambda a: isinstance(a, Attempt) and a.retryable),
            stop=lambda _state: progress.failures >= self.settings.delivery_attempts,
            wait=self._wait,
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        result: Attempt = await retrying(once)
        return result

    async def _after(self, attempt: Attempt, chunk: list[Entry], progress: _Progress) -> None:
        """Count and record an attempt (before any wait for the next one)."""
        count = len(chunk)
        if attempt.verdict is Verdict.ERROR:
            progress.failures += 1
            progress.last_error = attempt.detail
            metrics.DELIVERIES.labels(self.output_id, "error").inc(count)
            record = encode_attempts(progress.failures, attempt.detail)
            await self.redis.hset(self.attempts_key, mapping={e.entry_id: record for e in chunk})
            await self.registry.record_failure(self.output_id, attempt.detail, at=datetime.now(UTC))
            self._log.warning(
                "Delivery attempt failed, will retry",
                error=attempt.detail,
                failures=progress.failures,
                attempts=self.settings.delivery_attempts,
                items=count,
            )
        elif attempt.verdict is Verdict.THROTTLED:
            metrics.DELIVERIES.labels(self.output_id, "throttled").inc(count)
            self._log.info(
                "Receiver asked to slow down", retry_after=attempt.retry_after, items=count
            )

    async def _sleep(self, seconds: float) -> None:
        if await sleep_or_stop(self.stop, float(seconds)):
            raise Stopping

    @contextlib.asynccontextmanager
    async def _holding(self, ids: list[bytes]) -> AsyncIterator[None]:
        """Keep ``ids`` claimed by this consumer while the block runs."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self._hold_every)
                await self._hold(keys=[self.queue], args=[self.group, self.consumer, *ids])

        task = asyncio.create_task(keep())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- outcomes -------------------------------------------------------------------
    async def _acknowledge(self, chunk: list[Entry]) -> None:
        ids = [e.entry_id for e in chunk]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.queue, self.group, *ids)
        pipe.xdel(self.queue, *ids)
        pipe.hdel(self.attempts_key, *ids)
        await pipe.execute()
        now = datetime.now(UTC)
        latency = metrics.DELIVERY_LATENCY.labels(self.output_id)
        for entry in chunk:
            latency.observe(max((now - entry.event.committed_at).total_seconds(), 0.0))
        metrics.DELIVERIES.labels(self.output_id, "ok").inc(len(chunk))
        await self.registry.record_delivered(self.output_id, len(chunk), at=now)

    async def _give_up(self, chunk: list[Entry], progress: _Progress) -> None:
        error = (
            f"output {self.output_id} ({self.output.target}): {progress.last_error or 'failed'}"
            f" after {progress.failures} attempts"
        )
        letters = [self._letter(e.entry_id, e.payload, error, progress.failures) for e in chunk]
        await self._dead_letter(letters)
        metrics.DELIVERIES.labels(self.output_id, "dead_letter").inc(len(chunk))
        await self.registry.record_dead_lettered(self.output_id, len(chunk))
        self._log.error("Delivery given up, items dead-lettered", error=error, items=len(chunk))

    async def _gone(self, chunk: list[Entry], attempt: Attempt) -> None:
        reason = (
            f"{attempt.detail} (Gone) from {self.output.target} at"
            f" {datetime.now(UTC).isoformat(timespec='seconds')}"
        )
        await self.registry.set_enabled(self.output_id, False, reason=reason)
        metrics.DELIVERIES.labels(self.output_id, "gone").inc(len(chunk))
        self._log.warning("Receiver is gone, output disabled", reason=reason)

    def _letter(self, entry_id: bytes, payload: bytes, error: str, deliveries: int) -> DeadLetter:
        return DeadLetter(
            stage=stages.DELIVERER.name,
            stream=self.queue,
            entry_id=entry_id.decode(),
            error=error,
            deliveries=deliveries,
            payload=payload.decode("utf-8", errors="replace"),
        )

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        ids = [letter.entry_id for letter in letters]
        pipe = self.redis.pipeline(transaction=True)
        for letter in letters:
            add_dead_letter(pipe, self.dlq, letter)
        pipe.xack(self.queue, self.group, *ids)
        pipe.xdel(self.queue, *ids)
        pipe.hdel(self.attempts_key, *ids)
        await pipe.execute()
        metrics.DEAD_LETTERS.labels(stages.DELIVERER.name).inc(len(letters))
