"""The SQLite backend's per-thread connections and their page caches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.index.sqlite import READER_CACHE_KIB, WRITER_CACHE_KIB, SQLiteIndex


def _cache_kib(conn: sqlite3.Connection) -> int:
    return -int(conn.execute("PRAGMA cache_size").fetchone()[0])


async def test_writer_connection_has_the_smaller_page_cache(tmp_path: Path) -> None:
    index = SQLiteIndex(tmp_path / "index.sqlite3")
    try:
        assert await index._write(_cache_kib) == WRITER_CACHE_KIB
    finally:
        await index.close()


async def test_reader_connections_keep_the_search_page_cache(tmp_path: Path) -> None:
    index = SQLiteIndex(tmp_path / "index.sqlite3")
    try:
        assert await index._read(_cache_kib) == READER_CACHE_KIB
        assert READER_CACHE_KIB > WRITER_CACHE_KIB
    finally:
        await index.close()
