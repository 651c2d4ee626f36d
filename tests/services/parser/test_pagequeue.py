"""The retry queue of deferred pages on a real redis-server: claims with
leases, settling only the job claimed, surviving a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.parser.formats import ParsedFeed, RawEntry
from services.parser.pagequeue import PageQueue, job_key
from services.parser.retry import PageJob
from shared.pipeline import streams

pytestmark = pytest.mark.integration

TTL = 3600


def job(url: str = "https://x.org/a", **kw) -> PageJob:
    values = dict(
        feed_id="f1", feed_url="https://x.org/rss", base_url="https://x.org/rss", page_url=url,
        guid="g", article_url=url, article_id="id", entry=RawEntry(guid="g", link=url),
        feed=ParsedFeed(format="rss2.0", parser="fastfeedparser"),
        fetched_at=datetime(2025, 4, 2, tzinfo=UTC), deferred_at=0.0,
    )  # fmt: skip
    values.update(kw)
    return PageJob(**values)  # type: ignore[arg-type]


async def enqueue(redis: Redis, queue: PageQueue, one: PageJob, due: float) -> None:
    pipe = redis.pipeline(transaction=True)
    queue.enqueue_op(one, due=due)(pipe)
    await pipe.execute()


async def test_only_due_jobs_are_claimed_and_a_claim_is_leased(redis):
    queue = PageQueue(redis, ttl=TTL)
    await enqueue(redis, queue, job("https://x.org/a"), due=100.0)
    await enqueue(redis, queue, job("https://x.org/b"), due=200.0)

    [claimed] = await queue.claim(now=150.0, limit=10, lease_until=400.0)
    assert claimed.job == job("https://x.org/a")
    assert await queue.claim(now=150.0, limit=10, lease_until=400.0) == []  # leased
    later = await queue.claim(now=500.0, limit=10, lease_until=900.0)  # lease ran out
    assert {c.job.page_url for c in later if c.job} == {"https://x.org/a", "https://x.org/b"}


async def test_done_publishes_remembers_and_removes_in_one_step(redis):
    queue = PageQueue(redis, ttl=TTL)
    await enqueue(redis, queue, job(), due=0.0)
    [claimed] = await queue.claim(now=1.0, limit=1, lease_until=60.0)

    assert await queue.done(claimed, event=b'{"x": 1}', state=("k:state", b"kept"))
    assert await redis.zcard(streams.PAGE_RETRY_QUEUE) == 0
    assert await redis.exists(job_key(claimed.member)) == 0
    assert await redis.get("k:state") == b"kept"
    assert 0 < await redis.ttl("k:state") <= TTL
    [(_, fields)] = await redis.xrange(streams.PARSED)
    assert fields[streams.DATA_FIELD.encode()] == b'{"x": 1}'


async def test_a_job_replaced_meanwhile_is_not_settled(redis):
    queue = PageQueue(redis, ttl=TTL)
    await enqueue(redis, queue, job(), due=0.0)
    [claimed] = await queue.claim(now=1.0, limit=1, lease_until=60.0)
    newer = job(attempts=0, deferred_at=5.0)
    await enqueue(redis, queue, newer, due=30.0)  # a newer version of the entry

    assert not await queue.done(claimed, event=b"stale")
    assert not await queue.again(claimed, job(attempts=1), due=99.0)
    assert await redis.xlen(streams.PARSED) == 0
    [again] = await queue.claim(now=31.0, limit=1, lease_until=90.0)
    assert again.job == newer


async def test_again_puts_the_job_back_with_its_attempts(redis):
    queue = PageQueue(redis, ttl=TTL)
    await enqueue(redis, queue, job(), due=0.0)
    [claimed] = await queue.claim(now=1.0, limit=1, lease_until=60.0)
    assert await queue.again(claimed, job(attempts=1), due=500.0)

    assert await queue.claim(now=400.0, limit=1, lease_until=900.0) == []
    [back] = await queue.claim(now=500.0, limit=1, lease_until=900.0)
    assert back.job is not None
    assert back.job.attempts == 1
    assert 0 < await redis.ttl(job_key(back.member)) <= TTL


async def test_a_member_whose_job_expired_is_dropped(redis):
    queue = PageQueue(redis, ttl=TTL)
    await enqueue(redis, queue, job(), due=0.0)
    await redis.delete(job_key(job().member))
    [claimed] = await queue.claim(now=1.0, limit=1, lease_until=60.0)
    assert claimed.job is None
    assert await queue.done(claimed)
    assert await queue.size() == 0


async def test_jobs_survive_a_redis_restart(redis_server, redis_url):
    client = Redis.from_url(redis_url)
    queue = PageQueue(client, ttl=TTL)
    await enqueue(client, queue, job(), due=0.0)
    await client.aclose()

    await asyncio.to_thread(redis_server.restart)
    client = Redis.from_url(redis_server.url)
    try:
        [claimed] = await PageQueue(client, ttl=TTL).claim(now=1.0, limit=1, lease_until=60.0)
        assert claimed.job == job()
    finally:
        await client.aclose()
