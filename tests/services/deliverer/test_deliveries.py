"""A deliverer process's workers: one per enabled output, independent of each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.deliverer.deliveries import Deliveries
from shared.outputs import OutputRegistry
from tests.services.deliverer.helpers import add_webhook, enqueue, quick_settings
from tests.shared.outputs.samples import committed
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.integration


@pytest.fixture
async def deliveries(redis: Redis) -> AsyncIterator[Deliveries]:
    made = Deliveries(
        redis=redis, registry=OutputRegistry(redis), settings=quick_settings(), consumer="d1"
    )
    yield made
    await made.stop_all()


async def test_a_worker_runs_for_each_enabled_output_only(
    redis: Redis, deliveries: Deliveries
) -> None:
    registry = OutputRegistry(redis)
    one = await add_webhook(redis, "http://127.0.0.1:1/one")
    two = await add_webhook(redis, "http://127.0.0.1:1/two")
    await registry.set_enabled(two.output_id, False, reason="test")

    await deliveries.sync([o for o in await registry.all() if o.enabled])
    assert deliveries.running == {one.output_id}

    await registry.remove(one.output_id)
    await registry.set_enabled(two.output_id, True)
    await deliveries.sync([o for o in await registry.all() if o.enabled])
    assert deliveries.running == {two.output_id}


async def test_a_slow_receiver_does_not_hold_up_another_output(
    redis: Redis, deliveries: Deliveries
) -> None:
    async with WebhookReceiver() as slow, WebhookReceiver() as fast:
        slow.gate = asyncio.Event()  # answers nothing until opened
        slow_output = await add_webhook(redis, slow.url)
        fast_output = await add_webhook(redis, fast.url)
        events = [committed(n) for n in range(1, 21)]
        await enqueue(redis, slow_output, events[:10])
        await enqueue(redis, fast_output, events[:10])
        stop = asyncio.Event()
        running = asyncio.create_task(deliveries.run(stop))
        try:
            await fast.wait_for(10)
            await enqueue(redis, fast_output, events[10:])
            await enqueue(redis, slow_output, events[10:])
            await fast.wait_for(20)
            # Every item reached the fast receiver while the slow one still held its first batch.
            assert slow.waiting == 1
            assert slow.keys == []
            slow.gate.set()
            await slow.wait_for(20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 20)


async def test_lag_gauges_follow_the_queues_and_leave_with_their_output(
    redis: Redis, deliveries: Deliveries
) -> None:
    output = await add_webhook(redis, "http://127.0.0.1:1/lag")
    await enqueue(redis, output, [committed(1), committed(2)])

    await deliveries.observe()
    labels = {"output": output.output_id}
    assert REGISTRY.get_sample_value("feedpipe_delivery_lag", labels) == 2
    assert REGISTRY.get_sample_value("feedpipe_delivery_lag_seconds", labels) is not None

    await OutputRegistry(redis).remove(output.output_id)
    await deliveries.observe()
    assert REGISTRY.get_sample_value("feedpipe_delivery_lag", labels) is None
