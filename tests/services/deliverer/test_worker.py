"""One output's worker against a local webhook receiver and a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.cli import dlq
from services.deliverer.worker import Ended, OutputWorker, decode_attempts, encode_attempts
from shared.outputs import Output, OutputRegistry, open_transport
from shared.pipeline import streams
from shared.settings import Settings
from tests.services.deliverer.helpers import add_webhook, enqueue, quick_settings
from tests.shared.outputs.samples import committed
from tests.support.webhooks import Answer, WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "worker-secret"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secret=SECRET.encode()) as started:
        yield started


def make_worker(
    redis: Redis, output: Output, settings: Settings, consumer: str = "d1"
) -> OutputWorker:
    return OutputWorker(
        output,
        redis=redis,
        registry=OutputRegistry(redis),
        transport=open_transport(output, settings),
        settings=settings,
        consumer=consumer,
    )


async def read(worker: OutputWorker) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return await worker._read()


async def deliver_queued(worker: OutputWorker) -> Ended | None:
    """Read what is queued and hand it to the worker once."""
    try:
        return await worker.handle(await read(worker))
    finally:
        await worker.transport.aclose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def queue_state(redis: Redis, output: Output) -> tuple[int, int]:
    queue = streams.delivery_queue(output.output_id)
    pending = await redis.xpending(queue, "deliverer")
    return int(await redis.xlen(queue)), int(pending["pending"])


async def webhook_to(redis: Redis, receiver: WebhookReceiver) -> Output:
    return await add_webhook(redis, receiver.url, secret=SECRET)


async def test_queued_events_arrive_and_leave_the_queue(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(n) for n in range(1, 4)])
    before = sample("feedpipe_deliveries_total", output=output.output_id, result="ok")

    assert await deliver_queued(make_worker(redis, output, quick_settings())) is None

    assert receiver.keys == ["art1:1", "art2:1", "art3:1"]
    assert await queue_state(redis, output) == (0, 0)
    state = await OutputRegistry(redis).get(output.output_id)
    assert state is not None
    assert state.delivered == 3
    assert sample("feedpipe_deliveries_total", output=output.output_id, result="ok") == before + 3
    assert sample("feedpipe_delivery_latency_seconds_count", output=output.output_id) >= 3


async def test_a_failing_receiver_gets_the_batch_again_until_it_accepts(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1), committed(2)])
    receiver.script.extend([Answer(503), Answer(500)])

    await deliver_queued(make_worker(redis, output, quick_settings()))

    assert receiver.answered == {503: 1, 500: 1, 200: 1}
    assert receiver.keys == ["art1:1", "art2:1"]
    ids = {r.body["delivery_id"] for r in receiver.accepted}
    assert len(ids) == 1
    state = await OutputRegistry(redis).get(output.output_id)
    assert state is not None
    assert (state.failures, state.last_error) == (0, "HTTP 500")
    assert await redis.hlen(streams.delivery_attempts_key(output.output_id)) == 0


async def test_after_the_last_attempt_the_batch_is_dead_lettered_with_the_error(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1), committed(2)])
    receiver.failing = 500

    await deliver_queued(make_worker(redis, output, quick_settings(delivery_attempts=3)))

    assert receiver.requests == 3
    assert await queue_state(redis, output) == (0, 0)
    letters: Any = await redis.xrange(streams.dlq_stream("deliverer"))
    assert len(letters) == 2
    fields = {k.decode(): v.decode() for k, v in letters[0][1].items()}
    assert fields["stream"] == streams.delivery_queue(output.output_id)
    assert fields["deliveries"] == "3"
    assert f"output {output.output_id} (http://127.0.0.1:{receiver.port})" in fields["error"]
    assert fields["error"].endswith("HTTP 500 after 3 attempts")
    assert json.loads(fields["payload"])["article_id"] == "art1"
    state = await OutputRegistry(redis).get(output.output_id)
    assert state is not None
    assert state.dead_lettered == 2


async def test_dead_letters_replay_onto_the_queue_of_their_output(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1)])
    receiver.failing = 500
    await deliver_queued(make_worker(redis, output, quick_settings(delivery_attempts=1)))
    receiver.failing = None

    assert (await dlq.replay(redis, "deliverer", None)).replayed == 1
    assert await redis.xlen(streams.COMMITTED) == 0
    await deliver_queued(make_worker(redis, output, quick_settings()))

    assert receiver.keys == ["art1:1"]
    assert await redis.xlen(streams.dlq_stream("deliverer")) == 0


async def test_dead_letters_of_a_removed_output_stay_in_the_dlq(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1)])
    receiver.failing = 500
    await deliver_queued(make_worker(redis, output, quick_settings(delivery_attempts=1)))
    await OutputRegistry(redis).remove(output.output_id)

    done = await dlq.replay(redis, "deliverer", None)

    assert (done.replayed, done.kept) == (0, 1)
    assert await redis.exists(streams.delivery_queue(output.output_id)) == 0


async def test_a_410_disables_the_output_and_keeps_its_events_queued(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1), committed(2)])
    receiver.script.append(Answer(410))

    assert await deliver_queued(make_worker(redis, output, quick_settings())) is Ended.GONE

    state = await OutputRegistry(redis).get(output.output_id)
    assert state is not None
    assert not state.enabled
    assert state.disabled_reason is not None
    assert state.disabled_reason.startswith("HTTP 410 (Gone) from http://127.0.0.1:")
    assert await queue_state(redis, output) == (2, 2)
    assert receiver.requests == 1


async def test_429s_do_not_count_towards_the_attempts(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1)])
    receiver.script.extend(Answer(429, {"Retry-After": "0"}) for _ in range(5))

    await deliver_queued(make_worker(redis, output, quick_settings(delivery_attempts=2)))

    assert receiver.answered == {429: 5, 200: 1}
    assert receiver.keys == ["art1:1"]
    assert await redis.xlen(streams.dlq_stream("deliverer")) == 0


async def test_entries_of_a_dead_deliverer_are_reclaimed_with_their_attempt_count(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    queue = streams.delivery_queue(output.output_id)
    [entry] = await enqueue(redis, output, [committed(1)])
    await redis.xreadgroup("deliverer", "dead", {queue: ">"})  # taken, then its process died
    await redis.hset(
        streams.delivery_attempts_key(output.output_id), entry, encode_attempts(2, "HTTP 502")
    )
    receiver.failing = 500
    worker = make_worker(redis, output, quick_settings(delivery_attempts=3, reclaim_idle_ms=100))
    await asyncio.sleep(0.15)

    await deliver_queued(worker)

    assert receiver.requests == 1  # the third attempt; then the limit
    letters: Any = await redis.xrange(streams.dlq_stream("deliverer"))
    assert letters[0][1][b"entry_id"] == entry


async def test_entries_a_worker_is_retrying_are_not_reclaimed_by_another(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(1)])
    receiver.failing = 503
    settings = quick_settings(
        reclaim_idle_ms=300, delivery_backoff=5.0, delivery_max_backoff=5.0, delivery_attempts=5
    )
    worker = make_worker(redis, output, settings)
    task = asyncio.create_task(worker.run())
    while receiver.requests < 1:
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # three reclaim idle times while it waits to retry

    claimed: Any = await redis.xautoclaim(
        streams.delivery_queue(output.output_id), "deliverer", "other", min_idle_time=300
    )
    worker.stop.set()
    assert await asyncio.wait_for(task, 5) is Ended.STOPPED

    assert claimed[1] == []
    assert await queue_state(redis, output) == (1, 1)


async def test_large_batches_are_split_into_bodies_within_the_size_limit(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await enqueue(redis, output, [committed(n) for n in range(10)])

    await deliver_queued(make_worker(redis, output, quick_settings(delivery_max_body_bytes=2048)))

    assert len(receiver.accepted) > 1
    assert sorted(receiver.keys) == sorted(f"art{n}:1" for n in range(10))


async def test_an_entry_that_is_not_a_committed_event_is_dead_lettered_at_once(
    redis: Redis, receiver: WebhookReceiver
) -> None:
    output = await webhook_to(redis, receiver)
    await redis.xadd(streams.delivery_queue(output.output_id), {streams.DATA_FIELD: b"{oops"})
    await enqueue(redis, output, [committed(1)])

    await deliver_queued(make_worker(redis, output, quick_settings()))

    assert receiver.keys == ["art1:1"]
    letters: Any = await redis.xrange(streams.dlq_stream("deliverer"))
    assert letters[0][1][b"error"].startswith(b"schema violation")


def test_attempt_records_read_back() -> None:
    assert decode_attempts(encode_attempts(3, "HTTP 500: x y")) == (3, "HTTP 500: x y")
    assert decode_attempts(None) == (0, "")
