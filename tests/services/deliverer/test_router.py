"""The router stage: committed events to output queues, on a real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from services.deliverer.router import Router
from shared.outputs import OutputRegistry
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleCommitted
from shared.pipeline.service import ensure_groups
from shared.pipeline.stage import StreamStage
from tests.services.deliverer.helpers import add_webhook, quick_settings
from tests.shared.outputs.samples import committed

pytestmark = pytest.mark.integration


async def route(redis: Redis, events: list[ArticleCommitted], **settings: Any) -> None:
    """Commit ``events`` to the committed stream and run one router batch over them."""
    await ensure_groups(redis)
    for event in events:
        await redis.xadd(streams.COMMITTED, {streams.DATA_FIELD: event.model_dump_json()})
    s = quick_settings(**settings)
    stage = StreamStage(
        stages.DELIVERER,
        redis=redis,
        settings=s,
        handler=Router(redis=redis, registry=OutputRegistry(redis), settings=s),
    )
    reply: Any = await redis.xreadgroup(
        "deliverer", "c1", {streams.COMMITTED: ">"}, count=len(events)
    )
    ids = [i for i, _ in reply[0][1]]
    datas = [d for _, d in reply[0][1]]
    await stage.handle_entries(ids, datas, reclaimed=False)


async def queued(redis: Redis, output_id: str) -> list[str]:
    entries: Any = await redis.xrange(streams.delivery_queue(output_id))
    return [
        ArticleCommitted.model_validate_json(f[streams.DATA_FIELD.encode()]).delivery_key
        for _, f in entries
    ]


async def test_events_go_to_the_queue_of_each_output_that_wants_them(redis: Redis) -> None:
    french = await add_webhook(redis, "http://127.0.0.1:1/fr", filters=["lang=fr"])
    everything = await add_webhook(redis, "http://127.0.0.1:1/all")
    await route(redis, [committed(1, lang="fr"), committed(2, lang="en")])
    assert await queued(redis, french.output_id) == ["art1:1"]
    assert await queued(redis, everything.output_id) == ["art1:1", "art2:1"]


async def test_routed_events_are_acknowledged_on_the_committed_stream(redis: Redis) -> None:
    await add_webhook(redis, "http://127.0.0.1:1/all")
    await route(redis, [committed(1), committed(2)])
    pending = await redis.xpending(streams.COMMITTED, "deliverer")
    assert pending["pending"] == 0


async def test_without_outputs_events_are_acknowledged_and_go_nowhere(redis: Redis) -> None:
    await route(redis, [committed(1)])
    assert (await redis.xpending(streams.COMMITTED, "deliverer"))["pending"] == 0
    assert await redis.keys(f"{streams.DELIVERY_QUEUE_PREFIX}*") == []


async def test_a_disabled_output_gets_nothing(redis: Redis) -> None:
    off = await add_webhook(redis, "http://127.0.0.1:1/off")
    await OutputRegistry(redis).set_enabled(off.output_id, False, reason="test")
    await route(redis, [committed(1)])
    assert await queued(redis, off.output_id) == []


async def test_a_full_backlog_skips_events_and_records_it_on_the_output(redis: Redis) -> None:
    full = await add_webhook(redis, "http://127.0.0.1:1/full")
    other = await add_webhook(redis, "http://127.0.0.1:1/other")
    await route(redis, [committed(n) for n in range(1, 6)], delivery_max_backlog=3)
    assert await queued(redis, full.output_id) == ["art1:1", "art2:1", "art3:1"]
    assert len(await queued(redis, other.output_id)) == 3
    state = await OutputRegistry(redis).get(full.output_id)
    assert state is not None
    assert (state.skipped, state.first_skipped_cursor) == (2, "c000004")


async def test_an_output_added_later_is_seen_by_the_next_batch(redis: Redis) -> None:
    await ensure_groups(redis)
    s = quick_settings()
    router = Router(redis=redis, registry=OutputRegistry(redis), settings=s)
    assert [r.outputs for r in await router([committed(1)])] == [[]]
    late = await add_webhook(redis, "http://127.0.0.1:1/late")
    results = await router([committed(2)])
    assert [o.stream for o in results[0].outputs] == [streams.delivery_queue(late.output_id)]
