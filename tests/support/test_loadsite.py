"""The benchmark load on a feed site (tests.support.loadsite)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession

from tests.support.feedsite import FeedSite
from tests.support.loadsite import EMPTY_ETAG, LoadConfig, LoadFeeds, load_site

FULL = LoadConfig(feeds=3, entries=2, mode="full", words=60, page_kb=10)


@pytest.fixture
async def loaded() -> AsyncIterator[tuple[FeedSite, LoadFeeds]]:
    site = FeedSite(page_kb=FULL.page_kb, record=False)
    load = LoadFeeds(site, FULL)
    async with site:
        yield site, load


def test_full_mode_entries_carry_a_summary_and_pages_the_text() -> None:
    site = FeedSite(page_kb=FULL.page_kb)
    load = LoadFeeds(site, FULL)
    body, _ = load.render(0, 0)
    article = load.articles(0, 0)[0]
    assert article.paragraphs[2] not in body.decode()
    page = site.render_page(article).decode()
    assert article.paragraphs[2] in page
    assert "Recent Posts" in page


async def test_each_request_with_budget_left_gets_a_new_generation(
    loaded: tuple[FeedSite, LoadFeeds],
) -> None:
    site, load = loaded
    async with ClientSession() as http:
        first = await (await http.get(site.url("/feeds/1"))).read()
        second = await (await http.get(site.url("/feeds/1"))).read()
    assert first != second
    assert load.s.served_gen[1] == 1
    assert load.s.emitted == 4


async def test_without_budget_every_feed_is_a_304_to_the_empty_etag() -> None:
    site = load_site(LoadConfig(feeds=5, entries=1, max_articles=0))
    async with site, ClientSession() as http:
        resp = await http.get(site.url("/feeds/4"), headers={"If-None-Match": EMPTY_ETAG})
    assert resp.status == 304


async def test_a_page_of_a_generation_not_served_yet_is_404(
    loaded: tuple[FeedSite, LoadFeeds],
) -> None:
    site, _ = loaded
    async with ClientSession() as http:
        resp = await http.get(site.url("/articles/2/0/0"))
    assert resp.status == 404
