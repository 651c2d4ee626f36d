"""The deduplicator's stage handler: ArticleParsed in, ArticleUnique out."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from services.deduplicator.policy import OUTCOMES, Decision
from services.deduplicator.signature import fingerprint_many
from services.deduplicator.store import Claim, DedupStore
from shared import metrics
from shared.logging import debug_enabled, get_logger
from shared.pipeline import streams
from shared.pipeline.events import ArticleParsed, ArticleUnique, UniqueKind
from shared.pipeline.stage import BatchHandler, ItemResult, Output

log = get_logger(__name__)


def result_for(event: ArticleParsed, claim: Claim) -> ItemResult:
    """Turn a decision into the event to emit (if any), and observe it."""
    outcome = OUTCOMES[claim.decision]
    metrics.ARTICLES_SEEN.inc()
    if outcome.reason is not None:
        metrics.DUPLICATES.labels(outcome.reason).inc()
    if claim.decision is Decision.UPDATE:
        metrics.UPDATES.inc()
    if outcome.kind is None:
        return ItemResult()
    unique = ArticleUnique(
        kind=outcome.kind,
        article=event.article,
        cluster_id=claim.cluster_id,
        duplicate_reason=outcome.reason if outcome.kind is UniqueKind.DUPLICATE else None,
    )
    return ItemResult(outputs=[Output(streams.UNIQUE, unique)])


def make_handler(store: DedupStore) -> BatchHandler[ArticleParsed]:
    async def handle(events: Sequence[ArticleParsed]) -> list[ItemResult]:
        # Fingerprint the whole batch first (CPU), then decide it in one round trip.
        prints = fingerprint_many([e.article.text for e in events])
        claims = await store.claim_many(list(zip(events, prints, strict=True)))
        results: list[ItemResult] = []
        debug = debug_enabled()
        for event, claim in zip(events, claims, strict=True):
            if not isinstance(claim, Exception) and not debug:
                results.append(result_for(event, claim))
                continue
            a = event.article
            with structlog.contextvars.bound_contextvars(
                feed_id=a.feed_id, feed_url=a.feed_url, article_id=a.article_id
            ):
                if isinstance(claim, Exception):
                    log.warning("Dedup decision failed, will be retried", error=str(claim))
                    results.append(ItemResult(error=claim))
                    continue
                log.debug(
                    "Article deduplicated",
                    decision=claim.decision.name.lower(),
                    cluster_id=claim.cluster_id,
                    similarity=round(claim.similarity, 3),
                    url=a.url,
                )
                results.append(result_for(event, claim))
        return results

    return handle
