"""The feed site every test fetches from (tests.support.feedsite)."""

from __future__ import annotations

import json
import socket

import feedparser
import pytest
from aiohttp import ClientSession

from tests.support.feedsite import FeedSite, loopback_host
from tests.support.fixtures import SitesFactory


async def test_a_generated_feed_answers_304_to_its_etag_until_it_changes(site: FeedSite) -> None:
    site.add_feed("news", "rss", 2)
    async with ClientSession() as http:
        first = await http.get(site.feed_url("news"))
        etag = first.headers["ETag"]
        again = await http.get(site.feed_url("news"), headers={"If-None-Match": etag})
        site.add_articles("news", 1)
        changed = await http.get(site.feed_url("news"), headers={"If-None-Match": etag})
    assert again.status == 304
    assert changed.status == 200
    assert changed.headers["ETag"] != etag


async def test_if_none_match_decides_alone_when_both_validators_are_sent(site: FeedSite) -> None:
    stamp = "Mon, 01 Jan 2024 00:00:00 GMT"
    url = site.feed("/f", etag='"v2"', last_modified=stamp)
    async with ClientSession() as http:
        stale = await http.get(url, headers={"If-None-Match": '"v1"', "If-Modified-Since": stamp})
        dated = await http.get(url, headers={"If-Modified-Since": stamp})
    assert stale.status == 200
    assert dated.status == 304


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
async def test_entries_of_every_format_link_to_their_article_pages(
    site: FeedSite, kind: str
) -> None:
    feed = site.add_feed("news", kind, 3)
    async with ClientSession() as http:
        body = await (await http.get(site.feed_url("news"))).read()
    if kind == "json":
        links = [item["url"] for item in json.loads(body)["items"]]
    else:
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        links = [entry.link for entry in parsed.entries]
    assert links == [site.article_url(a) for a in feed.articles]


async def test_an_article_page_answers_304_to_its_etag_until_it_changes(site: FeedSite) -> None:
    article = site.add_feed("news", "rss", 1, summary_only=True).articles[0]
    async with ClientSession() as http:
        first = await http.get(site.article_url(article))
        etag = first.headers["ETag"]
        again = await http.get(site.article_url(article), headers={"If-None-Match": etag})
        site.update_article(article.slug, paragraphs=("A rewritten story.",))
        changed = await http.get(site.article_url(article), headers={"If-None-Match": etag})
    assert again.status == 304
    assert changed.status == 200
    assert "A rewritten story." in await changed.text()


async def test_an_article_page_holds_the_text_inside_the_site_template(site: FeedSite) -> None:
    article = site.add_feed("news", "atom", 1, summary_only=True).articles[0]
    async with ClientSession() as http:
        page = await (await http.get(site.article_url(article))).text()
    assert article.paragraphs[1] in page
    assert "We use cookies" in page
    assert f"<link rel='canonical' href='{site.permalink(article)}'>" in page


async def test_an_updated_article_is_served_changed_in_its_feed_and_on_its_page(
    site: FeedSite,
) -> None:
    article = site.add_feed("news", "rss", 1).articles[0]
    site.update_article(article.slug, title="A corrected headline")
    async with ClientSession() as http:
        feed = await (await http.get(site.feed_url("news"))).text()
        page = await (await http.get(site.permalink(article))).text()
    assert "A corrected headline" in feed
    assert "A corrected headline" in page


async def test_each_of_several_sites_listens_on_its_own_loopback_address(
    feed_sites: SitesFactory,
) -> None:
    sites = await feed_sites(3)
    assert [s.host for s in sites] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    for s in sites:
        with socket.create_connection((s.host, s.port), timeout=5) as conn:
            assert conn.getpeername()[0] == s.host
        assert s.base == f"http://{s.host}:{s.port}"


async def test_tokens_of_different_sites_never_collide(feed_sites: SitesFactory) -> None:
    sites = await feed_sites(2)
    for s in sites:
        s.add_feed("news", "rss", 3)
    tokens = [a.token for s in sites for a in s.articles]
    assert len(set(tokens)) == 6
    assert all(t.isalnum() for t in tokens)


async def test_another_sites_article_is_served_as_a_syndicated_copy(
    feed_sites: SitesFactory,
) -> None:
    origin, copier = await feed_sites(2)
    article = origin.add_feed("news", "rss", 1).articles[0]
    copier.add_feed("wire", "json", articles=[article])
    async with ClientSession() as http:
        page = await (await http.get(copier.permalink(article))).text()
    assert article.paragraphs[0] in page
    assert copier.permalink(article).startswith(copier.base)


def test_loopback_hosts_skip_the_usual_address_and_stay_in_127_slash_8() -> None:
    assert loopback_host(0) == "127.0.0.2"
    assert loopback_host(249) == "127.0.0.251"
    assert loopback_host(250) == "127.0.1.2"
