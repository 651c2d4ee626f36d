"""Scratch databases on the local PostgreSQL server (trust auth), for tests and
benchmarks: each gets a fresh database and drops it afterwards.

``FEEDPIPE_TEST_PG_URL`` names the server and a database to connect to while
creating and dropping (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Self

ADMIN_URL = os.environ.get("FEEDPIPE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class ScratchDatabase:
    """``create()`` makes ``<prefix>_<random>`` (or ``name``); ``drop()`` removes
    it even while connections are open (``WITH (FORCE)``). ``create`` raises
    ``psycopg.OperationalError`` when the server is unreachable."""

    def __init__(
        self, *, prefix: str = "feedpipe_test", admin_url: str = ADMIN_URL, name: str | None = None
    ) -> None:
        self.admin_url = admin_url
        self.name = name or f"{prefix}_{uuid.uuid4().hex[:10]}"

    @property
    def url(self) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def create(self) -> Self:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def __enter__(self) -> Self:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.drop()
