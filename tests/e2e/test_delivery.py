"""Delivery end to end: `feedpipe up` with two deliverers, committed events
written to the committed stream as the indexer writes them, and real receivers:
a local webhook endpoint that verifies every signature, the local RabbitMQ and
NATS JetStream. A deliverer is SIGKILLed mid-run and the webhook answers 500
for a while; afterwards each receiver holds every article, exactly once after
dropping repeats by idempotency key, and nothing is left queued or
dead-lettered. A receiver that answers nothing does not hold up another."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis as redis_sync
from redis.asyncio import Redis

from shared.pipeline import streams
from shared.pipeline.events import Article, ArticleCommitted, CommitKind
from tests.support.brokers import NatsServer, RabbitServer, unique
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import Pipeline, wait_until
from tests.support.webhooks import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SECRET = "e2e-signing-secret"
ARTICLES = 600
ROUNDS = 20
LANGS = ("en", "fr", "de")
# Quick retries that never run out during the test's outage (nothing may be
# dead-lettered), and small batches so that a kill lands mid-batch.
DELIVERY_ENV = {
    "FEEDPIPE_DELIVERY_BACKOFF": "0.1",
    "FEEDPIPE_DELIVERY_MAX_BACKOFF": "1",
    "FEEDPIPE_DELIVERY_ATTEMPTS": "1000",
    "FEEDPIPE_DELIVERY_BATCH_SIZE": "20",
}


def event(n: int, *, version: int = 1) -> ArticleCommitted:
    now = datetime.now(UTC)
    article = Article(
        article_id=f"e2e{n:05d}",
        feed_id=f"feed{n % 7}",
        feed_url=f"http://127.0.0.1/feed{n % 7}.xml",
        url=f"http://127.0.0.1/articles/{n}",
        title=f"Article {n}",
        language=LANGS[n % len(LANGS)],
        text=f"The text of article {n}. " * 40,
        fetched_at=now,
    )
    return ArticleCommitted(
        kind=CommitKind.NEW if version == 1 else CommitKind.UPDATE,
        cursor=f"{n:012d}",
        article_id=article.article_id,
        cluster_id=article.article_id,
        version=version,
        committed_at=now,
        article=article,
    )


async def commit(redis: Redis, events: list[ArticleCommitted]) -> None:
    """What the indexer does after a commit: one entry per event on the committed stream."""
    pipe = redis.pipeline(transaction=True)
    for item in events:
        pipe.xadd(streams.COMMITTED, {streams.DATA_FIELD: item.model_dump_json()})
    await pipe.execute()


def drained(redis_url: str, output_ids: list[str]) -> bool:
    """Nothing left to route or deliver: the router's group and every output's
    queue hold no unread or pending entry."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        info = next(g for g in client.xinfo_groups(streams.COMMITTED) if g["name"] == b"deliverer")
        if info["pending"] or info.get("lag"):
            return False
        return all(client.xlen(streams.delivery_queue(o)) == 0 for o in output_ids)
    finally:
        client.close()


async def add_output(pipe: Pipeline, *args: str) -> str:
    out = await pipe.acli("outputs", "add", *args)
    return out.split("output ")[1].split()[0]


async def wait_deliverers(pipe: Pipeline, count: int) -> None:
    async def running() -> bool:
        return len(pipe.workers("deliverer")) == count

    assert await wait_until(running, timeout=120), pipe.log_tail()


async def test_every_article_reaches_every_output_once_through_a_kill_and_an_outage(
    start_pipeline: PipelineFactory,
    redis_url: str,
    redis: Redis,
    rabbitmq: RabbitServer,
    nats_js: NatsServer,
) -> None:
    exchange = unique("feedpipe-e2e")
    tap = await rabbitmq.tap(exchange)
    stream = nats_js.owns(unique("feedpipe_e2e"))
    async with WebhookReceiver(secret=SECRET.encode()) as hook:
        pipe = start_pipeline(scale={"deliverer": 2}, env=DELIVERY_ENV)
        outputs = [
            await add_output(pipe, "webhook", hook.url, "--secret", SECRET),
            await add_output(pipe, "rabbitmq", rabbitmq.url, "--exchange", exchange),
            await add_output(
                pipe, "nats", nats_js.url, "--subject", f"{stream}.{{lang}}", "--stream", stream
            ),
        ]
        await wait_deliverers(pipe, 2)
        await asyncio.sleep(2)  # the deliverers have loaded the outputs (they look every second)

        per_round = ARTICLES // ROUNDS
        expected = {f"e2e{n:05d}:1" for n in range(ARTICLES)}
        victim = 0
        for r in range(ROUNDS):
            await commit(redis, [event(n) for n in range(r * per_round, (r + 1) * per_round)])
            if r == ROUNDS // 4:
                hook.failing = 500  # the receiver breaks for a while...
            if r == ROUNDS // 3:
                victim = pipe.kill_worker("deliverer")  # ...and a deliverer dies mid-run
            if r == ROUNDS // 2:
                hook.failing = None
            await asyncio.sleep(0.3)
        await asyncio.to_thread(pipe.wait_for_worker, "deliverer", not_pid=victim, timeout=120)

        assert await hook.wait_for(ARTICLES, timeout=240) == expected
        messages = await tap.read(ARTICLES, timeout=240)

        async def nats_complete() -> bool:
            return len(await nats_js.messages(stream)) >= ARTICLES

        assert await wait_until(nats_complete, timeout=240), pipe.log_tail()

        async def all_drained() -> bool:
            return drained(redis_url, outputs)

        assert await wait_until(all_drained, timeout=120), pipe.log_tail()

    # Webhook: every signature verified, every article after dropping repeats.
    assert hook.bad_signatures == 0
    assert hook.answered[500] > 0
    assert hook.unique_keys() == expected
    # RabbitMQ: message_id is the idempotency key.
    assert {m.message_id for m in messages} == expected
    # NATS: Nats-Msg-Id is the idempotency key (JetStream already dropped the
    # repeats it saw within its duplicate window).
    stored = await nats_js.messages(stream)
    assert {m.headers["Nats-Msg-Id"] for m in stored} == expected
    assert {m.subject for m in stored} == {f"{stream}.{lang}" for lang in LANGS}
    # Nothing gave up.
    assert await redis.xlen(streams.dlq_stream("deliverer")) == 0
    listed: list[dict[str, Any]] = json.loads(await pipe.acli("outputs", "list", "--json"))
    assert all(row["enabled"] and row["lag"] == 0 for row in listed)


async def test_a_receiver_that_answers_nothing_does_not_delay_another_output(
    start_pipeline: PipelineFactory, redis: Redis
) -> None:
    async with WebhookReceiver() as stuck, WebhookReceiver() as healthy:
        stuck.gate = asyncio.Event()  # holds every request until opened
        pipe = start_pipeline(env={**DELIVERY_ENV, "FEEDPIPE_DELIVERY_TIMEOUT": "300"})
        await add_output(pipe, "webhook", stuck.url)
        await add_output(pipe, "webhook", healthy.url)
        await wait_deliverers(pipe, 1)
        await asyncio.sleep(2)

        for r in range(5):
            await commit(redis, [event(n) for n in range(r * 40, (r + 1) * 40)])
            await asyncio.sleep(0.2)

        # Every article reaches the healthy receiver while the stuck one still
        # holds the first request it got.
        await healthy.wait_for(200, timeout=120)
        assert stuck.waiting == 1
        assert stuck.keys == []
        stuck.gate.set()
        await stuck.wait_for(200, timeout=120)
