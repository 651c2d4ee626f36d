"""At-least-once stream stage with dead letters, on top of FastStream subscribers.

FastStream 0.7 leaves a failed entry pending forever and has no dead-letter
stream, so each consuming stage routes its batches through :class:`StreamStage`:

* entries are decoded here, so a schema violation is dead-lettered at once with
  the validation error instead of failing the whole batch;
* the handler returns one :class:`ItemResult` per event; outputs of the
  successful items, the XACK of their entries and any dead letters are written
  in **one MULTI/EXEC**, so a hop is either fully done or not at all;
* a failed item stays pending with its error remembered; the reclaim
  subscriber (XAUTOCLAIM after ``reclaim_idle_ms``) retries it, and after
  ``max_deliveries`` it goes to ``feedpipe:dlq:<stage>`` with that error;
* while a batch is being handled its entries are kept fresh (XCLAIM JUSTID by
  their own consumer), so a batch that takes longer than ``reclaim_idle_ms``
  (a parser waiting on slow article pages) is not reclaimed and handled a
  second time, concurrently, by any consumer's reclaim reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import metrics
from shared.logging import get_logger
from shared.pipeline import streams
from shared.pipeline.events import DeadLetter
from shared.pipeline.stages import Stage
from shared.settings import Settings

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)

ERRORS_TTL_S = 7 * 24 * 3600


class PoisonError(Exception):
    """An item that can never succeed: dead-letter it now instead of retrying."""


class EventTooLargeError(PoisonError):
    pass


@dataclass(frozen=True, slots=True)
class Output:
    stream: str
    event: BaseModel


TxOp = Callable[[Any], None]


@dataclass(slots=True)
class ItemResult:
    """What handling one event produced.

    ``outputs`` are published and ``tx_ops`` (callables that queue commands on
    the redis pipeline, e.g. ``lambda p: p.set(key, v, ex=ttl)``) are run in the
    same MULTI/EXEC as the entry's XACK, so state recorded about an event
    (fingerprints, "seen" markers) can never get ahead of the event itself.
    """

    outputs: list[Output] = field(default_factory=list)
    error: BaseException | None = None
    tx_ops: list[TxOp] = field(default_factory=list)


BatchHandler = Callable[[Sequence[T]], Awaitable[Sequence[ItemResult]]]


def encode_event(event: BaseModel, *, max_bytes: int) -> bytes:
    data = event.model_dump_json().encode()
    if len(data) > max_bytes:
        raise EventTooLargeError(
            f"{type(event).__name__} of {len(data)} bytes exceeds the {max_bytes}-byte event limit"
        )
    return data


def add_event(pipe: Any, stream: str, payload: bytes) -> None:
    pipe.xadd(stream, {streams.DATA_FIELD: payload})


def add_dead_letter(pipe: Any, dlq: str, letter: DeadLetter) -> None:
    """Queue the XADD of a dead letter (one field per :class:`DeadLetter` field)."""
    pipe.xadd(dlq, {k: str(v) for k, v in letter.model_dump(mode="json").items()})


class StreamStage(Generic[T]):
    """Runs ``handler`` over the entries of the stage's input stream (``declared``
    in :mod:`shared.pipeline.stages`) with the contract above."""

    def __init__(
        self,
        declared: Stage[T],
        *,
        redis: Redis,
        settings: Settings,
        handler: BatchHandler[T],
        consumer: str | None = None,
    ) -> None:
        """``consumer``: the name this process reads the group with; when given,
        entries in hand are kept from being reclaimed (see the module doc)."""
        self.declared = declared
        self.consumer = consumer
        self.stage = declared.name
        self.stream = declared.input.name
        self.group = declared.group
        self.model = declared.input.model
        self.redis = redis
        self.settings = settings
        self.handler = handler
        self.errors_key = streams.errors_key(self.stage)
        self.dlq = streams.dlq_stream(self.stage)

    async def handle_entries(
        self, ids: Sequence[bytes], datas: Sequence[dict[bytes, bytes]], *, reclaimed: bool
    ) -> None:
        started = time.perf_counter()
        dead: list[DeadLetter] = []
        deliveries: dict[bytes, int] = {}
        last_errors: dict[bytes, str] = {}
        if reclaimed:
            deliveries, last_errors = await self._delivery_info(ids)

        todo_ids: list[bytes] = []
        events: list[T] = []
        for entry_id, data in zip(ids, datas, strict=True):
            payload = data.get(streams.DATA_FIELD.encode(), b"")
            count = deliveries.get(entry_id, 1)
            if count > self.settings.max_deliveries:
                reason = last_errors.get(entry_id, "unknown error")
                dead.append(
                    self._dead(
                        entry_id, payload, f"gave up after {count - 1} deliveries: {reason}", count
                    )
                )
                continue
            try:
                events.append(self.model.model_validate_json(payload))
            except ValidationError as exc:
                dead.append(self._dead(entry_id, payload, f"schema violation: {exc}", count))
                continue
            todo_ids.append(entry_id)

        results: Sequence[ItemResult]
        try:
            results = await self._handle_kept_fresh(todo_ids, events) if events else []
        except Exception as exc:  # the whole batch failed: leave it pending for retry
            log.exception("Batch handler failed", stage=self.stage, entries=len(events))
            results = [ItemResult(error=exc) for _ in events]

        acks: list[bytes] = []
        outputs: list[tuple[str, bytes]] = []
        tx_ops: list[TxOp] = []
        failed: dict[bytes, str] = {}
        for entry_id, event, result in zip(todo_ids, events, results, strict=True):
            encoded: list[tuple[str, bytes]] = []
            error = result.error
            if error is None:
                try:
                    encoded = [
                        (o.stream, encode_event(o.event, max_bytes=self.settings.max_event_bytes))
                        for o in result.outputs
                    ]
                except EventTooLargeError as exc:
                    error = exc
            if error is None:
                acks.append(entry_id)
                outputs.extend(encoded)
                tx_ops.extend(result.tx_ops)
            elif isinstance(error, PoisonError):
                payload = event.model_dump_json().encode()
                count = deliveries.get(entry_id, 1)
                dead.append(self._dead(entry_id, payload, str(error), count))
            else:
                failed[entry_id] = f"{type(error).__name__}: {error}"

        await self._commit(outputs=outputs, acks=acks, dead=dead, failed=failed, tx_ops=tx_ops)
        metrics.EVENTS_PROCESSED.labels(self.stage).inc(len(acks))
        metrics.EVENTS_PUBLISHED.labels(self.stage).inc(len(outputs))
        if dead:
            metrics.DEAD_LETTERS.labels(self.stage).inc(len(dead))
            for letter in dead:
                log.warning(
                    "Entry dead-lettered",
                    stage=self.stage,
                    entry_id=letter.entry_id,
                    deliveries=letter.deliveries,
                    error=letter.error[:500],
                )
        if failed:
            metrics.HANDLER_ERRORS.labels(self.stage).inc(len(failed))
            for entry_id, message in failed.items():
                log.warning(
                    "Entry failed, will be retried",
                    stage=self.stage,
                    entry_id=entry_id.decode(),
                    error=message[:500],
                )
        metrics.BATCH_SECONDS.labels(self.stage).observe(time.perf_counter() - started)

    async def _handle_kept_fresh(
        self, ids: Sequence[bytes], events: Sequence[T]
    ) -> Sequence[ItemResult]:
        """Run the handler while resetting the idle time of its entries.

        XAUTOCLAIM takes any pending entry idle for ``reclaim_idle_ms``, whoever
        holds it, this process's own reclaim reader included. Every third of
        that time the entries are claimed again by their own consumer with
        JUSTID (which leaves the delivery count alone). MIN-IDLE-TIME makes the
        claim a no-op for an entry another consumer has just taken over, so a
        process that stalled past the idle time does not snatch it back.
        """
        if self.consumer is None:
            return await self.handler(events)
        every = max(self.settings.reclaim_idle_ms / 3000, 0.05)
        keep = asyncio.create_task(self._keep_fresh(list(ids), every))
        try:
            return await self.handler(events)
        finally:
            keep.cancel()

    async def _keep_fresh(self, ids: list[bytes], every: float) -> None:
        assert self.consumer is not None
        min_idle = int(every * 1000 / 2)
        claim: list[Any] = list(ids)  # (redis-py's stubs want a list of a union)
        while True:
            await asyncio.sleep(every)
            try:
                await self.redis.xclaim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=min_idle,
                    message_ids=claim,
                    justid=True,
                )
            except RedisError as exc:  # the batch's own commit will fail or succeed alone
                log.warning("Keeping entries in hand failed", stage=self.stage, error=str(exc))

    def _dead(self, entry_id: bytes, payload: bytes, error: str, deliveries: int) -> DeadLetter:
        return DeadLetter(
            stage=self.stage,
            stream=self.stream,
            entry_id=entry_id.decode(),
            error=error,
            deliveries=deliveries,
            payload=payload.decode("utf-8", errors="replace"),
        )

    async def _delivery_info(
        self, ids: Sequence[bytes]
    ) -> tuple[dict[bytes, int], dict[bytes, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        pipe.hmget(self.errors_key, list(ids))
        *pending, errors = await pipe.execute()
        counts: dict[bytes, int] = {}
        for entry_id, rows in zip(ids, pending, strict=True):
            if rows:
                counts[entry_id] = int(rows[0]["times_delivered"])
        last = {
            entry_id: err.decode("utf-8", "replace")
            for entry_id, err in zip(ids, errors, strict=True)
            if err is not None
        }
        return counts, last

    async def _commit(
        self,
        *,
        outputs: list[tuple[str, bytes]],
        acks: list[bytes],
        dead: list[DeadLetter],
        failed: dict[bytes, str],
        tx_ops: list[TxOp],
    ) -> None:
        done = acks + [letter.entry_id.encode() for letter in dead]
        if not (outputs or done or failed):
            return
        pipe = self.redis.pipeline(transaction=True)
        for stream, payload in outputs:
            add_event(pipe, stream, payload)
        for op in tx_ops:
            op(pipe)
        for letter in dead:
            add_dead_letter(pipe, self.dlq, letter)
        if acks:
            pipe.hincrby(streams.STATS, f"{self.stage}:processed", len(acks))
        if done:
            pipe.xack(self.stream, self.group, *done)
            pipe.hdel(self.errors_key, *done)
        if failed:
            pipe.hset(self.errors_key, mapping=failed)  # type: ignore[arg-type]
            pipe.expire(self.errors_key, ERRORS_TTL_S)
        await pipe.execute()


async def stream_safe_trim_id(redis: Redis, stream: str) -> bytes | None:
    """The id below which every consumer group has read and acknowledged everything.

    Trimming with ``MINID`` at this id never drops an entry that some group has
    not yet read or still holds pending (unlike a blind MAXLEN).
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except RedisError:
        return None
    if not groups:
        return None
    candidates: list[tuple[int, int]] = []
    for group in groups:
        name = group["name"]
        last = group["last-delivered-id"]
        pending = await redis.xpending(stream, name)
        first = pending.get("min") if pending and pending.get("pending") else None
        point = first or last
        if isinstance(point, str):
            point = point.encode()
        ms, seq = point.split(b"-")
        candidates.append((int(ms), int(seq)))
    ms, seq = min(candidates)
    return f"{ms}-{seq}".encode()


async def trim_stream(redis: Redis, stream: str, *, keep: int) -> int:
    """Once ``stream`` holds more than ``keep`` entries, drop those every group
    has read and acknowledged (never an unread or pending one)."""
    length = int(await redis.xlen(stream))
    if length <= keep:
        return 0
    safe = await stream_safe_trim_id(redis, stream)
    if safe is None:
        return 0
    removed = await redis.xtrim(stream, minid=safe, approximate=True)
    return int(removed)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
