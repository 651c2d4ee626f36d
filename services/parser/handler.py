"""The parser's batch handler: FeedFetched events in, ArticleParsed events out.

Per feed document, top to bottom: parse (a broken feed is recorded on the feed
and acknowledged, never retried; one read in recovery mode gets a warning) ->
drop entries already published in this version (seen markers in Redis) -> per
entry, decide from the feed's own text and the ``full_content`` mode whether
its page is needed, fetch and extract it if so (conditionally when it was
fetched before, see :mod:`.pages`), then build the article once -> record what
the feed taught us -> return the events plus the state writes (seen markers,
page states, retry jobs of deferred pages), which the stage commits in the
same MULTI/EXEC as the ack.

A page that could not be had for a reason that passes (see :mod:`.retry`) is
queued for a later fetch; :mod:`.completer` takes it from there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis

from services.parser.extract import PageContent, extract_page
from services.parser.formats import FeedParseError, ParsedFeed, RawEntry, parse_document
from services.parser.normalize import build_article, entry_content, entry_identity, needs_page
from services.parser.pagequeue import PageQueue
from services.parser.pages import (
    Fetcher,
    PageSource,
    decode_state,
    encode_state,
    page_state_key,
    with_article_url,
)
from services.parser.retry import PageJob, feed_hints, job_member, next_attempt_at
from services.parser.seen import entry_version, publish_rate_per_day, seen_key
from services.parser.urls import article_id_for
from shared import metrics
from shared.feeds import FeedRegistry
from shared.logging import get_logger
from shared.pipeline import streams
from shared.pipeline.events import Article, ArticleParsed, FeedFetched, FullContent
from shared.pipeline.stage import ItemResult, Output, TxOp
from shared.settings import Settings

log = get_logger(__name__)

# Documents larger than this are parsed in a worker thread so a huge feed does
# not stall the event loop (and with it heartbeats and other fetches).
THREAD_PARSE_BYTES = 256 * 1024
PAGE_CONCURRENCY = 16


class Extractor:
    """Runs trafilatura off the event loop: in ONE worker thread
    (``workers=0``) or in a pool of ``workers`` processes.

    One thread, never several: trafilatura shares module-level lxml XPath and
    cleaner objects, which are not thread-safe — concurrent extractions in a
    thread pool crashed the interpreter ("double free") in
    benchmarks/extraction_quality.py. Extraction is CPU-bound Python, so a
    process pool is also what scales it past one core.
    """

    def __init__(self, workers: int = 0) -> None:
        self._pool: concurrent.futures.Executor = (
            concurrent.futures.ProcessPoolExecutor(max_workers=workers)
            if workers > 0
            else concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        )

    async def extract(self, page: bytes, *, url: str) -> PageContent | None:
        loop = asyncio.get_running_loop()
        content, seconds = await loop.run_in_executor(self._pool, _extract_in_worker, page, url)
        metrics.EXTRACTION_SECONDS.observe(seconds)  # work only, not time queued
        return content

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _extract_in_worker(page: bytes, url: str) -> tuple[PageContent | None, float]:
    started = time.thread_time()  # CPU of this worker thread only
    content = extract_page(page, url=url)
    return content, time.thread_time() - started


@dataclass(slots=True)
class _Pending:
    entry: RawEntry
    version: str
    identity: tuple[str | None, str | None]


@dataclass(slots=True)
class _Built:
    """An entry's article, the state writes that go with it, and the retry job
    of its page when the page was deferred (``host_wait``: the host's wait)."""

    article: Article
    ops: list[TxOp]
    job: PageJob | None = None
    host_wait: float = 0.0


class ParserHandler:
    def __init__(
        self,
        *,
        redis: Redis,
        settings: Settings,
        fetcher: Fetcher | None,
        extractor: Extractor | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.extractor = extractor or Extractor(0)
        self.pages = (
            PageSource(fetcher, self.extractor, concurrency=PAGE_CONCURRENCY)
            if fetcher is not None
            else None
        )
        self.registry = FeedRegistry(redis)
        self.seen_ttl = int(settings.dedup_window_days * 86400)
        self.queue = PageQueue(redis, ttl=self.seen_ttl)

    async def __call__(self, events: Sequence[FeedFetched]) -> list[ItemResult]:
        return list(await asyncio.gather(*(self._guarded(e) for e in events)))

    async def _guarded(self, event: FeedFetched) -> ItemResult:
        with structlog.contextvars.bound_contextvars(
            feed_id=event.feed_id, feed_url=event.feed_url
        ):
            try:
                return await self.handle(event)
            except Exception as exc:  # transient (Redis, ...): leave pending, retry
                log.warning("Feed document handling failed", error=f"{type(exc).__name__}: {exc}")
                return ItemResult(error=exc)

    async def handle(self, event: FeedFetched) -> ItemResult:
        try:
            parsed = await self._parse(event)
        except FeedParseError as exc:
            metrics.PARSE_ERRORS.labels(exc.reason).inc()
            message = f"{exc.reason}: {exc}"
            log.warning("Feed could not be parsed", reason=exc.reason, error=str(exc)[:300])
            await self.registry.record_parse(event.feed_id, error=message[:500])
            return ItemResult()  # acknowledged: the document will never parse

        warning = None
        if parsed.recovered:
            metrics.PARSE_WARNINGS.labels("recovered").inc()
            warning = (
                f"recovered: not well-formed XML ({parsed.recovered}); read in recovery mode,"
                f" {len(parsed.entries)} entries kept"
            )
            log.warning("Feed document is broken, read in recovery mode", problem=parsed.recovered)

        base_url = event.final_url or event.feed_url
        fresh = await self._unseen(event, parsed, base_url=base_url)
        outputs: list[Output] = []
        tx_ops: list[TxOp] = []
        built = await asyncio.gather(
            *(self._article(event, parsed, p, base_url=base_url) for p in fresh)
        )
        for pending, one in zip(fresh, built, strict=True):
            if one is None:
                continue
            article = one.article
            outputs.append(Output(streams.PARSED, ArticleParsed(article=article)))
            tx_ops.append(_mark_seen(seen_key(pending.version), self.seen_ttl))
            tx_ops.extend(one.ops)
            metrics.ARTICLE_LANGUAGES.labels(article.language or "unknown").inc()
        tx_ops.extend(await self._defer([b for b in built if b is not None and b.job is not None]))
        if outputs:
            metrics.ENTRIES_PARSED.labels(parsed.format).inc(len(outputs))
        if parsed.entry_errors:
            metrics.PARSE_ERRORS.labels("entry").inc(parsed.entry_errors)

        await self.registry.record_parse(
            event.feed_id,
            error=None,
            warning=warning,
            entry_count=len(parsed.entries),
            publish_rate=publish_rate_per_day([e.published or e.updated for e in parsed.entries]),
            feed_ttl=parsed.ttl_seconds,
            title=parsed.title or None,
            site_url=parsed.site_url,
        )
        log.info(
            "Feed parsed",
            format=parsed.format,
            parser=parsed.parser,
            entries=len(parsed.entries),
            published=len(outputs),
            skipped=len(parsed.entries) - len(fresh),
            entry_errors=parsed.entry_errors,
        )
        return ItemResult(outputs=outputs, tx_ops=tx_ops)

    async def _parse(self, event: FeedFetched) -> ParsedFeed:
        if len(event.body) > THREAD_PARSE_BYTES:
            return await asyncio.to_thread(
                parse_document, event.body, content_type=event.content_type
            )
        return parse_document(event.body, content_type=event.content_type)

    async def _unseen(
        self, event: FeedFetched, parsed: ParsedFeed, *, base_url: str
    ) -> list[_Pending]:
        """Entries whose current version was not published before (one round trip)."""
        pending: list[_Pending] = []
        known: set[str] = set()
        for entry in parsed.entries:
            identity = entry_identity(entry, base_url=base_url)
            version = entry_version(event.feed_id, entry, url=identity[0])
            if version not in known:  # the same entry twice in one document
                known.add(version)
                pending.append(_Pending(entry, version, identity))
        if not pending:
            return []
        # One MGET rather than a pipeline of EXISTS: one command to pack and one
        # reply to parse instead of one per entry (all keys share the hash slot).
        flags = await self.redis.mget([seen_key(p.version) for p in pending])
        return [p for p, seen in zip(pending, flags, strict=True) if seen is None]

    async def _article(
        self,
        event: FeedFetched,
        parsed: ParsedFeed,
        pending: _Pending,
        *,
        base_url: str,
    ) -> _Built | None:
        """One entry -> article; a failure here loses this entry only."""
        try:
            url, guid = pending.identity
            content = entry_content(pending.entry, link_base=url or base_url)
            build = functools.partial(
                build_article,
                pending.entry,
                feed=parsed,
                feed_id=event.feed_id,
                feed_url=event.feed_url,
                base_url=base_url,
                fetched_at=event.fetched_at,
                identity=pending.identity,
                content=content,
            )
            if (
                self.pages is None
                or not url
                or not self._wants_page(event.full_content, content.text)
            ):
                return _Built(build(), [])
            state = decode_state(await self.redis.get(page_state_key(url)))
            article_id = article_id_for(url=url, feed_id=event.feed_id, guid=guid)
            with structlog.contextvars.bound_contextvars(article_id=article_id):
                outcome = await self.pages.get(url, state=state)
            article = build(
                page=outcome.page, pinned_url=state.article_url if state is not None else None
            )
            member = job_member(event.feed_id, url)
            ops: list[TxOp] = []
            if outcome.state is not None:
                kept = encode_state(with_article_url(outcome.state, article.url))
                ops.append(_store(page_state_key(url), kept, self.seen_ttl))
            if outcome.retry_after is None:
                ops.append(self.queue.clear_op(member))
                return _Built(article, ops)
            job = PageJob(
                feed_id=event.feed_id,
                feed_url=event.feed_url,
                base_url=base_url,
                page_url=url,
                guid=guid,
                article_url=article.url,
                article_id=article.article_id,
                entry=pending.entry,
                feed=feed_hints(parsed),
                fetched_at=event.fetched_at,
                deferred_at=time.time(),
            )
            return _Built(article, ops, job=job, host_wait=outcome.retry_after)
        except Exception as exc:
            metrics.PARSE_ERRORS.labels("entry").inc()
            log.warning(
                "Entry skipped", guid=pending.entry.guid, error=f"{type(exc).__name__}: {exc}"
            )
            return None

    async def _defer(self, deferred: Sequence[_Built]) -> list[TxOp]:
        """Retry jobs for the pages that could not be had, within the queue's bound."""
        if not deferred:
            return []
        s = self.settings
        room = 0
        if s.page_retry_attempts > 0:
            room = max(s.page_retry_max_queued - await self.queue.size(), 0)
        ops: list[TxOp] = []
        now = time.time()
        for built in deferred:
            assert built.job is not None
            a = built.article
            with structlog.contextvars.bound_contextvars(article_id=a.article_id):
                if room <= 0:
                    metrics.ARTICLE_PAGES.labels("abandoned").inc()
                    log.warning(
                        "Article page deferred but not queued for a retry",
                        reason="retries disabled" if s.page_retry_attempts == 0 else "queue full",
                    )
                    continue
                room -= 1
                due = next_attempt_at(
                    now=now,
                    attempts=0,
                    host_wait=built.host_wait,
                    base_delay=s.page_retry_delay,
                    max_delay=s.max_error_backoff,
                )
                ops.append(self.queue.enqueue_op(built.job, due=due))
                metrics.ARTICLE_PAGES.labels("deferred").inc()
                log.info("Article page deferred, will be fetched again", retry_in=round(due - now))
        return ops

    def _wants_page(self, mode: FullContent, feed_text: str) -> bool:
        if mode is FullContent.NEVER:
            return False
        return mode is FullContent.ALWAYS or needs_page(feed_text)


def _store(key: str, value: bytes, ttl: int) -> TxOp:
    def op(pipe: Any) -> None:
        pipe.set(key, value, ex=ttl)

    return op


def _mark_seen(key: str, ttl: int) -> TxOp:
    def op(pipe: Any) -> None:
        pipe.set(key, b"1", ex=ttl)

    return op
