"""Completes articles whose page was deferred: a background loop of every
parser replica.

Each turn claims the due jobs of the retry queue (:mod:`.pagequeue`), fetches
their pages (conditionally when one was kept, :mod:`.pages`) and then, per job:

* the page arrived (or a 304 confirmed the kept one): the article is built
  again from the entry the job kept and the page, under the URL it was
  published with, so it keeps its id and the deduplicator sees a new version
  of a known article (``kind=update``); the event is published, the page
  remembered and the job removed in one atomic step;
* the failure passes again: the job goes back with one more attempt, due after
  the backoff and never before the host's Retry-After;
* otherwise, or after ``page_retry_attempts``: the job is removed (abandoned)
  and the article keeps the content it was published with.

Jobs a replica claimed and never settled (it died, Redis failed) come due again
when their lease runs out.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis

from services.parser.normalize import build_article
from services.parser.pagequeue import Claimed, PageQueue
from services.parser.pages import (
    PageSource,
    decode_state,
    encode_state,
    page_state_key,
    with_article_url,
)
from services.parser.retry import PageJob, next_attempt_at
from shared import metrics
from shared.logging import get_logger
from shared.pipeline import stages
from shared.pipeline.events import ArticleParsed
from shared.pipeline.stage import encode_event, sleep_or_stop
from shared.settings import Settings

log = get_logger(__name__)

IDLE_S = 1.0  # how often an idle replica looks for due jobs
CLAIM_LIMIT = 16  # jobs per turn (the page source's own concurrency bounds fetches)
EXTRACT_MARGIN_S = 60.0  # lease beyond the fetch budget, for extraction and publishing


class PageCompleter:
    def __init__(
        self, *, redis: Redis, settings: Settings, pages: PageSource, queue: PageQueue
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.pages = pages
        self.queue = queue
        self.lease = settings.fetch_timeout * 2 + EXTRACT_MARGIN_S

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await self.run_once(now=time.time()) == 0 and await sleep_or_stop(stop, IDLE_S):
                return

    async def run_once(self, *, now: float) -> int:
        """One turn: claim the due jobs and settle each; how many were claimed."""
        claimed = await self.queue.claim(now=now, limit=CLAIM_LIMIT, lease_until=now + self.lease)
        await asyncio.gather(*(self._settle(c, now=now) for c in claimed))
        metrics.PAGE_RETRY_QUEUED.set(await self.queue.size())
        return len(claimed)

    async def _settle(self, claimed: Claimed, *, now: float) -> None:
        job = claimed.job
        if job is None:
            if await self.queue.done(claimed):
                metrics.ARTICLE_PAGES.labels("abandoned").inc()
                log.warning("Deferred article page dropped: its retry job expired or is unreadable")
            return
        with structlog.contextvars.bound_contextvars(
            feed_id=job.feed_id, feed_url=job.feed_url, article_id=job.article_id
        ):
            try:
                await self._complete(claimed, job, now=now)
            except Exception as exc:  # Redis, a bug: the lease brings the job back
                log.warning(
                    "Deferred article page retry failed, will be tried again",
                    error=f"{type(exc).__name__}: {exc}",
                )

    async def _complete(self, claimed: Claimed, job: PageJob, *, now: float) -> None:
        s = self.settings
        state_key = page_state_key(job.page_url)
        state = decode_state(await self.redis.get(state_key))
        outcome = await self.pages.get(job.page_url, state=state)
        attempts = job.attempts + 1
        if outcome.state is not None and outcome.page is not None:
            article = build_article(
                job.entry,
                feed=job.feed,
                feed_id=job.feed_id,
                feed_url=job.feed_url,
                base_url=job.base_url,
                fetched_at=datetime.now(UTC),
                page=outcome.page,
                identity=(job.page_url, job.guid),
                pinned_url=job.article_url,
            )
            event = encode_event(ArticleParsed(article=article), max_bytes=s.max_event_bytes)
            kept = encode_state(with_article_url(outcome.state, article.url))
            if await self.queue.done(claimed, event=event, state=(state_key, kept)):
                metrics.ARTICLE_PAGES.labels("completed").inc()
                metrics.EVENTS_PUBLISHED.labels(stages.PARSER.name).inc()
                log.info("Deferred article page fetched, article updated", attempts=attempts)
            return
        if outcome.retry_after is not None and attempts < s.page_retry_attempts:
            due = next_attempt_at(
                now=now,
                attempts=attempts,
                host_wait=outcome.retry_after,
                base_delay=s.page_retry_delay,
                max_delay=s.max_error_backoff,
            )
            again = job.model_copy(update={"attempts": attempts})
            if await self.queue.again(claimed, again, due=due):
                log.info(
                    "Deferred article page still unavailable, will be fetched again",
                    result=outcome.result,
                    attempts=attempts,
                    retry_in=round(due - now),
                )
            return
        if await self.queue.done(claimed):
            metrics.ARTICLE_PAGES.labels("abandoned").inc()
            log.warning(
                "Deferred article page abandoned, the article keeps the feed's content",
                result=outcome.result,
                attempts=attempts,
            )
