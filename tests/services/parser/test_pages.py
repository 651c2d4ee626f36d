"""Article pages fetched, fetched again conditionally, and kept (a local site)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from services.parser.extract import PageContent
from services.parser.handler import Extractor
from services.parser.pages import (
    MAX_KEPT_PAGE_BYTES,
    PageSource,
    PageState,
    decode_state,
    encode_state,
    page_state_key,
)
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline import streams
from shared.settings import Settings
from tests.services.parser.pages import PARAGRAPHS, ServedPage
from tests.support.feedsite import FeedSite


def content(text: str = "Body text.", **kw) -> PageContent:
    values = dict(
        text=text, html=f"<p>{text}</p>", canonical_url=None, title="T", site_name=None,
        published=datetime(2025, 4, 2, 8, tzinfo=UTC), language="en", authors=["A"],
        url="https://x.org/a",
    )  # fmt: skip
    values.update(kw)
    return PageContent(**values)  # type: ignore[arg-type]


def test_state_survives_encoding():
    state = PageState(
        final_url="https://x.org/a", etag='"v1"', last_modified="Wed, 02 Apr 2025 08:00:00 GMT",
        digest="abc", article_url="https://x.org/a", page=content(),
    )  # fmt: skip
    assert decode_state(encode_state(state)) == state


def test_unreadable_state_counts_as_none():
    assert decode_state(b"not zlib") is None
    assert decode_state(None) is None


def test_a_page_too_large_to_keep_keeps_only_its_article_url():
    noise = hashlib.sha256(b"x").hexdigest()
    big = " ".join(hashlib.sha256(f"{noise}{i}".encode()).hexdigest() for i in range(8000))
    state = PageState(final_url="https://x.org/a", etag='"v1"', article_url="https://x.org/a",
                      page=content(big))  # fmt: skip
    encoded = encode_state(state)
    assert len(encoded) <= MAX_KEPT_PAGE_BYTES
    kept = decode_state(encoded)
    assert kept is not None
    assert kept.article_url == "https://x.org/a"
    assert kept.page is None
    assert not kept.reusable


def test_state_key_is_per_page_url():
    assert page_state_key("https://x.org/a").startswith(streams.PAGE_STATE_PREFIX)
    assert page_state_key("https://x.org/a") != page_state_key("https://x.org/b")


@pytest.fixture
async def source() -> AsyncIterator[PageSource]:
    settings = Settings(allow_private_networks=True, fetch_timeout=5.0)
    fetcher = SafeFetcher(settings)
    extractor = Extractor(0)
    yield PageSource(fetcher, extractor, concurrency=4)
    await fetcher.aclose()
    extractor.close()


def sent(site: FeedSite, path: str) -> list[dict[str, str]]:
    return [s.headers for s in site.seen if s.path == path]


async def test_first_fetch_is_unconditional_and_remembers_validators(site, source):
    page = ServedPage(site, "/a")
    outcome = await source.get(page.url, state=None)
    assert outcome.result == "ok"
    assert outcome.page is not None
    assert PARAGRAPHS[0] in outcome.page.text
    assert outcome.state is not None
    assert outcome.state.etag is not None
    assert outcome.state.page == outcome.page
    assert "If-None-Match" not in sent(site, "/a")[0]


async def test_unchanged_page_answers_304_and_its_kept_text_is_reused(site, source):
    page = ServedPage(site, "/a")
    first = await source.get(page.url, state=None)
    again = await source.get(page.url, state=first.state)
    assert again.result == "not_modified"
    assert sent(site, "/a")[1]["If-None-Match"] == first.state.etag
    assert again.page == first.page
    assert again.state is not None
    assert again.state.etag == first.state.etag


async def test_changed_page_is_fetched_and_extracted_again(site, source):
    page = ServedPage(site, "/a")
    first = await source.get(page.url, state=None)
    page.html = page.html.replace(PARAGRAPHS[1], "The engineers now say the tower is sound.")
    again = await source.get(page.url, state=first.state)
    assert again.result == "ok"
    assert "the tower is sound" in again.page.text
    assert again.state.digest != first.state.digest


async def test_a_site_asking_to_wait_gives_a_retry_and_the_kept_text(site, source):
    page = ServedPage(site, "/a")
    first = await source.get(page.url, state=None)
    page.queued.append(web.Response(status=503, headers={"Retry-After": "120"}))
    busy = await source.get(page.url, state=first.state)
    assert busy.retry_after == 120.0
    assert busy.page == first.page  # the last known text
    assert busy.state is None
    assert not busy.fresh


async def test_a_missing_page_is_not_retried(site, source):
    missing = site.status("/gone", 404)
    outcome = await source.get(missing, state=None)
    assert outcome.retry_after is None
    assert outcome.page is None
    assert outcome.result == "http_error"
