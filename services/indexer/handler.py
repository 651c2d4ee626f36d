"""The indexer's batch handler: one index transaction per stream batch.

:class:`shared.pipeline.stage.StreamStage` acknowledges the entries only after this
handler returned, i.e. after the commit; when the commit fails every entry
gets the error and stays pending, to be retried (and, after
``max_deliveries``, dead-lettered one by one by the reclaim reader).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from shared import metrics
from shared.index import Index, IndexStats
from shared.logging import debug_enabled, get_logger
from shared.pipeline.events import ArticleUnique, UniqueKind
from shared.pipeline.stage import ItemResult

log = get_logger(__name__)


class IndexHandler:
    def __init__(self, index: Index) -> None:
        self.index = index

    async def __call__(self, events: Sequence[ArticleUnique]) -> list[ItemResult]:
        started = time.perf_counter()
        try:
            stats = await self.index.apply(events)
        except Exception as exc:  # database down, lock timeout, disk full: retry later
            log.warning(
                "Index commit failed, batch left pending for retry",
                entries=len(events),
                error=f"{type(exc).__name__}: {exc}",
            )
            return [ItemResult(error=exc) for _ in events]
        committed = time.time()
        metrics.INDEX_BATCH_SECONDS.observe(time.perf_counter() - started)
        self._observe(events, stats, committed)
        return [ItemResult() for _ in events]

    @staticmethod
    def _observe(events: Sequence[ArticleUnique], stats: IndexStats, committed: float) -> None:
        metrics.ARTICLES_INDEXED.labels("insert").inc(stats.inserted)
        metrics.ARTICLES_INDEXED.labels("update").inc(stats.updated)
        metrics.ARTICLES_INDEXED.labels("duplicate").inc(stats.duplicates)
        for event in events:
            if event.kind is not UniqueKind.DUPLICATE:
                fetched = event.article.fetched_at.timestamp()
                metrics.INGEST_LATENCY.observe(max(0.0, committed - fetched))
        if debug_enabled():
            for event in events:
                a = event.article
                with structlog.contextvars.bound_contextvars(
                    feed_id=a.feed_id, feed_url=a.feed_url, article_id=a.article_id
                ):
                    log.debug("Article indexed", kind=event.kind.value, cluster_id=event.cluster_id)
        log.info(
            "Batch indexed",
            entries=len(events),
            inserted=stats.inserted,
            updated=stats.updated,
            unchanged=stats.unchanged,
            duplicates=stats.duplicates,
        )
