"""Schema migrations run once, in order, and bring an older schema forward."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from shared.index import Index
from shared.index.postgres import PostgresIndex
from shared.index.sqlite import SQLiteIndex
from tests.shared.index.conftest import EventFactory

pytestmark = pytest.mark.integration


async def downgrade_to_v1(index: Index) -> None:
    """Undo migration 2 (configs_in_use) as if the database came from version 1."""
    statements = ["DROP TABLE configs_in_use", "DELETE FROM schema_version WHERE version = 2"]
    if isinstance(index, SQLiteIndex):
        lite = sqlite3.connect(index.path, isolation_level=None)
        for statement in statements:
            lite.execute(statement)
        lite.close()
    else:
        assert isinstance(index, PostgresIndex)
        async with await psycopg.AsyncConnection.connect(index.url, autocommit=True) as conn:
            for statement in statements:
                await conn.execute(statement.encode())


async def test_setup_migrates_a_version_1_database(index: Index, event: EventFactory) -> None:
    await index.apply([event("fr", title="Un pilote heureux", language="fr")])
    await downgrade_to_v1(index)
    await index.setup()
    # Migration 2 recorded the configuration of the existing article, so a query
    # without a language (built under the configurations in use) still stems the
    # French way: only the French stemmer maps "heureuse" to "heureux".
    await index.apply([event("en", title="Storm", language="en")])
    assert [h.id for h in (await index.search("heureuse")).hits] == ["fr"]
