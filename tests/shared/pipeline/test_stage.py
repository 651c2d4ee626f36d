"""StreamStage on a real redis-server: ack after effect, DLQ, retries, trimming."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from shared.pipeline import stages, streams
from shared.pipeline.events import FeedFetched
from shared.pipeline.stage import ItemResult, Output, PoisonError, StreamStage, trim_stream
from shared.settings import Settings

pytestmark = pytest.mark.integration


def fetched(n: int) -> FeedFetched:
    return FeedFetched(
        feed_id=f"f{n}",
        feed_url=f"https://example.org/{n}.xml",
        final_url=f"https://example.org/{n}.xml",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        body=b"<rss/>",
    )


async def add(redis: Redis, payload: bytes) -> bytes:
    return bytes(await redis.xadd(streams.FETCHED, {streams.DATA_FIELD: payload}))


async def read_batch(
    redis: Redis, consumer: str = "c1"
) -> tuple[list[bytes], list[dict[bytes, bytes]]]:
    resp = await redis.xreadgroup(stages.PARSER.group, consumer, {streams.FETCHED: ">"}, count=100)
    entries = resp[0][1] if resp else []
    return [e[0] for e in entries], [e[1] for e in entries]


@pytest.fixture
async def group(redis: Redis) -> None:
    await redis.xgroup_create(streams.FETCHED, stages.PARSER.group, id="0", mkstream=True)


def make_stage(redis: Redis, handler, **overrides) -> StreamStage[FeedFetched]:  # type: ignore[no-untyped-def]
    return StreamStage(
        stages.PARSER,
        redis=redis,
        settings=Settings(**overrides),
        handler=handler,
    )


async def echo(events: Sequence[FeedFetched]) -> list[ItemResult]:
    return [ItemResult(outputs=[Output(streams.PARSED, e)]) for e in events]


async def test_outputs_are_published_and_inputs_acked(redis: Redis, group: None) -> None:
    for n in range(3):
        await add(redis, fetched(n).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    await make_stage(redis, echo).handle_entries(ids, datas, reclaimed=False)

    assert await redis.xlen(streams.PARSED) == 3
    pending = await redis.xpending(streams.FETCHED, stages.PARSER.group)
    assert pending["pending"] == 0


async def test_schema_violation_goes_to_dead_letters_with_the_error(
    redis: Redis, group: None
) -> None:
    await add(redis, b'{"feed_id": 1}')
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    await make_stage(redis, echo).handle_entries(ids, datas, reclaimed=False)

    dead = await redis.xrange(streams.dlq_stream("parser"))
    assert len(dead) == 1
    fields = dead[0][1]
    assert b"schema violation" in fields[b"error"]
    assert fields[b"payload"] == b'{"feed_id": 1}'
    assert fields[b"stage"] == b"parser"
    assert await redis.xlen(streams.PARSED) == 1
    assert (await redis.xpending(streams.FETCHED, stages.PARSER.group))["pending"] == 0


async def test_failed_item_stays_pending_while_others_pass(redis: Redis, group: None) -> None:
    for n in range(3):
        await add(redis, fetched(n).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    async def fail_second(events: Sequence[FeedFetched]) -> list[ItemResult]:
        return [
            ItemResult(error=RuntimeError("boom"))
            if e.feed_id == "f1"
            else ItemResult(outputs=[Output(streams.PARSED, e)])
            for e in events
        ]

    await make_stage(redis, fail_second).handle_entries(ids, datas, reclaimed=False)

    pending = await redis.xpending_range(streams.FETCHED, stages.PARSER.group, "-", "+", 10)
    assert [p["message_id"] for p in pending] == [ids[1]]
    assert await redis.xlen(streams.PARSED) == 2


async def test_entry_is_dead_lettered_after_max_deliveries(redis: Redis, group: None) -> None:
    await add(redis, fetched(7).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    async def always_fail(events: Sequence[FeedFetched]) -> list[ItemResult]:
        return [ItemResult(error=RuntimeError("database is down")) for _ in events]

    stage = make_stage(redis, always_fail, max_deliveries=2)
    await stage.handle_entries(ids, datas, reclaimed=False)
    for _ in range(3):  # each reclaim is one more delivery
        claimed = await redis.xautoclaim(
            streams.FETCHED, stages.PARSER.group, "c2", min_idle_time=0, start_id="0-0"
        )
        entries = claimed[1]
        if not entries:
            break
        await stage.handle_entries([e[0] for e in entries], [e[1] for e in entries], reclaimed=True)

    dead = await redis.xrange(streams.dlq_stream("parser"))
    assert len(dead) == 1
    assert b"database is down" in dead[0][1][b"error"]
    assert int(dead[0][1][b"deliveries"]) == 3
    assert (await redis.xpending(streams.FETCHED, stages.PARSER.group))["pending"] == 0


async def test_poison_error_is_dead_lettered_at_once(redis: Redis, group: None) -> None:
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    async def poison(events: Sequence[FeedFetched]) -> list[ItemResult]:
        return [ItemResult(error=PoisonError("cannot ever work")) for _ in events]

    await make_stage(redis, poison).handle_entries(ids, datas, reclaimed=False)

    dead = await redis.xrange(streams.dlq_stream("parser"))
    assert b"cannot ever work" in dead[0][1][b"error"]


async def test_oversized_output_is_refused_at_publish(redis: Redis, group: None) -> None:
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    async def huge(events: Sequence[FeedFetched]) -> list[ItemResult]:
        big = events[0].model_copy(update={"body": b"x" * 5000})
        return [ItemResult(outputs=[Output(streams.PARSED, big)])]

    await make_stage(redis, huge, max_event_bytes=2048).handle_entries(ids, datas, reclaimed=False)

    assert await redis.xlen(streams.PARSED) == 0
    dead = await redis.xrange(streams.dlq_stream("parser"))
    assert b"exceeds the 2048-byte event limit" in dead[0][1][b"error"]


async def test_tx_ops_commit_with_the_ack(redis: Redis, group: None) -> None:
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis)

    async def mark(events: Sequence[FeedFetched]) -> list[ItemResult]:
        return [ItemResult(tx_ops=[lambda p: p.set("marker", "1")]) for _ in events]

    await make_stage(redis, mark).handle_entries(ids, datas, reclaimed=False)

    assert await redis.get("marker") == b"1"


async def test_trim_never_drops_unread_entries(redis: Redis, group: None) -> None:
    for n in range(30):
        await add(redis, fetched(n).model_dump_json().encode())
    resp = await redis.xreadgroup(stages.PARSER.group, "c1", {streams.FETCHED: ">"}, count=10)
    read_ids = [e[0] for e in resp[0][1]]
    await redis.xack(streams.FETCHED, stages.PARSER.group, *read_ids)

    await trim_stream(redis, streams.FETCHED, keep=5)

    remaining = await redis.xrange(streams.FETCHED)
    remaining_ids = {e[0] for e in remaining}
    unread = await redis.xreadgroup(stages.PARSER.group, "c1", {streams.FETCHED: ">"}, count=100)
    assert len(unread[0][1]) == 20
    assert len(remaining_ids) >= 20


async def test_stage_runs_under_faststream_subscriber(redis_url: str, redis: Redis) -> None:
    from shared.pipeline.service import ServiceRuntime

    settings = Settings(redis_url=redis_url, batch_timeout_ms=50, reclaim_idle_ms=500)
    runtime = ServiceRuntime(stages.PARSER, settings)
    runtime.consume(echo)
    await runtime.broker.start()
    try:
        for n in range(5):
            await add(redis, fetched(n).model_dump_json().encode())
        await add(redis, b"not json at all")
        for _ in range(100):
            if (
                await redis.xlen(streams.PARSED) == 5
                and await redis.xlen(streams.dlq_stream("parser")) == 1
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await runtime.broker.stop()
    assert await redis.xlen(streams.PARSED) == 5
    assert await redis.xlen(streams.dlq_stream("parser")) == 1
    assert (await redis.xpending(streams.FETCHED, stages.PARSER.group))["pending"] == 0


async def test_a_batch_in_hand_is_not_reclaimed_while_it_takes_longer_than_the_idle_time(
    redis: Redis, group: None
) -> None:
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis, consumer="slow")
    handled: list[str] = []
    release = asyncio.Event()

    async def slow(events: Sequence[FeedFetched]) -> list[ItemResult]:
        handled.extend(e.feed_id for e in events)
        await release.wait()
        return [ItemResult() for _ in events]

    stage = StreamStage(
        stages.PARSER,
        redis=redis,
        settings=Settings(reclaim_idle_ms=300),
        handler=slow,
        consumer="slow",
    )
    work = asyncio.create_task(stage.handle_entries(ids, datas, reclaimed=False))
    stolen: list[bytes] = []
    for _ in range(12):  # well past the idle time: a reclaim reader tries every 100 ms
        await asyncio.sleep(0.1)
        # (with JUSTID redis-py returns the claimed ids alone)
        stolen.extend(
            await redis.xautoclaim(
                streams.FETCHED, stages.PARSER.group, "thief", min_idle_time=300, justid=True
            )
        )
    release.set()
    await work

    assert stolen == []
    assert handled == ["f1"]
    assert (await redis.xpending(streams.FETCHED, stages.PARSER.group))["pending"] == 0


async def test_without_a_consumer_name_an_entry_in_hand_can_be_reclaimed(
    redis: Redis, group: None
) -> None:
    await add(redis, fetched(1).model_dump_json().encode())
    ids, datas = await read_batch(redis, consumer="slow")
    release = asyncio.Event()

    async def slow(events: Sequence[FeedFetched]) -> list[ItemResult]:
        await release.wait()
        return [ItemResult() for _ in events]

    stage = make_stage(redis, slow, reclaim_idle_ms=300)
    work = asyncio.create_task(stage.handle_entries(ids, datas, reclaimed=False))
    await asyncio.sleep(0.6)
    claimed = await redis.xautoclaim(
        streams.FETCHED, stages.PARSER.group, "thief", min_idle_time=300, justid=True
    )
    release.set()
    await work
    assert claimed == ids
