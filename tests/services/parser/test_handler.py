"""The parser stage end to end on a real redis-server: FETCHED in, PARSED out,
with article pages served by a local aiohttp server."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from services.parser import handler as handler_module
from services.parser.handler import Extractor, ParserHandler
from shared import metrics
from shared.feeds import FeedRegistry, FeedStatus
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleParsed, FeedFetched, FullContent
from shared.pipeline.stage import StreamStage
from shared.settings import Settings
from tests.services.parser.pages import BOILERPLATE, PARAGRAPHS, article_page

pytestmark = pytest.mark.integration

SHORT_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbour Gazette</title><link>{base}/</link><ttl>60</ttl>
<item><title>Lighthouse to be rebuilt in stone - Harbour Gazette</title>
<link>{base}/2025/lighthouse?utm_source=rss</link><guid>lh-1</guid>
<description>The council voted.</description>
<pubDate>Wed, 02 Apr 2025 08:00:00 GMT</pubDate></item>
<item><title>Second story</title><link>{base}/2025/second</link><guid>lh-2</guid>
<description>{long}</description><pubDate>Tue, 01 Apr 2025 08:00:00 GMT</pubDate></item>
</channel></rss>"""

LONG_TEXT = "A complete story delivered in the feed itself. " * 10


class PageServer:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.page)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path == "/2025/missing":
            return web.Response(status=404, text="gone")
        html = article_page(canonical=f"{self.base}/2025/lighthouse")
        return web.Response(text=html, content_type="text/html")

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def site() -> AsyncIterator[PageServer]:
    server = PageServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, allow_private_networks=True, fetch_timeout=5.0)


@pytest.fixture
async def stage(redis: Redis, settings: Settings) -> AsyncIterator[StreamStage[FeedFetched]]:
    await redis.xgroup_create(streams.FETCHED, stages.PARSER.group, id="0", mkstream=True)
    fetcher = SafeFetcher(settings, redis=redis)
    handler = ParserHandler(redis=redis, settings=settings, fetcher=fetcher)
    yield StreamStage(stages.PARSER, redis=redis, settings=settings, handler=handler)
    await fetcher.aclose()


async def registered(redis: Redis, url: str) -> str:
    feed, _ = await FeedRegistry(redis).add(url)
    return feed.feed_id


def fetched_event(feed_id: str, url: str, body: bytes, mode: FullContent) -> FeedFetched:
    return FeedFetched(
        feed_id=feed_id,
        feed_url=url,
        final_url=url,
        fetched_at=datetime(2025, 4, 3, tzinfo=UTC),
        content_type="application/rss+xml",
        body=body,
        full_content=mode,
    )


async def run_once(redis: Redis, stage: StreamStage[FeedFetched], event: FeedFetched) -> None:
    await redis.xadd(streams.FETCHED, {streams.DATA_FIELD: event.model_dump_json()})
    resp: Any = await redis.xreadgroup(stages.PARSER.group, "t", {streams.FETCHED: ">"}, count=100)
    ids = [e[0] for e in resp[0][1]]
    datas = [e[1] for e in resp[0][1]]
    await stage.handle_entries(ids, datas, reclaimed=False)


async def parsed(redis: Redis) -> list[ArticleParsed]:
    entries: Any = await redis.xrange(streams.PARSED)
    return [
        ArticleParsed.model_validate_json(data[streams.DATA_FIELD.encode()]) for _, data in entries
    ]


async def pending(redis: Redis) -> int:
    info = await redis.xpending(streams.FETCHED, stages.PARSER.group)
    return int(info["pending"])


def feed_body(site: PageServer) -> bytes:
    return SHORT_RSS.format(base=site.base, long=LONG_TEXT).encode()


async def test_auto_mode_fetches_page_of_teaser_only(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    fetched_ok = counter(metrics.ARTICLE_FETCHES, "ok")
    parsed_rss = counter(metrics.ENTRIES_PARSED, "rss2.0")
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.AUTO))

    assert counter(metrics.ARTICLE_FETCHES, "ok") == fetched_ok + 1
    assert counter(metrics.ENTRIES_PARSED, "rss2.0") == parsed_rss + 2

    articles = {a.article.guid: a.article for a in await parsed(redis)}
    assert set(articles) == {"lh-1", "lh-2"}
    teaser = articles["lh-1"]
    assert teaser.content_source == "page"
    assert teaser.url == f"{site.base}/2025/lighthouse"
    assert teaser.title == "Lighthouse to be rebuilt in stone"
    for paragraph in PARAGRAPHS:
        assert paragraph in teaser.text
    for leak in BOILERPLATE.values():
        assert leak not in teaser.text
    assert articles["lh-2"].content_source == "feed"
    assert site.hits["/2025/second"] == 0
    assert await pending(redis) == 0


async def test_feed_state_is_recorded(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.NEVER))

    feed = await FeedRegistry(redis).get(feed_id)
    assert feed is not None
    assert feed.last_entry_count == 2
    assert feed.feed_ttl == 3600
    assert feed.publish_rate == pytest.approx(1.0)
    assert feed.title == "Harbour Gazette"


async def test_never_mode_does_not_fetch(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.NEVER))

    assert sum(site.hits.values()) == 0
    assert {a.article.content_source for a in await parsed(redis)} == {"feed"}


async def test_always_mode_fetches_every_page(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.ALWAYS))

    assert site.hits["/2025/lighthouse"] == 1
    assert site.hits["/2025/second"] == 1


async def test_each_article_is_built_once_even_with_its_page(redis, stage, site, monkeypatch):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    built: list[str] = []
    real = handler_module.build_article

    def counting(entry, **kwargs):
        built.append(entry.guid)
        return real(entry, **kwargs)

    monkeypatch.setattr(handler_module, "build_article", counting)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.ALWAYS))

    assert sorted(built) == ["lh-1", "lh-2"]
    assert {a.article.content_source for a in await parsed(redis)} == {"page"}


async def test_unchanged_entries_are_not_republished_or_refetched(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    event = fetched_event(feed_id, url, feed_body(site), FullContent.AUTO)
    await run_once(redis, stage, event)
    await run_once(redis, stage, event.model_copy(update={"event_id": "second-poll"}))

    assert len(await parsed(redis)) == 2
    assert site.hits["/2025/lighthouse"] == 1


async def test_changed_entry_is_republished(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    body = feed_body(site)
    await run_once(redis, stage, fetched_event(feed_id, url, body, FullContent.NEVER))
    changed = body.replace(b"Second story", b"Second story (updated)")
    await run_once(redis, stage, fetched_event(feed_id, url, changed, FullContent.NEVER))

    titles = [a.article.title for a in await parsed(redis)]
    assert titles.count("Second story (updated)") == 1
    assert len(titles) == 3


async def test_seen_markers_are_only_written_with_the_commit(redis, settings, site):
    """A crash between handling and commit must leave nothing marked as seen."""
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    handler = ParserHandler(redis=redis, settings=settings, fetcher=None)
    results = await handler([fetched_event(feed_id, url, feed_body(site), FullContent.NEVER)])

    assert len(results[0].outputs) == 2
    assert await redis.keys(f"{streams.ENTRY_SEEN_PREFIX}*") == []
    again = await handler([fetched_event(feed_id, url, feed_body(site), FullContent.NEVER)])
    assert len(again[0].outputs) == 2


async def test_seen_markers_expire(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.NEVER))

    keys = await redis.keys(f"{streams.ENTRY_SEEN_PREFIX}*")
    assert len(keys) == 2
    ttl = await redis.ttl(keys[0])
    assert 0 < ttl <= (14 * 86400)


async def test_failed_page_fetch_falls_back_to_feed_content(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    body = feed_body(site).replace(b"/2025/lighthouse?utm_source=rss", b"/2025/missing")
    await run_once(redis, stage, fetched_event(feed_id, url, body, FullContent.AUTO))

    articles = {a.article.guid: a.article for a in await parsed(redis)}
    assert articles["lh-1"].content_source == "feed"
    assert articles["lh-1"].text == "The council voted."


def counter(metric, *labels) -> float:
    return float(metric.labels(*labels)._value.get())


async def test_broken_feed_is_recorded_and_acked(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    body = b"<html><body><p>This is not a feed</p></body></html>"
    before = counter(metrics.PARSE_ERRORS, "not_a_feed")
    await run_once(redis, stage, fetched_event(feed_id, url, body, FullContent.AUTO))

    assert counter(metrics.PARSE_ERRORS, "not_a_feed") == before + 1

    assert await parsed(redis) == []
    assert await pending(redis) == 0
    assert await redis.xlen(streams.dlq_stream("parser")) == 0
    feed = await FeedRegistry(redis).get(feed_id)
    assert feed is not None
    assert feed.last_status is FeedStatus.PARSE_ERROR
    assert feed.last_error is not None
    assert "not_a_feed" in feed.last_error


async def test_hostile_feed_is_recorded_with_clear_error(redis, stage, site):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><title>&x;</title></channel></rss>"
    )
    await run_once(redis, stage, fetched_event(feed_id, url, body, FullContent.AUTO))

    feed = await FeedRegistry(redis).get(feed_id)
    assert feed is not None
    assert feed.last_error is not None
    assert feed.last_error.startswith("hostile:")
    assert "entit" in feed.last_error


async def test_redis_failure_leaves_event_pending(redis, settings, site, monkeypatch):
    url = f"{site.base}/feed.xml"
    feed_id = await registered(redis, url)
    await redis.xgroup_create(streams.FETCHED, stages.PARSER.group, id="0", mkstream=True)
    handler = ParserHandler(redis=redis, settings=settings, fetcher=None)

    async def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(handler, "_unseen", down)
    stage = StreamStage(stages.PARSER, redis=redis, settings=settings, handler=handler)
    await run_once(redis, stage, fetched_event(feed_id, url, feed_body(site), FullContent.NEVER))

    assert await parsed(redis) == []
    assert await pending(redis) == 1


@pytest.mark.parametrize("workers", [0, 1])
async def test_extractor_runs_off_the_event_loop(workers):
    extractor = Extractor(workers)
    try:
        page = await extractor.extract(article_page().encode(), url="https://gazette.example/x")
    finally:
        extractor.close()
    assert page is not None
    assert PARAGRAPHS[0] in page.text
