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


def make_router(redis: Redis, **settings: Any) -> Router:
    return Router(redis=redis, registry=OutputRegistry(redis), settings=quick_settings(**settings))


async def route(
    redis: Redis, events: list[ArticleCommitted], router: Router | None = None, **settings: Any
) -> None:
    """Commit ``events`` to the committed stream and run one batch of the stage
    over them (with ``router``, or a new one)."""
    await ensure_groups(redis)
    for event in events:
        await redis.xadd(streams.COMMITTED, {streams.DATA_FIELD: event.model_dump_json()})
    s = quick_settings(**settings)
    stage = StreamStage(
        stages.DELIVERER, redis=redis, settings=s, handler=router or make_router(redis, **settings)
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
    router = make_router(redis)
    await route(redis, [committed(1)], router)
    late = await add_webhook(redis, "http://127.0.0.1:1/late")
    await route(redis, [committed(2)], router)
    assert await queued(redis, late.output_id) == ["art2:1"]


async def test_an_output_removed_after_the_router_loaded_it_gets_no_queue_back(
    redis: Redis,
) -> None:
    gone = await add_webhook(redis, "http://127.0.0.1:1/gone")
    router = make_router(redis)
    assert [o.output_id for o in await router.outputs()] == [gone.output_id]
    await OutputRegistry(redis).remove(gone.output_id)
    await redis.decr(streams.OUTPUTS_VERSION)  # as if the removal came after the version check

    await route(redis, [committed(1)], router)

    assert await redis.exists(streams.delivery_queue(gone.output_id)) == 0
    assert (await redis.xpending(streams.COMMITTED, "deliverer"))["pending"] == 0
