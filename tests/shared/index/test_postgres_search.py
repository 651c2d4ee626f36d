"""PostgreSQL only: the recency window that bounds ranking, and what it keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from shared.index.postgres import BODY_CHARS, TITLE_CHARS, PostgresIndex, tsvector_sql
from tests.shared.index.conftest import EventFactory

pytestmark = pytest.mark.integration


@pytest.fixture
async def small_window(postgres_url: str) -> AsyncIterator[PostgresIndex]:
    """A PostgreSQL index that ranks only the 2 most recent matches."""
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        exists = await (await conn.execute("SELECT to_regclass('articles')")).fetchone()
        if exists and exists[0]:
            await conn.execute("TRUNCATE articles, duplicates")
    idx = PostgresIndex(postgres_url, rank_window=2)
    await idx.setup()
    yield idx
    await idx.close()


async def fill(index: PostgresIndex, event: EventFactory) -> None:
    # "best" matches in its title (weight A) but is the oldest of the three.
    await index.apply(
        [
            event("best", title="Glacier glacier", age=timedelta(days=30)),
            event("mid", title="Roundup", text="A glacier.", age=timedelta(days=2)),
            event("new", title="Roundup", text="A glacier.", age=timedelta(hours=1)),
        ]
    )


async def test_only_the_recency_window_is_ranked_but_all_are_counted(
    small_window: PostgresIndex, event: EventFactory
) -> None:
    await fill(small_window, event)
    page = await small_window.search("glacier", limit=2)
    assert page.total == 3
    assert [h.id for h in page.hits] == ["new", "mid"]
    assert all("<mark>glacier</mark>" in h.snippet.lower() for h in page.hits)


async def test_a_page_past_the_window_widens_it(
    small_window: PostgresIndex, event: EventFactory
) -> None:
    await fill(small_window, event)
    # offset + limit = 3 > rank_window: all three are ranked, the title match first.
    whole = await small_window.search("glacier", limit=3)
    last = await small_window.search("glacier", limit=1, offset=2)
    assert [h.id for h in whole.hits] == ["best", "new", "mid"]
    assert (last.total, [(h.id, h.url) for h in last.hits]) == (
        3,
        [("mid", "http://127.0.0.1/mid")],
    )


async def test_stored_tsvector_is_what_tsvector_sql_computes(
    small_window: PostgresIndex, event: EventFactory, postgres_url: str
) -> None:
    # Benchmarks compute tsvectors with tsvector_sql(); they must equal the column's.
    long_body = "glacier " * (BODY_CHARS // 8 + 50)
    await small_window.apply([event("long", title="T" * (TITLE_CHARS + 10), text=long_body)])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        row = await (
            await conn.execute(f"SELECT tsv = ({tsvector_sql()}), tsv FROM articles")
        ).fetchone()
    assert row is not None
    same, tsv = row
    assert same
    assert "'glacier':" in tsv
