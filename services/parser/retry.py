"""Deferred article pages: which failures are worth a later fetch, when, and
what a retry job holds (pure; the queue in Redis is :mod:`.pagequeue`).

An article whose page could not be had is published at once from the feed's
own content; its page is put on the retry queue when the failure is one that
passes: the site asked to wait (429, 503 with or without ``Retry-After``), a
gateway failed (502, 504), the connection failed or timed out, or feedpipe's
own per-host politeness budget deferred the fetch. A 404, a refused address, a
body too large or a page without main text are final: retrying would not help.

Later fetches come no earlier than the host's ``Retry-After`` and back off
exponentially (``page_retry_delay`` x 2^attempt); after ``page_retry_attempts``
of them the page is abandoned and the article keeps the feed's content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel

from services.parser.formats import ParsedFeed, RawEntry
from services.parser.urls import article_id_for
from shared.fetch.fetcher import FetchOutcome, FetchResult

PASSING_STATUSES: Final = frozenset({429, 502, 503, 504})


def retry_after(fetched: FetchResult) -> float | None:
    """Seconds a retry must wait at least (0 when the site named no time), or
    None when the failure is final (or there was none)."""
    if fetched.result is FetchOutcome.DEFERRED:
        return fetched.retry_after or 0.0
    if fetched.result is FetchOutcome.HTTP_ERROR and fetched.status in PASSING_STATUSES:
        return fetched.retry_after or 0.0
    if fetched.result is FetchOutcome.NETWORK_ERROR:
        return 0.0
    return None


def next_attempt_at(
    *, now: float, attempts: int, host_wait: float, base_delay: float, max_delay: float
) -> float:
    """When the next fetch of a page deferred ``attempts`` times already (0 for
    the first deferral) is due: the backoff, never before the host's wait."""
    backoff = min(base_delay * 2.0**attempts, max_delay)
    return now + max(backoff, min(host_wait, max_delay))


class PageJob(BaseModel):
    """A deferred page and everything needed to rebuild its article once it
    arrives: the entry as the feed gave it, the feed's hints, and the URL the
    article was published under (the completed article keeps it)."""

    feed_id: str
    feed_url: str
    base_url: str
    page_url: str
    guid: str | None
    article_url: str | None
    article_id: str
    entry: RawEntry
    feed: ParsedFeed
    fetched_at: datetime
    attempts: int = 0
    deferred_at: float

    @property
    def member(self) -> str:
        return job_member(self.feed_id, self.page_url)


def job_member(feed_id: str, page_url: str) -> str:
    """One retry job per feed and page: a second feed linking the same page has
    its own entry (and its own claim on the article) to complete."""
    return f"{feed_id}:{article_id_for(url=page_url, feed_id=feed_id, guid=None)}"


def feed_hints(feed: ParsedFeed) -> ParsedFeed:
    """The feed as a job keeps it: what ``build_article`` reads, not its entries."""
    return ParsedFeed(
        format=feed.format,
        parser=feed.parser,
        title=feed.title,
        site_url=feed.site_url,
        language=feed.language,
    )
