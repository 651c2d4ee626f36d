"""From a batch of ArticleUnique events to the rows a backend writes (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import xxhash

from shared.index.analysis import normalise_language
from shared.pipeline.events import ArticleUnique, UniqueKind


@dataclass(frozen=True, slots=True)
class ArticleRow:
    id: str
    url: str | None
    title: str
    text: str
    language: str | None
    published_at: datetime | None
    feed_id: str
    feed_url: str
    authors: str  # JSON list
    categories: str  # JSON list
    fetched_at: datetime
    content_hash: str

    @property
    def sort_ts(self) -> float:
        """Date used for recency: publication, else fetch time."""
        return (self.published_at or self.fetched_at).timestamp()


@dataclass(frozen=True, slots=True)
class DuplicateRow:
    cluster_id: str
    article_id: str
    url: str | None
    feed_url: str


@dataclass(frozen=True, slots=True)
class BatchPlan:
    articles: list[ArticleRow]
    duplicates: list[DuplicateRow]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clean(value: str) -> str:
    # PostgreSQL text cannot hold NUL; no backend should index it.
    return value.replace("\x00", "")


def article_row(event: ArticleUnique) -> ArticleRow:
    a = event.article
    text = _clean(a.text or a.summary)
    published = _utc(a.published_at)
    language = normalise_language(a.language)
    digest = xxhash.xxh3_64_hexdigest(
        "\x1f".join(
            [
                a.url or "",
                _clean(a.title),
                text,
                language or "",
                published.isoformat() if published else "",
                a.feed_url,
                json.dumps(a.authors),
                json.dumps(a.categories),
            ]
        ).encode()
    )
    fetched = _utc(a.fetched_at)
    assert fetched is not None
    return ArticleRow(
        id=a.article_id,
        url=a.url,
        title=_clean(a.title),
        text=text,
        language=language,
        published_at=published,
        feed_id=a.feed_id,
        feed_url=a.feed_url,
        authors=json.dumps(a.authors, ensure_ascii=False),
        categories=json.dumps(a.categories, ensure_ascii=False),
        fetched_at=fetched,
        content_hash=digest,
    )


def plan_batch(events: Sequence[ArticleUnique]) -> BatchPlan:
    """The last event of an article in the batch wins (stream order is event order)."""
    articles: dict[str, ArticleRow] = {}
    duplicates: dict[tuple[str, str], DuplicateRow] = {}
    for event in events:
        if event.kind is UniqueKind.DUPLICATE:
            dup = DuplicateRow(
                cluster_id=event.cluster_id,
                article_id=event.article.article_id,
                url=event.article.url,
                feed_url=event.article.feed_url,
            )
            duplicates[(dup.cluster_id, dup.article_id)] = dup
        else:
            row = article_row(event)
            articles.pop(row.id, None)
            articles[row.id] = row
    return BatchPlan(list(articles.values()), list(duplicates.values()))
