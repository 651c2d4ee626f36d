"""What the index keeps of article pages, through the whole pipeline (``feedpipe
up``, a real redis-server) and local sites on their own loopback hosts: a page
cannot claim another site's URL, a changed entry fetches its page again
conditionally, pages that could not be fetched at first are completed later,
and a broken feed document read in recovery mode is flagged on its feed."""

from __future__ import annotations

import dataclasses
import html
import json
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from shared.pipeline import streams
from shared.pipeline.events import Article, ArticleParsed, ArticleUnique, UniqueKind
from tests.support.articles import Article as SiteArticle
from tests.support.feedsite import FeedSite, slow_body
from tests.support.fixtures import PipelineFactory, SitesFactory
from tests.support.pipeline import Pipeline, get_json, indexed_once, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

INGEST_TIMEOUT_S = 240


def http() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))


async def record_of(session: aiohttp.ClientSession, pipe: Pipeline, token: str) -> dict[str, Any]:
    """The indexed article a token finds (exactly one)."""
    found = await get_json(session, f"{pipe.api}/search", q=token, limit=5)
    assert found["total"] == 1, found
    return dict(await get_json(session, f"{pipe.api}/articles/{found['hits'][0]['id']}"))


async def stream_events(redis_url: str, stream: str) -> list[bytes]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        entries: Any = await client.xrange(stream)
    finally:
        await client.aclose()
    return [data[streams.DATA_FIELD.encode()] for _, data in entries]


async def parsed_articles(redis_url: str) -> list[Article]:
    raw = await stream_events(redis_url, streams.PARSED)
    return [ArticleParsed.model_validate_json(r).article for r in raw]


async def unique_events(redis_url: str) -> list[ArticleUnique]:
    return [
        ArticleUnique.model_validate_json(r) for r in await stream_events(redis_url, streams.UNIQUE)
    ]


def page_claiming(site: FeedSite, article: SiteArticle, url: str, *, og: bool) -> web.Response:
    """``article``'s page on ``site``, naming ``url`` as its canonical URL
    (``<link rel=canonical>``, or ``og:url`` alone)."""
    page = site.template.render(article, canonical=url).decode()
    if og:
        page = page.replace(
            f"<link rel='canonical' href='{html.escape(url)}'>",
            f"<meta property='og:url' content='{html.escape(url)}'>",
        )
    return web.Response(text=page, content_type="text/html")


async def test_a_page_naming_another_sites_article_as_canonical_keeps_its_own_url(
    feed_sites: SitesFactory, start_pipeline: PipelineFactory, redis_url: str
) -> None:
    publisher, claimer = await feed_sites(2)  # 127.0.0.2 and 127.0.0.3
    originals = publisher.add_feed("news", "rss", 2, summary_only=True).articles
    claims = claimer.add_feed("news", "atom", 2, summary_only=True).articles
    for article, victim, og in zip(claims, originals, (False, True), strict=True):
        reply = page_claiming(claimer, article, publisher.permalink(victim), og=og)

        async def serve(request: web.Request, reply: web.Response = reply) -> web.Response:
            return web.Response(text=reply.text, content_type="text/html")

        claimer.route(f"/articles/{article.slug}", serve)
    pipe = start_pipeline()
    for site in (publisher, claimer):
        await pipe.acli("feeds", "add", site.feed_url("news"))

    tokens = [a.token for a in originals + claims]
    async with http() as session:
        ok = await wait_until(lambda: indexed_once(session, pipe, tokens), timeout=INGEST_TIMEOUT_S)
        assert ok, pipe.log_tail()
        for site, articles in ((publisher, originals), (claimer, claims)):
            for article in articles:
                record = await record_of(session, pipe, article.token)
                assert record["url"] == site.permalink(article)
                assert article.paragraphs[2][:60] in record["text"]

    claimed = {a.url: a.claimed_canonical_url for a in await parsed_articles(redis_url)}
    for article, victim in zip(claims, originals, strict=True):
        assert claimed[claimer.permalink(article)] == publisher.permalink(victim)
    for article in originals:
        assert claimed[publisher.permalink(article)] is None


async def test_a_changed_entry_fetches_its_page_again_conditionally(
    feed_sites: SitesFactory, start_pipeline: PipelineFactory, redis_url: str
) -> None:
    [site] = await feed_sites(1)
    feed = site.add_feed("news", "rss", 2, summary_only=True)
    article = feed.articles[0]
    page_path = f"/articles/{article.slug}"
    pipe = start_pipeline()
    await pipe.acli("feeds", "add", site.feed_url("news"))

    async with http() as session:
        tokens = [a.token for a in feed.articles]
        ok = await wait_until(lambda: indexed_once(session, pipe, tokens), timeout=INGEST_TIMEOUT_S)
        assert ok, pipe.log_tail()
        first = await record_of(session, pipe, article.token)

        # The feed corrects the entry's title; the page itself does not change.
        retitled = dataclasses.replace(article, title=f"{article.title} zqretitled")
        feed.articles = [retitled if a.slug == article.slug else a for a in feed.articles]
        await pipe.acli("feeds", "poll", "all")

        async def republished() -> list[Article]:
            return [a for a in await parsed_articles(redis_url) if "zqretitled" in a.title]

        assert await wait_until(republished, timeout=INGEST_TIMEOUT_S), pipe.log_tail()
        [again] = await republished()
        requests = [seen.headers for seen in site.seen if seen.path == page_path]
        assert len(requests) == 2
        assert "If-None-Match" in requests[1]  # answered 304 Not Modified
        assert again.article_id == first["id"]
        assert again.content_source == "page"
        assert article.paragraphs[2][:60] in again.text  # the page's text, kept

        # Now the story itself is rewritten: the page changed, so its new text lands.
        rewritten = (
            "A rewritten account zqrewritten of the whole affair.",
            *article.paragraphs[1:3],
        )
        site.update_article(article.slug, paragraphs=rewritten)
        await pipe.acli("feeds", "poll", "all")

        async def rewritten_indexed() -> bool:
            found = await get_json(session, f"{pipe.api}/search", q="zqrewritten")
            return bool(found["total"] == 1)

        assert await wait_until(rewritten_indexed, timeout=INGEST_TIMEOUT_S), pipe.log_tail()
        record = await record_of(session, pipe, "zqrewritten")
        assert record["id"] == first["id"]
        assert article.paragraphs[4][:60] not in record["text"]


async def test_article_pages_deferred_at_first_are_completed_later(
    feed_sites: SitesFactory, start_pipeline: PipelineFactory, redis_url: str
) -> None:
    [site] = await feed_sites(1)
    feed = site.add_feed("news", "rss", 3, summary_only=True)
    busy, slow, _fine = feed.articles

    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": "2"})

    first_answers = {
        busy.slug: unavailable,  # 503 with Retry-After on the first request, then the page
        slow.slug: slow_body(b"<!doctype html><html><head>", content_type="text/html"),  # no answer
    }
    for slug, first_answer in first_answers.items():
        calls = {"n": 0}

        async def serve(
            request: web.Request, slug: str = slug, first: Any = first_answer, calls: Any = calls
        ) -> web.StreamResponse:
            calls["n"] += 1
            if calls["n"] == 1:
                return await first(request)
            return await site.page_response(request, slug)

        site.route(f"/articles/{slug}", serve)
    pipe = start_pipeline(
        env={
            "FEEDPIPE_PAGE_RETRY_DELAY": "1",
            "FEEDPIPE_FETCH_TIMEOUT": "6",
            "FEEDPIPE_CONNECT_TIMEOUT": "2",
            "FEEDPIPE_READ_TIMEOUT": "4",
            # (The parse waiting on the slow page outlasts the 2 s reclaim time of
            # the test pipeline: its entries are kept in hand, not handled twice.)
        }
    )
    await pipe.acli("feeds", "add", site.feed_url("news"))

    async with http() as session:
        tokens = [a.token for a in feed.articles]
        ok = await wait_until(lambda: indexed_once(session, pipe, tokens), timeout=INGEST_TIMEOUT_S)
        assert ok, pipe.log_tail()
        ids = {a.slug: (await record_of(session, pipe, a.token))["id"] for a in (busy, slow)}

        async def completed() -> bool:
            for article in (busy, slow):
                record = await record_of(session, pipe, article.token)
                if article.paragraphs[3][:60] not in record["text"]:
                    return False
            return True

        assert await wait_until(completed, timeout=INGEST_TIMEOUT_S), pipe.log_tail()
        for article in (busy, slow):
            assert (await record_of(session, pipe, article.token))["id"] == ids[article.slug]

    kinds = {(e.article.article_id, e.kind) for e in await unique_events(redis_url)}
    for article_id in ids.values():
        assert (article_id, UniqueKind.NEW) in kinds
        assert (article_id, UniqueKind.UPDATE) in kinds


async def test_a_truncated_feed_keeps_its_entries_and_is_flagged_until_it_is_whole(
    feed_sites: SitesFactory, start_pipeline: PipelineFactory
) -> None:
    [site] = await feed_sites(1)
    feed = site.add_feed("news", "rss", 3)
    whole, content_type = site.render(feed)
    end = whole.rindex(b"</item>") + len(b"</item>")
    truncated = whole[:end] + b"<item><title>Cut off in the mid"
    url = site.feed("/feeds/broken", truncated, content_type=content_type)
    pipe = start_pipeline()
    await pipe.acli("feeds", "add", url)

    async def listed() -> dict[str, Any]:
        [one] = json.loads(await pipe.acli("feeds", "list", "--json"))
        return dict(one)

    async with http() as session:
        tokens = [a.token for a in feed.articles]
        ok = await wait_until(lambda: indexed_once(session, pipe, tokens), timeout=INGEST_TIMEOUT_S)
        assert ok, pipe.log_tail()

    async def warned() -> bool:
        return bool((await listed())["warning"])

    assert await wait_until(warned, timeout=60), await listed()
    flagged = await listed()
    assert flagged["warning"].startswith("recovered: not well-formed XML")
    assert flagged["last_error"] is None
    assert flagged["last_status"] == "ok"
    assert "warning" in await pipe.acli("feeds", "list")  # the table's column

    site.feed("/feeds/broken", whole, content_type=content_type)  # the site repairs it
    await pipe.acli("feeds", "poll", "all")

    async def cleared() -> bool:
        return (await listed())["warning"] is None

    assert await wait_until(cleared, timeout=INGEST_TIMEOUT_S), await listed()
