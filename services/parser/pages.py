"""Article pages: fetched, fetched again conditionally, and what is kept of them.

A page fetched once leaves a :class:`PageState` in Redis (key
:func:`page_state_key`, one per page URL, the dedup window as TTL): its
validators (ETag, Last-Modified), the URL the fetch ended on, a digest of its
extracted text, the URL its article was published under, and the extracted
page itself. When the entry changes later, the page is fetched again with
``If-None-Match`` / ``If-Modified-Since``; a ``304 Not Modified`` then reuses
the kept page, so the article is rebuilt from the entry's new title, summary
and dates *and* its page text. The page is kept rather than re-read from the
index because the parser publishes whole articles: every stage after it stays
unaware of conditional fetches. Kept compressed (zlib, ~3x on article text);
a page over :data:`MAX_KEPT_PAGE_BYTES` compressed keeps only its article URL,
and is then fetched again unconditionally.

When a fetch fails, the kept page (if any) still gives the article its last
known text; whether the failure is worth a later retry is
:func:`services.parser.retry.retry_after`'s call.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any, Final, Protocol

import xxhash
from pydantic import BaseModel, ValidationError

from services.parser.extract import PageContent
from services.parser.retry import retry_after
from services.parser.urls import article_id_for
from shared import metrics
from shared.fetch.fetcher import FetchOutcome, FetchResult
from shared.logging import get_logger
from shared.pipeline import streams

log = get_logger(__name__)

MAX_KEPT_PAGE_BYTES: Final = 128 * 1024


class PageState(BaseModel):
    """What is remembered about an article page between fetches."""

    final_url: str
    etag: str | None = None
    last_modified: str | None = None
    digest: str = ""
    article_url: str | None = None
    page: PageContent | None = None

    @property
    def reusable(self) -> bool:
        """Whether a 304 could be answered from it: validators and a kept page."""
        return self.page is not None and bool(self.etag or self.last_modified)


def page_state_key(page_url: str) -> str:
    """One state per page URL (the entry's canonical link), whichever feed links it."""
    return f"{streams.PAGE_STATE_PREFIX}{article_id_for(url=page_url, feed_id='', guid=None)}"


def text_digest(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8", "surrogatepass"))


def encode_state(state: PageState) -> bytes:
    data = zlib.compress(state.model_dump_json().encode(), 6)
    if len(data) > MAX_KEPT_PAGE_BYTES and state.page is not None:
        bare = state.model_copy(update={"page": None, "etag": None, "last_modified": None})
        data = zlib.compress(bare.model_dump_json().encode(), 6)
    return data


def decode_state(raw: bytes | str | None) -> PageState | None:
    """None when absent or unreadable (an older layout, damage): the page is
    then simply fetched as if for the first time."""
    if not raw or isinstance(raw, str):
        return None
    try:
        return PageState.model_validate_json(zlib.decompress(raw))
    except (zlib.error, ValidationError, ValueError):
        return None


class Fetcher(Protocol):
    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        kind: Any = "feed",
    ) -> FetchResult: ...


class Extracting(Protocol):
    async def extract(self, page: bytes, *, url: str) -> PageContent | None: ...


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """One attempt at an article page.

    ``page``: the text to build the article with (fresh, reused on a 304, or
    the kept one when the fetch failed), None when there is none.
    ``state``: what to remember now (None: nothing new was learnt).
    ``retry_after``: set when the fetch failed in a way worth retrying later,
    the least number of seconds to wait (the host's Retry-After, else 0).
    ``result``: what happened, a metric label.
    """

    page: PageContent | None
    state: PageState | None = None
    retry_after: float | None = None
    result: str = "ok"

    @property
    def fresh(self) -> bool:
        """The page as the site serves it now (fetched, or confirmed by a 304)."""
        return self.state is not None


class PageSource:
    """Fetches article pages through the shared fetcher (politeness, SSRF guard)
    and extracts them, at most ``concurrency`` at a time per process."""

    def __init__(self, fetcher: Fetcher, extractor: Extracting, *, concurrency: int) -> None:
        self.fetcher = fetcher
        self.extractor = extractor
        self._slots = asyncio.Semaphore(concurrency)

    async def get(self, url: str, *, state: PageState | None) -> PageOutcome:
        """The page at ``url``, conditionally when ``state`` can answer a 304."""
        known = state if state is not None and state.reusable else None
        async with self._slots:
            fetched = await self.fetcher.fetch(
                url,
                kind="page",
                etag=known.etag if known else None,
                last_modified=known.last_modified if known else None,
            )
            if fetched.result is FetchOutcome.NOT_MODIFIED and (
                known is None or fetched.final_url != known.final_url
            ):
                # A 304 for a resource we kept nothing of (the redirect now
                # ends elsewhere): ask again without validators.
                fetched = await self.fetcher.fetch(url, kind="page")
        outcome = await self._outcome(fetched, url=url, known=known, state=state)
        metrics.ARTICLE_FETCHES.labels(outcome.result).inc()
        return outcome

    async def _outcome(
        self, fetched: FetchResult, *, url: str, known: PageState | None, state: PageState | None
    ) -> PageOutcome:
        kept = state.page if state is not None else None
        if fetched.result is FetchOutcome.NOT_MODIFIED and known is not None:
            log.info("Article page not modified, its kept text is reused")
            refreshed = known.model_copy(
                update={
                    "etag": fetched.etag or known.etag,
                    "last_modified": fetched.last_modified or known.last_modified,
                }
            )
            return PageOutcome(known.page, refreshed, result="not_modified")
        outcome = str(fetched.result.value)
        if not fetched.ok:
            wait = retry_after(fetched)
            log.info(
                "Article page not fetched, using "
                + ("its last kept text" if kept else "feed content"),
                result=outcome,
                status=fetched.status,
                error=fetched.error,
                retry=wait is not None,
            )
            return PageOutcome(kept, retry_after=wait, result=outcome)
        final_url = fetched.final_url or url
        page = await self.extractor.extract(fetched.body, url=final_url)
        if page is None:
            log.info("No main content found on article page")
            return PageOutcome(kept, result="no_content")
        digest = text_digest(page.text)
        if state is not None and state.digest and state.digest != digest:
            log.info("Article page changed since it was last fetched")
        fresh = PageState(
            final_url=final_url,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            digest=digest,
            page=page,
        )
        return PageOutcome(page, fresh, result=outcome)


def with_article_url(state: PageState, url: str | None) -> PageState:
    return state.model_copy(update={"article_url": url})
