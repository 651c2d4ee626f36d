"""ServiceRuntime against a real redis-server: outages, readiness, graceful stop."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from shared.pipeline import stages, streams
from shared.pipeline.service import ServiceRuntime, ensure_groups
from shared.settings import Settings
from tests.shared.pipeline.test_stage import add, echo, fetched
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.integration


def make_runtime(redis_url: str) -> ServiceRuntime:
    settings = Settings(redis_url=redis_url, batch_timeout_ms=50, reclaim_idle_ms=500)
    runtime = ServiceRuntime(stages.PARSER, settings)
    runtime.consume(echo)
    return runtime


async def wait_len(redis: Redis, stream: str, n: int, timeout: float = 15) -> int:
    for _ in range(int(timeout / 0.05)):
        length = int(await redis.xlen(stream))
        if length >= n:
            return length
        await asyncio.sleep(0.05)
    return int(await redis.xlen(stream))


async def test_consumer_keeps_working_after_redis_restarts(
    redis_server: RedisServer, redis_url: str
) -> None:
    runtime = make_runtime(redis_url)
    await runtime.broker.start()
    try:
        client = Redis.from_url(redis_url)
        for n in range(5):
            await add(client, fetched(n).model_dump_json().encode())
        assert await wait_len(client, streams.PARSED, 5) == 5
        await client.aclose()

        redis_server.restart()  # AOF on: the group and its offsets survive

        client = Redis.from_url(redis_url)
        for n in range(5, 10):
            await add(client, fetched(n).model_dump_json().encode())
        assert await wait_len(client, streams.PARSED, 10) == 10
        assert (await client.xpending(streams.FETCHED, stages.PARSER.group))["pending"] == 0
        await client.aclose()
    finally:
        await runtime.broker.stop()


async def test_readiness_follows_redis_availability(
    redis_server: RedisServer, redis_url: str
) -> None:
    runtime = make_runtime(redis_url)
    assert await runtime.ready() is True
    redis_server.stop()
    try:
        assert await runtime.ready() is False
    finally:
        redis_server.start()
    assert await runtime.ready() is True
    await runtime.redis.aclose()


async def test_stream_batches_reach_the_stage_without_faststream_decoding_them(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage gets the raw entries; FastStream's per-entry JSON decoding of the
    batch body is skipped (a fifth of the deduplicator's CPU, for a body nobody reads)."""
    import faststream.redis.parser.parsers as faststream_parsers

    decoded: list[object] = []
    real = faststream_parsers._decode_batch_body_item

    def spy(content: object, fmt: object) -> object:
        decoded.append(content)
        return real(content, fmt)  # type: ignore[arg-type]

    monkeypatch.setattr(faststream_parsers, "_decode_batch_body_item", spy)
    runtime = make_runtime(redis_url)
    await runtime.broker.start()
    try:
        client = Redis.from_url(redis_url)
        for n in range(3):
            await add(client, fetched(n).model_dump_json().encode())
        assert await wait_len(client, streams.PARSED, 3) == 3
        await client.aclose()
    finally:
        await runtime.broker.stop()
    assert decoded == []


async def test_every_stage_group_is_created_before_anything_is_read(redis: Redis) -> None:
    await ensure_groups(redis)
    for stage in stages.STAGES:
        groups = await redis.xinfo_groups(stage.input.name)
        assert [g["name"] for g in groups] == [stage.group.encode()], stage.name


def test_a_worker_that_reads_no_stream_cannot_consume(redis_url: str) -> None:
    runtime = ServiceRuntime(stages.POLLER, Settings(redis_url=redis_url))
    with pytest.raises(TypeError, match="poller reads no stream"):
        runtime.consume(echo)
