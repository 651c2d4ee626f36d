"""The poller loop against a local feed server and the real redis-server."""

from __future__ import annotations

import asyncio
import collections
import time

import pytest
import structlog
from aiohttp import web
from prometheus_client import REGISTRY

from shared.feeds import FeedRegistry, FeedStatus
from shared.pipeline import stages, streams
from shared.pipeline.events import FeedFetched
from tests.support.feedsite import RSS

pytestmark = pytest.mark.integration


async def fetched_events(redis) -> list[FeedFetched]:
    entries = await redis.xrange(streams.FETCHED)
    return [
        FeedFetched.model_validate_json(fields[streams.DATA_FIELD.encode()])
        for _id, fields in entries
    ]


async def poll_twice(registry: FeedRegistry, feed_id: str, make_poller) -> None:  # type: ignore[no-untyped-def]
    """Let a new poller poll the feed, then force and run a second poll."""
    poller = make_poller()
    await poller.run_until_idle()
    await registry.poll_now([feed_id])
    await poller.run_until_idle()


async def test_first_poll_publishes_the_document(site, redis, make_poller) -> None:
    url = site.feed("/f", etag='"v1"')
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(url)
    before = time.time()
    await make_poller().run_until_idle()

    events = await fetched_events(redis)
    assert len(events) == 1
    assert events[0].feed_id == feed.feed_id
    assert events[0].body == RSS
    assert events[0].final_url == url
    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.OK
    assert state.etag == '"v1"'
    assert state.last_error is None
    assert state.next_poll_at is not None
    assert state.next_poll_at >= before + 600  # default_interval, no hints
    score = await redis.zscore(streams.SCHEDULE, feed.feed_id)
    assert score == pytest.approx(state.next_poll_at)


async def test_repoll_is_conditional_and_304_publishes_nothing(site, redis, make_poller) -> None:
    url = site.feed("/f", etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(url)
    await poll_twice(registry, feed.feed_id, make_poller)

    second = site.seen[1].headers
    assert second["If-None-Match"] == '"v1"'
    assert second["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert len(await fetched_events(redis)) == 1
    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.NOT_MODIFIED
    assert state.http_status == 304


async def test_same_body_without_validators_is_unchanged(site, redis, make_poller) -> None:
    url = site.feed("/plain")
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(url)
    await poll_twice(registry, feed.feed_id, make_poller)

    assert site.hits["/plain"] == 2
    assert len(await fetched_events(redis)) == 1


async def test_changed_body_is_published_again(site, redis, make_poller) -> None:
    bodies = iter([RSS, RSS.replace(b"One", b"Two")])

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=next(bodies), content_type="application/rss+xml")

    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.route("/changing", handler))
    await poll_twice(registry, feed.feed_id, make_poller)

    events = await fetched_events(redis)
    assert [b"Two" in e.body for e in events] == [False, True]


async def test_304_keeps_a_parse_error(site, redis, make_poller) -> None:
    url = site.feed("/broken", etag='"b"')
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(url)
    poller = make_poller()
    await poller.run_until_idle()
    await registry.record_parse(feed.feed_id, error="not well-formed (line 3)")
    await registry.poll_now([feed.feed_id])
    await poller.run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert site.hits["/broken"] == 2
    assert state.last_status is FeedStatus.PARSE_ERROR
    assert state.last_error == "not well-formed (line 3)"


@pytest.mark.parametrize("status", [404, 500])
async def test_http_error_is_recorded(site, redis, make_poller, status: int) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.status("/err", status))
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.HTTP_ERROR
    assert state.http_status == status
    assert state.error_count == 1
    assert state.last_error is not None
    assert str(status) in state.last_error
    assert "next try at" in state.last_error
    assert state.enabled


async def test_500_backoff_grows_and_never_gives_up(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.status("/down", 500))
    poller = make_poller()
    waits = []
    state = None
    for _ in range(4):
        await registry.poll_now([feed.feed_id])
        await poller.run_until_idle()
        state = await registry.get(feed.feed_id)
        assert state is not None
        assert state.last_polled_at is not None
        assert state.next_poll_at is not None
        waits.append(state.next_poll_at - state.last_polled_at)
    assert state is not None
    assert state.error_count == 4
    assert state.enabled
    assert waits == sorted(waits)
    assert waits[-1] > 2 * waits[0]


async def test_recovery_clears_the_error(site, redis, make_poller) -> None:
    statuses = iter([500, 200])

    async def handler(request: web.Request) -> web.StreamResponse:
        status = next(statuses)
        if status != 200:
            return web.Response(status=status)
        return web.Response(body=RSS, content_type="application/rss+xml")

    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.route("/flaky", handler))
    await poll_twice(registry, feed.feed_id, make_poller)

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.OK
    assert state.last_error is None
    assert state.error_count == 0


async def test_410_disables_the_feed(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.status("/gone", 410))
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.GONE
    assert not state.enabled
    assert await redis.zscore(streams.SCHEDULE, feed.feed_id) is None


@pytest.mark.parametrize("status", [301, 308])
async def test_permanent_redirect_updates_the_url(site, redis, make_poller, status) -> None:
    new = site.feed("/new")
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.redirect("/old", status, "/new"))
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.url == new
    assert await registry.resolve(new) == feed.feed_id
    assert await registry.resolve(site.url("/old")) is None


@pytest.mark.parametrize("status", [302, 307])
async def test_temporary_redirect_keeps_the_url(site, redis, make_poller, status) -> None:
    site.feed("/new")
    registry = FeedRegistry(redis)
    old = site.redirect("/old", status, "/new")
    feed, _ = await registry.add(old)
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.url == old
    assert (await fetched_events(redis))[0].final_url == site.url("/new")


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_defers_every_feed_of_the_host(site, redis, make_poller, status):
    registry = FeedRegistry(redis)
    busy, _ = await registry.add(site.status("/busy", status, {"Retry-After": "900"}))
    poller = make_poller()
    await poller.run_until_idle()
    other, _ = await registry.add(site.feed("/other"))
    before = time.time()
    await make_poller(seed=2).run_until_idle()  # another poller process

    assert site.hits["/other"] == 0
    busy_state = await registry.get(busy.feed_id)
    other_state = await registry.get(other.feed_id)
    assert busy_state is not None
    assert other_state is not None
    assert busy_state.next_poll_at is not None
    assert busy_state.next_poll_at >= before + 850
    assert other_state.error_count == 0  # waiting is not an error of that feed
    assert other_state.next_poll_at is not None
    assert other_state.next_poll_at >= before + 850


async def test_fixed_interval_overrides_adaptation(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.feed("/f"), interval=120)
    await registry.record_parse(feed.feed_id, error=None, publish_rate=1000.0, feed_ttl=3000.0)
    before = time.time()
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.next_poll_at is not None
    assert before + 120 <= state.next_poll_at <= time.time() + 120 * 1.1


async def test_fixed_interval_is_never_below_the_floor(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.feed("/f"), interval=1)
    before = time.time()
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.next_poll_at is not None
    assert state.next_poll_at >= before + 60


async def test_html_page_is_reported_with_its_feed(site, redis, make_poller) -> None:
    page = b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom">'
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.feed("/blog", page, content_type="text/html"))
    await make_poller().run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.NOT_A_FEED
    assert state.suggested_feed == site.url("/atom")
    assert not await fetched_events(redis)


async def test_refused_private_address_is_recorded(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.feed("/f"))
    await make_poller(allow_private_networks=False).run_until_idle()

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.last_status is FeedStatus.REFUSED
    assert not site.seen


async def test_fetch_results_are_counted(site, redis, make_poller) -> None:
    def sample() -> float:
        labels = {"result": "http_error"}
        return REGISTRY.get_sample_value("feedpipe_feed_fetches_total", labels) or 0.0

    registry = FeedRegistry(redis)
    await registry.add(site.status("/e", 404))
    before = sample()
    await make_poller().run_until_idle()
    assert sample() == before + 1


# --- several pollers ----------------------------------------------------------------


async def test_three_pollers_fetch_each_feed_once_per_cycle(site, redis, make_poller) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.001)
        return web.Response(status=304)

    registry = FeedRegistry(redis)
    ids = []
    for start in range(0, 500, 50):
        added = await asyncio.gather(
            *(registry.add(site.route(f"/feed/{i}", handler)) for i in range(start, start + 50))
        )
        ids += [feed.feed_id for feed, _ in added]
    pollers = [make_poller(seed=n, batch_size=20) for n in range(3)]
    stop = asyncio.Event()
    loops = [asyncio.create_task(p.run(stop)) for p in pollers]
    try:
        for cycle in (1, 2):
            # Wait on fetches, not on poll counts: a poll deferred by the host's
            # politeness limit (likely on a loaded machine) counts as a poll.
            async with asyncio.timeout(120):
                while sum(site.hits[f"/feed/{i}"] >= cycle for i in range(500)) < 500:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # room for any double poll to show up
            per_feed = collections.Counter(site.hits[f"/feed/{i}"] for i in range(500))
            assert per_feed == {cycle: 500}
            await registry.poll_now(ids)  # next cycle
    finally:
        stop.set()
        await asyncio.gather(*loops)
    assert all(p.polls > 0 for p in pollers)  # the work was shared


async def test_a_crashed_pollers_leases_expire_and_are_taken_over(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    for i in range(20):
        await registry.add(site.feed(f"/f{i}"))
    # The crashed poller claimed everything and died before fetching.
    claimed = await registry.claim_due_feeds(now=time.time(), limit=100, lease=0.5)
    assert len(claimed) == 20
    survivor = make_poller()
    await survivor.run_until_idle()
    assert sum(site.hits.values()) == 0  # leased: nobody else touches them

    await asyncio.sleep(0.6)
    await survivor.run_until_idle()
    assert all(site.hits[f"/f{i}"] == 1 for i in range(20))
    # A late write by the dead poller does not overwrite the new schedule.
    feed, lease_until = claimed[0]
    pipe = redis.pipeline(transaction=False)
    await registry.queue_poll_result(
        pipe, feed.feed_id, {}, lease_until=lease_until, next_poll_at=0
    )
    assert await pipe.execute() == [0]


async def test_parser_lag_pauses_polling(site, redis, make_poller) -> None:
    await redis.xgroup_create(streams.FETCHED, stages.PARSER.group, id="$", mkstream=True)
    for _ in range(5):
        await redis.xadd(streams.FETCHED, {streams.DATA_FIELD: b"{}"})
    registry = FeedRegistry(redis)
    await registry.add(site.feed("/f"))
    poller = make_poller(lag_threshold=5)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await task
    assert site.hits["/f"] == 0


async def test_run_loop_polls_new_feeds_and_stops(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    poller = make_poller()
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await registry.add(site.feed("/late"))
    for _ in range(100):
        if poller.polls:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert site.hits["/late"] == 1
    assert len(await fetched_events(redis)) == 1


async def test_outcome_log_line_names_the_feed(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.status("/e", 500))
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        await make_poller().run_until_idle()
    [line] = [entry for entry in logs if entry["event"] == "Feed fetch failed"]
    assert line["feed_id"] == feed.feed_id
    assert line["feed_url"] == feed.url
    assert "HTTP 500" in line["error"]


async def test_failed_result_write_is_retried(site, redis, make_poller, monkeypatch) -> None:
    from redis.asyncio.client import Pipeline
    from redis.exceptions import ConnectionError as RedisConnectionError

    original = Pipeline.execute
    failures = 0

    async def flaky(self, raise_on_error=True):
        nonlocal failures
        if failures == 0 and any(streams.FETCHED in args for args, _ in self.command_stack):
            failures += 1
            await self.reset()
            raise RedisConnectionError("connection lost")
        return await original(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", flaky)
    registry = FeedRegistry(redis)
    feed, _ = await registry.add(site.feed("/f", etag='"v1"'))
    await make_poller().run_until_idle()

    assert failures == 1
    assert len(await fetched_events(redis)) == 1
    state = await registry.get(feed.feed_id)
    assert state is not None
    assert state.etag == '"v1"'


async def test_parse_error_recorded_during_a_304_poll_is_kept(site, redis, make_poller) -> None:
    registry = FeedRegistry(redis)
    served = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal served
        served += 1
        if served == 1:
            return web.Response(body=RSS, content_type="application/rss+xml", headers={"ETag": "e"})
        # The parser rejects the first document while the second poll is in flight.
        await registry.record_parse(feed.feed_id, error="mismatched tag")
        return web.Response(status=304, headers={"ETag": "e"})

    feed, _ = await registry.add(site.route("/racy", handler))
    await poll_twice(registry, feed.feed_id, make_poller)

    state = await registry.get(feed.feed_id)
    assert state is not None
    assert served == 2
    assert state.last_status is FeedStatus.PARSE_ERROR
    assert state.last_error == "mismatched tag"
    assert state.http_status == 304
