"""The deduplicator stage on a real redis-server: PARSED entries in, UNIQUE entries out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.deduplicator.handler import make_handler
from services.deduplicator.store import DedupStore
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleParsed, ArticleUnique, UniqueKind
from shared.pipeline.stage import StreamStage
from shared.settings import Settings
from tests.services.deduplicator.samples import parsed, story, syndicated, text

pytestmark = pytest.mark.integration


@pytest.fixture
async def group(redis: Redis) -> None:
    await redis.xgroup_create(streams.PARSED, stages.DEDUPLICATOR.group, id="0", mkstream=True)


def make_stage(redis: Redis) -> StreamStage[ArticleParsed]:
    store = DedupStore(redis, window_days=14, bucket_bits=4)
    return StreamStage(
        stages.DEDUPLICATOR,
        redis=redis,
        settings=Settings(),
        handler=make_handler(store),
    )


async def add(redis: Redis, event: ArticleParsed) -> None:
    await redis.xadd(streams.PARSED, {streams.DATA_FIELD: event.model_dump_json()})


async def read(
    redis: Redis, consumer: str, count: int = 100
) -> tuple[list[bytes], list[dict[bytes, bytes]]]:
    resp: Any = await redis.xreadgroup(
        stages.DEDUPLICATOR.group, consumer, {streams.PARSED: ">"}, count=count
    )
    entries = resp[0][1] if resp else []
    return [e[0] for e in entries], [e[1] for e in entries]


async def published(redis: Redis) -> list[ArticleUnique]:
    entries: Any = await redis.xrange(streams.UNIQUE)
    return [ArticleUnique.model_validate_json(e[1][streams.DATA_FIELD.encode()]) for e in entries]


async def test_batch_yields_new_duplicate_and_update_and_skips_unchanged(
    redis: Redis, group: None
) -> None:
    original = parsed(text(story(1)), url="https://a.example.org/1")
    copy = parsed(syndicated(story(1)), url="https://b.example.org/9", feed_id="feed-2")
    repeat = ArticleParsed(article=original.article)
    update = ArticleParsed(
        article=original.article.model_copy(update={"text": text(story(1)[:-2])})
    )
    for event in (original, copy, repeat, update):
        await add(redis, event)

    await make_stage(redis).handle_entries(*await read(redis, "c1"), reclaimed=False)

    out = await published(redis)
    assert [(u.kind, u.duplicate_reason, u.cluster_id) for u in out] == [
        (UniqueKind.NEW, None, original.article.article_id),
        (UniqueKind.DUPLICATE, "near", original.article.article_id),
        (UniqueKind.UPDATE, None, original.article.article_id),
    ]
    assert out[1].article.url == "https://b.example.org/9"
    pending = await redis.xpending(streams.PARSED, stages.DEDUPLICATOR.group)
    assert pending["pending"] == 0


async def test_entry_of_a_worker_that_died_after_deciding_still_comes_out_new(
    redis: Redis, group: None
) -> None:
    event = parsed(text(story(2)))
    await add(redis, event)
    await read(redis, "dead-worker")
    # The dead worker ran its decision, then died before committing anything.
    store = DedupStore(redis, window_days=14, bucket_bits=4)
    await make_handler(store)([event])
    assert await published(redis) == []

    reply = await redis.xautoclaim(
        streams.PARSED, stages.DEDUPLICATOR.group, "survivor", min_idle_time=0
    )
    claimed = reply[1]
    await make_stage(redis).handle_entries(
        [e[0] for e in claimed], [e[1] for e in claimed], reclaimed=True
    )

    out = await published(redis)
    assert [(u.kind, u.article.article_id) for u in out] == [
        (UniqueKind.NEW, event.article.article_id)
    ]


async def test_two_workers_with_the_same_article_publish_it_once(
    redis_url: str, redis: Redis, group: None
) -> None:
    body = text(story(3))
    for _ in range(2):
        await add(redis, parsed(body))
    workers = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        batches = [await read(w, f"worker-{n}", count=1) for n, w in enumerate(workers)]
        await asyncio.gather(
            *(
                make_stage(w).handle_entries(*batch, reclaimed=False)
                for w, batch in zip(workers, batches, strict=True)
            )
        )
    finally:
        for w in workers:
            await w.aclose()

    out = await published(redis)
    assert [u.kind for u in out] == [UniqueKind.NEW]
    pending = await redis.xpending(streams.PARSED, stages.DEDUPLICATOR.group)
    assert pending["pending"] == 0


async def test_decisions_are_counted_by_kind(redis: Redis, group: None) -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    seen = value("feedpipe_articles_seen_total")
    near = value("feedpipe_duplicates_total", kind="near")
    url = value("feedpipe_duplicates_total", kind="url")
    updates = value("feedpipe_updates_total")
    original = parsed(text(story(4)), url="https://a.example.org/4")
    events = [
        original,
        parsed(syndicated(story(4)), url="https://b.example.org/4"),
        parsed(text(story(4)), url="https://a.example.org/4", feed_id="feed-9"),
        ArticleParsed(article=original.article.model_copy(update={"text": text(story(5))})),
    ]
    await make_handler(DedupStore(redis, window_days=14, bucket_bits=4))(events)

    assert value("feedpipe_articles_seen_total") == seen + 4
    assert value("feedpipe_duplicates_total", kind="near") == near + 1
    assert value("feedpipe_duplicates_total", kind="url") == url + 1
    assert value("feedpipe_updates_total") == updates + 1
