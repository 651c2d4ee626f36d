"""The article index: one interface, two backends chosen by URL.

``sqlite:///path`` is the embedded default (FTS5); ``postgresql://…`` is the
production backend. The indexer writes through :meth:`Index.apply`; the API and
``feedpipe search`` read through :meth:`Index.search` and :meth:`Index.get`.
"""

from __future__ import annotations

from shared.index.base import DEFAULT_LIMIT, MAX_LIMIT, Index
from shared.index.models import (
    ArticleRecord,
    IndexStats,
    QuerySyntaxError,
    SearchHit,
    SearchPage,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ArticleRecord",
    "Index",
    "IndexStats",
    "QuerySyntaxError",
    "SearchHit",
    "SearchPage",
    "open_index",
]


def open_index(url: str) -> Index:
    """An index for ``url`` (``Settings.resolved_index_url``); call ``setup()``
    before writing (reads set the schema up on first use)."""
    if url.startswith("sqlite:///"):
        from shared.index.sqlite import SQLiteIndex

        return SQLiteIndex(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from shared.index.postgres import PostgresIndex

        return PostgresIndex(url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise ValueError(f"index URL {url!r}: expected sqlite:///PATH or postgresql://…")
