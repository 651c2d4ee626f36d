"""The parser's batch handler: FeedFetched events in, ArticleParsed events out.

Per feed document, top to bottom: parse (a broken feed is recorded on the feed
and acknowledged, never retried) -> drop entries already published in this
version (seen markers in Redis) -> per entry, decide from the feed's own text
and the ``full_content`` mode whether its page is needed, fetch and extract it
if so, then build the article once -> record what the feed taught us -> return
the events plus the seen-marker writes, which the stage commits in the same
MULTI/EXEC as the ack.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog
from redis.asyncio import Redis

from services.parser.extract import PageContent, extract_page
from services.parser.formats import FeedParseError, ParsedFeed, RawEntry, parse_document
from services.parser.normalize import build_article, entry_content, entry_identity, needs_page
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


class FetchResultLike(Protocol):
    @property
    def ok(self) -> bool: ...

    result: Any
    body: bytes
    final_url: str
    error: str | None


class PageFetcher(Protocol):
    async def fetch(
        self, url: str, *, kind: Literal["feed", "page"] = "feed"
    ) -> FetchResultLike: ...


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


class ParserHandler:
    def __init__(
        self,
        *,
        redis: Redis,
        settings: Settings,
        fetcher: PageFetcher | None,
        extractor: Extractor | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.fetcher = fetcher
        self.extractor = extractor or Extractor(0)
        self.registry = FeedRegistry(redis)
        self.seen_ttl = int(settings.dedup_window_days * 86400)
        self._pages = asyncio.Semaphore(PAGE_CONCURRENCY)

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

        base_url = event.final_url or event.feed_url
        fresh = await self._unseen(event, parsed, base_url=base_url)
        outputs: list[Output] = []
        tx_ops: list[TxOp] = []
        results = await asyncio.gather(
            *(self._article(event, parsed, p, base_url=base_url) for p in fresh)
        )
        for pending, article in zip(fresh, results, strict=True):
            if article is None:
                continue
            outputs.append(Output(streams.PARSED, ArticleParsed(article=article)))
            tx_ops.append(_mark_seen(seen_key(pending.version), self.seen_ttl))
            metrics.ARTICLE_LANGUAGES.labels(article.language or "unknown").inc()
        if outputs:
            metrics.ENTRIES_PARSED.labels(parsed.format).inc(len(outputs))
        if parsed.entry_errors:
            metrics.PARSE_ERRORS.labels("entry").inc(parsed.entry_errors)

        await self.registry.record_parse(
            event.feed_id,
            error=None,
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
        self, event: FeedFetched, parsed: ParsedFeed, pending: _Pending, *, base_url: str
    ) -> Article | None:
        """One entry -> article; a failure here loses this entry only."""
        try:
            url, guid = pending.identity
            content = entry_content(pending.entry, link_base=url or base_url)
            page = None
            if url and self._wants_page(event.full_content, content.text):
                article_id = article_id_for(url=url, feed_id=event.feed_id, guid=guid)
                page = await self._page(url, article_id=article_id)
            return build_article(
                pending.entry,
                feed=parsed,
                feed_id=event.feed_id,
                feed_url=event.feed_url,
                base_url=base_url,
                fetched_at=event.fetched_at,
                page=page,
                identity=pending.identity,
                content=content,
            )
        except Exception as exc:
            metrics.PARSE_ERRORS.labels("entry").inc()
            log.warning(
                "Entry skipped", guid=pending.entry.guid, error=f"{type(exc).__name__}: {exc}"
            )
            return None

    def _wants_page(self, mode: FullContent, feed_text: str) -> bool:
        if self.fetcher is None or mode is FullContent.NEVER:
            return False
        return mode is FullContent.ALWAYS or needs_page(feed_text)

    async def _page(self, url: str, *, article_id: str) -> PageContent | None:
        assert self.fetcher is not None
        with structlog.contextvars.bound_contextvars(article_id=article_id):
            async with self._pages:
                fetched = await self.fetcher.fetch(url, kind="page")
            outcome = str(getattr(fetched.result, "value", fetched.result))
            if not fetched.ok:
                metrics.ARTICLE_FETCHES.labels(outcome).inc()
                log.info(
                    "Article page not fetched, using feed content",
                    result=outcome,
                    error=fetched.error,
                )
                return None
            page = await self.extractor.extract(fetched.body, url=fetched.final_url or url)
            if page is None:
                metrics.ARTICLE_FETCHES.labels("no_content").inc()
                log.info("No main content found on article page")
                return None
            metrics.ARTICLE_FETCHES.labels(outcome).inc()
            return page


def _mark_seen(key: str, ttl: int) -> TxOp:
    def op(pipe: Any) -> None:
        pipe.set(key, b"1", ex=ttl)

    return op
