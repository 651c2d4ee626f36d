"""`feedpipe status` on a real redis-server."""

from __future__ import annotations

import io

import pytest
from redis.asyncio import Redis
from rich.console import Console

from services.cli.status import render, snapshot
from shared.outputs import OutputKind, OutputRegistry, OutputSpec
from shared.pipeline import streams

pytestmark = pytest.mark.integration


def shown(redis_snapshot) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(render(redis_snapshot, None))
    return buffer.getvalue()


async def test_status_lists_every_stage_with_the_deliverer(redis: Redis) -> None:
    text = shown(await snapshot(redis))
    for stage in ("parser", "deduplicator", "indexer", "deliverer"):
        assert stage in text


async def test_status_shows_each_output_with_its_backlog_and_state(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output = await registry.add(OutputSpec(kind=OutputKind.WEBHOOK, url="https://hooks.example/in"))
    await redis.xadd(streams.delivery_queue(output.output_id), {"x": "1"})
    await registry.set_enabled(output.output_id, False, reason="HTTP 410 (Gone)")
    text = shown(await snapshot(redis))
    assert f"output {output.output_id} webhook https://hooks.example/in" in text
    assert "disabled (HTTP 410 (Gone)), lag 1" in text
