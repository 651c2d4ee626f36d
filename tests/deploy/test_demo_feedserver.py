"""deploy/demo/feedserver.py: the offline feed site of the demo profile."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.deploy.tools import DEPLOY, load_script

BASE = "http://demo-feeds:8000"
Client = TestClient[Any, Any]  # a type alias for the annotations


def load_feedserver() -> ModuleType:
    return load_script(DEPLOY / "demo" / "feedserver.py", "feedpipe_demo_feedserver")


@pytest.fixture(scope="module")
def feedserver() -> ModuleType:
    return load_feedserver()


@pytest.fixture
async def client(feedserver: ModuleType) -> AsyncIterator[Client]:
    app = feedserver.make_app(base_url=BASE, new_every=60.0)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(
    ("name", "version"), [("harbour.rss", "rss20"), ("science.atom", "atom10")]
)
async def test_xml_feeds_parse_and_link_to_article_pages(
    client: Client,
    name: str,
    version: str,
) -> None:
    resp = await client.get(f"/feeds/{name}")
    assert resp.status == 200
    parsed = feedparser.parse(await resp.read())
    assert parsed.version == version
    assert not parsed.bozo
    assert parsed.entries
    assert all(e.link.startswith(f"{BASE}/articles/") for e in parsed.entries)


async def test_json_feed_is_french_json_feed_1_1(client: Client) -> None:
    resp = await client.get("/feeds/quartier.json")
    doc = json.loads(await resp.read())
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["language"] == "fr"
    assert len(doc["items"]) == 3


async def test_unchanged_feed_answers_304_to_its_etag(client: Client) -> None:
    first = await client.get("/feeds/science.atom")
    etag = first.headers["ETag"]
    again = await client.get("/feeds/science.atom", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_removed_feed_answers_404(client: Client) -> None:
    assert (await client.get("/feeds/gone.xml")).status == 404


async def test_article_page_wraps_the_story_in_boilerplate(client: Client) -> None:
    page = await (await client.get("/articles/kelp-survey.html")).text()
    assert "Volunteer divers map the kelp forest" in page
    assert "<article>" in page
    assert "Most read" in page


def test_one_story_is_syndicated_in_two_feeds(feedserver: ModuleType) -> None:
    rss = set(feedserver.FEEDS["harbour.rss"].stories)
    atom = set(feedserver.FEEDS["science.atom"].stories)
    assert rss & atom


def test_a_new_bulletin_appears_each_period(feedserver: ModuleType) -> None:
    before = feedserver.feed_stories("harbour.rss", 1000.0, 60.0)
    after = feedserver.feed_stories("harbour.rss", 1060.0, 60.0)
    assert after[0].slug not in {s.slug for s in before}
    assert after[1].slug == before[0].slug


def test_future_bulletins_are_not_served(feedserver: ModuleType) -> None:
    assert feedserver.find_story("bulletin-99", 60.0 * 10, 60.0) is None
    assert feedserver.find_story("bulletin-9", 60.0 * 10, 60.0) is not None
