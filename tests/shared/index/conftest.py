"""An empty index per test, on each backend: SQLite in a temporary file and
PostgreSQL on the real server of the ``postgres_url`` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from shared.index import Index, open_index
from shared.pipeline.events import Article, ArticleUnique, UniqueKind

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "postgres"])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Index]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            exists = await (await conn.execute("SELECT to_regclass('articles')")).fetchone()
            if exists and exists[0]:
                await conn.execute("TRUNCATE articles, duplicates")
    idx = open_index(url)
    await idx.setup()
    yield idx
    await idx.close()


EventFactory = Callable[..., ArticleUnique]


def make_event(
    article_id: str,
    *,
    title: str = "",
    text: str = "",
    language: str | None = "en",
    kind: UniqueKind = UniqueKind.NEW,
    cluster_id: str | None = None,
    url: str | None = None,
    feed_id: str = "feed-1",
    feed_url: str = "http://127.0.0.1/feed.xml",
    age: timedelta = timedelta(hours=1),
) -> ArticleUnique:
    published = NOW - age
    return ArticleUnique(
        kind=kind,
        cluster_id=cluster_id or article_id,
        article=Article(
            article_id=article_id,
            feed_id=feed_id,
            feed_url=feed_url,
            url=url or f"http://127.0.0.1/{article_id}",
            title=title,
            text=text,
            language=language,
            published_at=published,
            fetched_at=published + timedelta(minutes=5),
        ),
    )


@pytest.fixture
def event() -> EventFactory:
    return make_event
