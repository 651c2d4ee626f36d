"""The indexer handler and its stream stage, on a real redis-server and SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.indexer.handler import IndexHandler
from shared.index import Index, IndexStats, open_index
from shared.index.sqlite import SQLiteIndex
from shared.pipeline import stages, streams
from shared.pipeline.events import ArticleUnique, UniqueKind
from shared.pipeline.stage import StreamStage
from shared.settings import Settings
from tests.shared.index.conftest import make_event

pytestmark = pytest.mark.integration


class BrokenIndex(SQLiteIndex):
    """A real index whose commits fail, like a database that went away."""

    async def apply(self, events: Sequence[ArticleUnique]) -> IndexStats:
        raise sqlite3.OperationalError("database is locked")


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[Index]:
    idx = open_index(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    await idx.setup()
    yield idx
    await idx.close()


def sample(name: str) -> float:
    return REGISTRY.get_sample_value("feedpipe_articles_indexed_total", {"op": name}) or 0.0


async def test_batch_is_committed_and_every_event_succeeds(index: Index) -> None:
    events = [make_event("a1", title="Tram line opens"), make_event("a2", title="Tram fares")]
    results = await IndexHandler(index)(events)
    assert [r.error for r in results] == [None, None]
    assert await index.count() == 2


async def test_failed_commit_marks_every_event_failed(tmp_path: Path) -> None:
    broken = BrokenIndex(tmp_path / "index.sqlite3")
    results = await IndexHandler(broken)([make_event("a1"), make_event("a2")])
    assert all(isinstance(r.error, sqlite3.OperationalError) for r in results)
    await broken.close()


async def test_indexed_operations_are_counted(index: Index) -> None:
    inserted, duplicates = sample("insert"), sample("duplicate")
    await IndexHandler(index)(
        [
            make_event("a1", title="Bridge"),
            make_event("d1", kind=UniqueKind.DUPLICATE, cluster_id="a1"),
        ]
    )
    assert sample("insert") == inserted + 1
    assert sample("duplicate") == duplicates + 1


async def read_unique(redis: Redis) -> tuple[list[bytes], list[dict[bytes, bytes]]]:
    resp: Any = await redis.xreadgroup(stages.INDEXER.group, "c1", {streams.UNIQUE: ">"}, count=100)
    entries = resp[0][1] if resp else []
    return [e[0] for e in entries], [e[1] for e in entries]


async def feed_stream(redis: Redis, events: list[ArticleUnique]) -> None:
    await redis.xgroup_create(streams.UNIQUE, stages.INDEXER.group, id="0", mkstream=True)
    for event in events:
        await redis.xadd(streams.UNIQUE, {streams.DATA_FIELD: event.model_dump_json()})


async def test_stream_entries_are_acked_after_the_commit(redis: Redis, index: Index) -> None:
    await feed_stream(redis, [make_event("a1", title="Ferry"), make_event("a2", title="Ferry")])
    stage = StreamStage(
        stages.INDEXER,
        redis=redis,
        settings=Settings(),
        handler=IndexHandler(index),
    )
    ids, datas = await read_unique(redis)
    await stage.handle_entries(ids, datas, reclaimed=False)
    assert (await redis.xpending(streams.UNIQUE, stages.INDEXER.group))["pending"] == 0
    assert (await index.search("ferry")).total == 2


async def test_stream_entries_stay_pending_when_the_commit_fails(
    redis: Redis, tmp_path: Path
) -> None:
    await feed_stream(redis, [make_event("a1"), make_event("a2")])
    broken = BrokenIndex(tmp_path / "index.sqlite3")
    stage = StreamStage(
        stages.INDEXER,
        redis=redis,
        settings=Settings(),
        handler=IndexHandler(broken),
    )
    ids, datas = await read_unique(redis)
    await stage.handle_entries(ids, datas, reclaimed=False)
    assert (await redis.xpending(streams.UNIQUE, stages.INDEXER.group))["pending"] == 2
    assert await redis.xlen(streams.dlq_stream("indexer")) == 0
    await broken.close()
