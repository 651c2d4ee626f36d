"""`feedpipe dlq` on a real redis-server."""

from __future__ import annotations

import io

import pytest
from redis.asyncio import Redis
from rich.console import Console

from services.cli import dlq
from shared.pipeline import streams

pytestmark = pytest.mark.integration


async def add_letter(redis: Redis, payload: bytes = b'{"x": 1}') -> bytes:
    return bytes(
        await redis.xadd(
            streams.dlq_stream("parser"),
            {
                "stage": "parser",
                "error": "schema violation: x",
                "deliveries": "1",
                "payload": payload,
                "entry_id": "1-0",
                "stream": streams.FETCHED,
                "failed_at": "2026-11-28T00:00:00Z",
            },
        )
    )


async def test_replay_moves_the_payload_back_to_the_input_stream(redis: Redis) -> None:
    await add_letter(redis, b'{"a": 1}')
    await add_letter(redis, b'{"b": 2}')

    assert (await dlq.replay(redis, "parser", None)).replayed == 2

    entries = await redis.xrange(streams.FETCHED)
    assert [e[1][streams.DATA_FIELD.encode()] for e in entries] == [b'{"a": 1}', b'{"b": 2}']
    assert await redis.xlen(streams.dlq_stream("parser")) == 0


async def test_replay_of_one_entry_leaves_the_others(redis: Redis) -> None:
    first = await add_letter(redis)
    await add_letter(redis)

    assert (await dlq.replay(redis, "parser", first.decode())).replayed == 1

    assert await redis.xlen(streams.dlq_stream("parser")) == 1


async def test_purge_deletes_all_letters_of_a_stage(redis: Redis) -> None:
    await add_letter(redis)
    assert await dlq.purge(redis, "parser") == 1
    assert await redis.exists(streams.dlq_stream("parser")) == 0


async def test_list_shows_stage_and_error(redis: Redis) -> None:
    await add_letter(redis)
    buffer = io.StringIO()
    await dlq.list_letters(redis, Console(file=buffer, width=200), "parser", 10, False)
    assert "schema violation: x" in buffer.getvalue()


async def test_unknown_stage_is_refused(redis: Redis) -> None:
    with pytest.raises(SystemExit, match="unknown stage"):
        await dlq.purge(redis, "nope")
