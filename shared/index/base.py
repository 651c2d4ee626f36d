"""The interface every index backend implements, and what they share."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from shared.index.models import ArticleRecord, IndexStats, SearchPage
from shared.pipeline.events import ArticleUnique

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# Recency boost applied to relevance: score * (1 + 1 / (1 + age / RECENCY_SCALE)).
# A story of today counts double, one a week old 1.5x, one a year old ~1.02x.
RECENCY_SCALE_S = 7 * 86400.0


class Index(abc.ABC):
    """A full-text index of articles. Every method is a coroutine; blocking
    drivers run in their own threads so the event loop stays free."""

    @abc.abstractmethod
    async def setup(self) -> None:
        """Create or migrate the schema (idempotent)."""

    @abc.abstractmethod
    async def apply(self, events: Sequence[ArticleUnique]) -> IndexStats:
        """Write a batch in one transaction: insert new articles, replace updated
        ones, record duplicates. Replaying a batch changes nothing."""

    @abc.abstractmethod
    async def search(
        self,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        lang: str | None = None,
        feed: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SearchPage:
        """Ranked hits; raises QuerySyntaxError for a query that cannot run.
        ``feed`` is a feed id or a feed URL."""

    @abc.abstractmethod
    async def get(self, article_id: str) -> ArticleRecord | None: ...

    @abc.abstractmethod
    async def count(self) -> int: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the index answers (readiness)."""

    @abc.abstractmethod
    async def close(self) -> None: ...
