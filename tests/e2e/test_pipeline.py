"""The whole pipeline as separate processes on a real redis-server."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.support.feedsite import FeedSite
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import Pipeline, get_json, indexed_once, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

INGEST_TIMEOUT_S = 180


@pytest.fixture
def pipeline(start_pipeline: PipelineFactory) -> Pipeline:
    return start_pipeline()


async def all_found(session: aiohttp.ClientSession, pipe: Pipeline, site: FeedSite) -> bool:
    return await indexed_once(session, pipe, (a.token for a in site.articles))


async def test_feeds_of_every_format_become_searchable_and_survive_a_killed_worker(
    site: FeedSite, pipeline: Pipeline
) -> None:
    site.add_feed("rss", "rss", 8)
    site.add_feed("atom", "atom", 6, summary_only=True)  # text comes from the article pages
    site.add_feed("json", "json", 6)
    for name in ("rss", "atom", "json"):
        await pipeline.acli("feeds", "add", site.feed_url(name))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        ok = await wait_until(lambda: all_found(session, pipeline, site), timeout=INGEST_TIMEOUT_S)
        assert ok, pipeline.log_tail()

        # Full-content entries carry the page's main text, not its boilerplate.
        atom_art = site.feeds["atom"].articles[0]
        hit = (await get_json(session, f"{pipeline.api}/search", q=atom_art.token))["hits"][0]
        record = await get_json(session, f"{pipeline.api}/articles/{hit['id']}")
        assert atom_art.paragraphs[2][:60] in record["text"]
        assert "We use cookies" not in record["text"]
        assert "Recent Posts" not in record["text"]
        assert record["url"].endswith(f"/articles/{atom_art.slug}")  # utm_* dropped

        # Kill a parser with SIGKILL while a larger batch flows; nothing may be lost.
        site.add_feed("bulk-rss", "rss", 150)
        site.add_feed("bulk-json", "json", 150)
        await pipeline.acli("feeds", "add", site.feed_url("bulk-rss"))
        await pipeline.acli("feeds", "add", site.feed_url("bulk-json"))
        killed = pipeline.kill_worker("parser")
        await asyncio.to_thread(pipeline.wait_for_worker, "parser", not_pid=killed)
        killed = pipeline.kill_worker("deduplicator")
        await asyncio.to_thread(pipeline.wait_for_worker, "deduplicator", not_pid=killed)

        ok = await wait_until(lambda: all_found(session, pipeline, site), timeout=INGEST_TIMEOUT_S)
        assert ok, pipeline.log_tail()

    listed = json.loads(await pipeline.acli("feeds", "list", "--json"))
    assert {f["url"] for f in listed} == {site.feed_url(n) for n in site.feeds}
    for feed in listed:
        assert feed["last_error"] is None
        assert feed["last_status"] in {"ok", "not_modified"}
        assert feed["last_polled_at"] is not None

    cli_hits = json.loads(await pipeline.acli("search", site.articles[0].token, "--json"))
    assert cli_hits["total"] == 1
