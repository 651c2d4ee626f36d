"""Deferred article pages on a real redis-server: the stage handler queues
them, the completer fetches them later and updates the article in place; a
changed entry fetches its page again conditionally."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from services.parser.completer import PageCompleter
from services.parser.handler import ParserHandler
from services.parser.pages import decode_state, page_state_key
from shared import metrics
from shared.feeds import FeedRegistry
from shared.fetch.fetcher import SafeFetcher
from shared.fetch.politeness import host_key
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleParsed, FeedFetched, FullContent
from shared.pipeline.stage import StreamStage
from shared.settings import Settings
from tests.services.parser.pages import PARAGRAPHS, ServedPage, article_page
from tests.support.feedsite import FeedSite, slow_body

pytestmark = pytest.mark.integration

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbour Gazette</title><link>{base}/</link>
{items}</channel></rss>"""
ITEM = """<item><title>{title}</title><link>{base}{path}?utm_source=rss</link><guid>{path}</guid>
<description>The council voted.</description>
<pubDate>Wed, 02 Apr 2025 08:00:00 GMT</pubDate></item>"""


class Rig:
    """The parser's stage and completer over one feed of the local site."""

    def __init__(self, redis: Redis, site: FeedSite, settings: Settings) -> None:
        self.redis = redis
        self.site = site
        self.settings = settings
        self.fetcher = SafeFetcher(settings, redis=redis)
        self.handler = ParserHandler(redis=redis, settings=settings, fetcher=self.fetcher)
        self.stage = StreamStage(
            stages.PARSER, redis=redis, settings=settings, handler=self.handler
        )
        assert self.handler.pages is not None
        self.completer = PageCompleter(
            redis=redis, settings=settings, pages=self.handler.pages, queue=self.handler.queue
        )
        self.feed_url = site.url("/feed.xml")
        self.feed_id = ""

    async def start(self) -> Rig:
        await self.redis.xgroup_create(streams.FETCHED, stages.PARSER.group, id="0", mkstream=True)
        feed, _ = await FeedRegistry(self.redis).add(self.feed_url)
        self.feed_id = feed.feed_id
        return self

    async def poll(self, items: list[tuple[str, str]], mode=FullContent.AUTO) -> None:
        """The feed with these (title, path) entries arrives and is parsed."""
        base = self.site.base
        body = RSS.format(
            base=base,
            items="".join(ITEM.format(title=t, base=base, path=p) for t, p in items),
        ).encode()
        event = FeedFetched(
            feed_id=self.feed_id, feed_url=self.feed_url, final_url=self.feed_url,
            fetched_at=datetime.now(UTC), content_type="application/rss+xml", body=body,
            full_content=mode,
        )  # fmt: skip
        await self.redis.xadd(streams.FETCHED, {streams.DATA_FIELD: event.model_dump_json()})
        resp: Any = await self.redis.xreadgroup(
            stages.PARSER.group, "t", {streams.FETCHED: ">"}, count=10
        )
        entries = resp[0][1]
        await self.stage.handle_entries(
            [e[0] for e in entries], [e[1] for e in entries], reclaimed=False
        )

    async def parsed(self) -> list[Any]:
        entries: Any = await self.redis.xrange(streams.PARSED)
        return [
            ArticleParsed.model_validate_json(d[streams.DATA_FIELD.encode()]).article
            for _, d in entries
        ]

    async def queued(self) -> dict[str, float]:
        rows = await self.redis.zrange(streams.PAGE_RETRY_QUEUE, 0, -1, withscores=True)
        return {m.decode(): s for m, s in rows}

    async def later(self, seconds: float = 3600.0) -> int:
        """One completer turn as if ``seconds`` had passed (so the site's
        Retry-After block has run out too)."""
        if seconds:
            await self.redis.delete(host_key(self.site.host, "blocked"))
        return await self.completer.run_once(now=time.time() + seconds)

    async def close(self) -> None:
        await self.fetcher.aclose()


def counter(metric, *labels) -> float:
    return float(metric.labels(*labels)._value.get())


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(
        redis_url=redis_url, allow_private_networks=True, fetch_timeout=3.0,
        connect_timeout=1.0, page_retry_delay=5.0, page_retry_attempts=3,
    )  # fmt: skip


@pytest.fixture
async def rig(redis, site, settings) -> AsyncIterator[Rig]:
    made = await Rig(redis, site, settings).start()
    yield made
    await made.close()


async def test_deferred_page_is_queued_after_the_article_is_published_from_the_feed(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    page.busy(retry_after=60)
    deferred = counter(metrics.ARTICLE_PAGES, "deferred")
    before = time.time()
    await rig.poll([("Lighthouse", page.path)])

    [article] = await rig.parsed()
    assert article.content_source == "feed"
    assert article.text == "The council voted."
    [(member, due)] = (await rig.queued()).items()
    assert member.startswith(f"{rig.feed_id}:")
    assert due >= before + 60  # never before the host's Retry-After
    assert counter(metrics.ARTICLE_PAGES, "deferred") == deferred + 1
    assert await rig.later(0) == 0  # not due yet


async def test_deferred_page_completes_the_same_article_later(rig, site, redis):
    page = ServedPage(site, "/2025/lighthouse")
    page.busy()
    completed = counter(metrics.ARTICLE_PAGES, "completed")
    await rig.poll([("Lighthouse", page.path)])
    [summary] = await rig.parsed()

    assert await rig.later() == 1
    [_, full] = await rig.parsed()
    assert full.article_id == summary.article_id
    assert full.url == summary.url
    assert full.content_source == "page"
    assert PARAGRAPHS[2] in full.text
    assert full.title == "Lighthouse"
    assert await rig.queued() == {}
    assert counter(metrics.ARTICLE_PAGES, "completed") == completed + 1
    state = decode_state(await redis.get(page_state_key(page.url)))
    assert state is not None
    assert state.article_url == summary.url
    assert state.etag is not None


async def test_a_page_that_timed_out_is_completed_later(rig, site):
    path = "/2025/slow"
    html = article_page(canonical=site.url(path))
    site.route(path, slow_body(b"<!doctype html><html><head>", content_type="text/html"))
    await rig.poll([("Slow story", path)])
    [summary] = await rig.parsed()
    assert summary.content_source == "feed"
    assert len(await rig.queued()) == 1

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    site.route(path, fast)
    assert await rig.later() == 1
    [_, full] = await rig.parsed()
    assert full.article_id == summary.article_id
    assert PARAGRAPHS[0] in full.text


async def test_a_page_still_busy_is_retried_with_backoff_then_abandoned(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    page.busy(times=10)
    abandoned = counter(metrics.ARTICLE_PAGES, "abandoned")
    await rig.poll([("Lighthouse", page.path)])
    [(member, first_due)] = (await rig.queued()).items()

    assert await rig.later() == 1  # attempt 1 of 3 fails: back off
    second_due = (await rig.queued())[member]
    assert second_due > first_due
    assert await rig.later(7200) == 1  # attempt 2 of 3
    assert (await rig.queued())[member] > second_due
    assert await rig.later(4 * 3600) == 1  # attempt 3 of 3: given up
    assert await rig.queued() == {}
    assert counter(metrics.ARTICLE_PAGES, "abandoned") == abandoned + 1
    assert len(await rig.parsed()) == 1  # the feed's version stays


async def test_a_page_gone_for_good_is_abandoned_at_its_first_retry(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    page.busy()
    await rig.poll([("Lighthouse", page.path)])
    site.status(page.path, 404)
    assert await rig.later() == 1
    assert await rig.queued() == {}
    assert len(await rig.parsed()) == 1


async def test_a_newer_version_of_the_entry_that_got_its_page_clears_the_retry(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    page.busy()
    await rig.poll([("Lighthouse", page.path)])
    assert len(await rig.queued()) == 1
    await rig.redis.delete(host_key(site.host, "blocked"))  # its Retry-After ran out
    await rig.poll([("Lighthouse rebuilt", page.path)])

    assert await rig.queued() == {}
    assert await rig.later() == 0
    [_, newer] = await rig.parsed()
    assert newer.title == "Lighthouse rebuilt"
    assert newer.content_source == "page"


async def test_the_retry_queue_is_bounded(redis, site, settings):
    rig = await Rig(redis, site, settings.model_copy(update={"page_retry_max_queued": 1})).start()
    try:
        pages = [ServedPage(site, f"/2025/story-{i}") for i in range(3)]
        for page in pages:
            page.busy()
        abandoned = counter(metrics.ARTICLE_PAGES, "abandoned")
        await rig.poll([(f"Story {i}", p.path) for i, p in enumerate(pages)])
        assert len(await rig.queued()) == 1
        assert counter(metrics.ARTICLE_PAGES, "abandoned") == abandoned + 2
        assert len(await rig.parsed()) == 3
    finally:
        await rig.close()


async def test_changed_entry_fetches_its_page_conditionally_and_keeps_its_text(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    await rig.poll([("Lighthouse", page.path)])
    reused = counter(metrics.ARTICLE_FETCHES, "not_modified")
    await rig.poll([("Lighthouse to be rebuilt in stone", page.path)])

    requests = [s.headers for s in site.seen if s.path == page.path]
    assert len(requests) == 2
    assert "If-None-Match" in requests[1]
    assert counter(metrics.ARTICLE_FETCHES, "not_modified") == reused + 1
    [first, second] = await rig.parsed()
    assert second.article_id == first.article_id
    assert second.title == "Lighthouse to be rebuilt in stone"
    assert second.text == first.text
    assert second.content_source == "page"


async def test_changed_entry_gets_the_pages_new_text_when_the_page_changed(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    await rig.poll([("Lighthouse", page.path)], mode=FullContent.ALWAYS)
    page.html = page.html.replace(PARAGRAPHS[3], "Work was postponed by a year.")
    await rig.poll([("Lighthouse (updated)", page.path)], mode=FullContent.ALWAYS)

    [first, second] = await rig.parsed()
    assert second.article_id == first.article_id
    assert "Work was postponed by a year." in second.text
    assert PARAGRAPHS[3] not in second.text


async def test_changed_entry_keeps_its_last_page_text_while_the_page_is_busy(rig, site):
    page = ServedPage(site, "/2025/lighthouse")
    await rig.poll([("Lighthouse", page.path)])
    page.busy()
    await rig.poll([("Lighthouse (updated)", page.path)])

    [first, second] = await rig.parsed()
    assert second.title == "Lighthouse (updated)"
    assert second.text == first.text  # not the feed's one-line summary
    assert len(await rig.queued()) == 1


async def test_recovered_document_warns_on_the_feed_and_a_clean_one_clears_it(rig, site, redis):
    warnings = counter(metrics.PARSE_WARNINGS, "recovered")
    page = ServedPage(site, "/2025/lighthouse")
    base = site.base
    item = ITEM.format(title="Lighthouse", base=base, path=page.path)
    cut = (RSS.format(base=base, items=item + item.replace("Lighthouse", "Other")))[:-60]
    event = FeedFetched(
        feed_id=rig.feed_id, feed_url=rig.feed_url, final_url=rig.feed_url,
        fetched_at=datetime.now(UTC), body=cut.encode(), full_content=FullContent.NEVER,
    )  # fmt: skip
    [result] = await rig.handler([event])
    assert len(result.outputs) >= 1
    feed = await FeedRegistry(redis).get(rig.feed_id)
    assert feed is not None
    assert feed.warning is not None
    assert feed.warning.startswith("recovered: not well-formed XML")
    assert feed.last_error is None
    assert counter(metrics.PARSE_WARNINGS, "recovered") == warnings + 1

    await rig.poll([("Lighthouse", page.path)], mode=FullContent.NEVER)
    feed = await FeedRegistry(redis).get(rig.feed_id)
    assert feed is not None
    assert feed.warning is None
