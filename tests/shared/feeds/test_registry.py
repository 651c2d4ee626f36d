"""The feed registry on the real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from shared.feeds import FeedRegistry, FeedStatus, feed_id_for
from shared.pipeline import streams

pytestmark = pytest.mark.integration
URL = "https://example.org/feed.xml"


async def test_add_registers_and_schedules_now(redis) -> None:
    registry = FeedRegistry(redis)
    feed, created = await registry.add(URL, title="Ex", category="News", now=100.0)
    assert created
    assert feed.feed_id == feed_id_for(URL)
    assert await registry.resolve(URL) == feed.feed_id
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) == 100.0
    assert (await registry.get(feed.feed_id)) == feed


async def test_adding_a_known_url_updates_given_settings_only(redis) -> None:
    registry = FeedRegistry(redis)
    await registry.add(URL, title="Ex", category="News")
    feed, created = await registry.add(URL, interval=600)
    assert not created
    assert feed.interval == 600
    assert feed.title == "Ex"


async def test_remove_deletes_everything(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    assert await registry.remove(URL)
    assert await registry.get(feed.feed_id) is None
    assert await registry.resolve(URL) is None
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) is None
    assert not await registry.remove(URL)


async def test_update_does_not_resurrect_a_removed_feed(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    await registry.remove(feed.feed_id)
    await registry.update(feed.feed_id, last_status=FeedStatus.OK)
    assert not await redis.exists(streams.feed_key(feed.feed_id))


async def test_queued_update_does_not_resurrect_a_removed_feed(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    await registry.remove(feed.feed_id)
    pipe = redis.pipeline(transaction=False)
    await registry.queue_update(pipe, feed.feed_id, {"last_status": FeedStatus.OK})
    await pipe.execute()
    assert not await redis.exists(streams.feed_key(feed.feed_id))


async def test_claim_is_exclusive_under_concurrency(redis, redis_url) -> None:
    from redis.asyncio import Redis

    registry = FeedRegistry(redis)
    for i in range(100):
        await registry.add(f"https://example.org/{i}", now=0.0)
    clients = [Redis.from_url(redis_url) for _ in range(4)]
    try:
        claims = await asyncio.gather(
            *(
                FeedRegistry(c).claim_due_feeds(now=10.0, limit=7, lease=60.0)
                for c in clients
                for _ in range(5)
            )
        )
    finally:
        for c in clients:
            await c.aclose()
    ids = [feed.feed_id for batch in claims for feed, _ in batch]
    assert len(ids) == len(set(ids)) == 100


async def release(redis, feed_id: str, *, lease_until: float, next_poll_at: float) -> bool:
    """A poll result with no fields: only the lease-checked reschedule."""
    pipe = redis.pipeline(transaction=False)
    await FeedRegistry(redis).queue_poll_result(
        pipe, feed_id, {}, lease_until=lease_until, next_poll_at=next_poll_at
    )
    [done] = await pipe.execute()
    return bool(done)


async def change_url(redis, feed_id: str, old: str, new: str) -> bool:
    pipe = redis.pipeline(transaction=False)
    await FeedRegistry(redis).queue_change_url(pipe, feed_id, old, new)
    [done] = await pipe.execute()
    return bool(done)


async def test_reschedule_needs_the_lease(redis) -> None:
    registry = FeedRegistry(redis)
    await registry.add(URL, now=0.0)
    [(feed, lease)] = await registry.claim_due_feeds(now=10.0, limit=10, lease=5.0)
    [(_, newer)] = await registry.claim_due_feeds(now=20.0, limit=10, lease=5.0)  # expired
    assert not await release(redis, feed.feed_id, lease_until=lease, next_poll_at=999.0)
    assert await release(redis, feed.feed_id, lease_until=newer, next_poll_at=999.0)
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) == 999.0


async def test_disabled_feed_leaves_the_schedule(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    await registry.set_enabled(feed.feed_id, False)
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) is None
    await registry.set_enabled(feed.feed_id, True, now=5.0)
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) == 5.0


async def test_change_url_keeps_the_id(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    new = "https://example.org/new.xml"
    assert await change_url(redis, feed.feed_id, URL, new)
    assert await registry.resolve(new) == feed.feed_id
    assert await registry.resolve(URL) is None
    moved = await registry.get(feed.feed_id)
    assert moved is not None
    assert moved.url == new


async def test_change_url_to_another_feeds_url_is_refused(redis) -> None:
    registry = FeedRegistry(redis)
    a, _ = await registry.add(URL)
    b, _ = await registry.add("https://example.org/b.xml")
    assert not await change_url(redis, a.feed_id, URL, b.url)
    assert await registry.resolve(b.url) == b.feed_id


async def test_record_parse_error_then_recovery(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    await registry.record_parse(feed.feed_id, error="not XML")
    broken = await registry.get(feed.feed_id)
    assert broken is not None
    assert broken.last_status is FeedStatus.PARSE_ERROR
    await registry.record_parse(feed.feed_id, error=None, entry_count=3, publish_rate=2.0)
    fixed = await registry.get(feed.feed_id)
    assert fixed is not None
    assert fixed.last_status is FeedStatus.OK
    assert fixed.last_error is None
    assert fixed.publish_rate == 2.0


async def test_parse_warning_is_kept_apart_from_errors_and_cleared(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL)
    await registry.record_parse(feed.feed_id, error=None, warning="recovered: mismatched tag")
    warned = await registry.get(feed.feed_id)
    assert warned is not None
    assert warned.warning == "recovered: mismatched tag"
    assert warned.last_error is None
    assert warned.healthy
    assert warned.public()["warning"] == "recovered: mismatched tag"
    await registry.record_parse(feed.feed_id, error=None, entry_count=3)
    clean = await registry.get(feed.feed_id)
    assert clean is not None
    assert clean.warning is None


async def test_oldest_due_and_next_due(redis) -> None:
    registry = FeedRegistry(redis)
    await registry.add(URL, now=100.0)
    assert await registry.oldest_due(130.0) == 30.0
    assert await registry.oldest_due(50.0) is None
    assert await registry.next_due_at() == 100.0


async def test_state_counts(redis) -> None:
    registry = FeedRegistry(redis)
    ok, _ = await registry.add("https://a.example/f")
    bad, _ = await registry.add("https://b.example/f")
    off, _ = await registry.add("https://c.example/f")
    await registry.update(ok.feed_id, last_status=FeedStatus.OK)
    await registry.update(bad.feed_id, last_status=FeedStatus.HTTP_ERROR, last_error="HTTP 500")
    await registry.set_enabled(off.feed_id, False)
    assert await registry.state_counts() == {"ok": 1, "error": 1, "disabled": 1, "failing": 0}


async def test_state_counts_flag_feeds_failing_several_polls_in_a_row(redis) -> None:
    registry = FeedRegistry(redis)
    once, _ = await registry.add("https://a.example/f")
    thrice, _ = await registry.add("https://b.example/f")
    await registry.update(
        once.feed_id, last_status=FeedStatus.HTTP_ERROR, last_error="x", error_count=1
    )
    await registry.update(
        thrice.feed_id, last_status=FeedStatus.HTTP_ERROR, last_error="x", error_count=3
    )
    counts = await registry.state_counts(failing_after=3)
    assert counts["error"] == 2
    assert counts["failing"] == 1


async def test_public_view_has_the_contract_fields(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL, now=0.0)
    public = feed.public()
    for key in (
        "url",
        "last_status",
        "last_error",
        "error_count",
        "last_polled_at",
        "next_poll_at",
    ):
        assert key in public
    assert public["last_error"] is None


async def test_claim_due_feeds_returns_the_feeds(redis) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(URL, title="Ex", now=0.0)
    [(claimed, lease_until)] = await registry.claim_due_feeds(now=10.0, limit=10, lease=5.0)
    assert claimed == feed
    assert lease_until == 15.0
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) == 15.0


async def test_claim_due_feeds_drops_orphaned_schedule_entries(redis) -> None:
    registry = FeedRegistry(redis)
    await redis.zadd(streams.SCHEDULE, {"ghost": 0.0})
    assert await registry.claim_due_feeds(now=10.0, limit=10, lease=5.0) == []
    assert await redis.zscore(streams.SCHEDULE, "ghost") is None
