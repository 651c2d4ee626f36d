"""The API app over a real SQLite index and a real redis-server, driven in
process through httpx's ASGI transport (lifespan included)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from services.api.app import create_app
from shared.index import Index, open_index
from shared.pipeline.events import UniqueKind
from shared.settings import Settings
from tests.shared.index.conftest import make_event

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def sample_events() -> list:  # type: ignore[type-arg]
    return [
        make_event(
            "tgv",
            title="Grève à la SNCF: les télécommunications perturbées",
            text="Les télécommunications ferroviaires sont perturbées par la grève des agents.",
            language="fr",
            feed_id="f-fr",
            feed_url="http://127.0.0.1/fr.xml",
            url="http://127.0.0.1/fr/tgv",
        ),
        make_event(
            "storm",
            title="Storm <script>alert(1)</script> hits the coast",
            text="A winter storm hit the coast on Monday, cutting power to thousands.",
            language="en",
            age=timedelta(hours=3),
            url="javascript:alert(1)",
        ),
        make_event(
            "storm-copy",
            kind=UniqueKind.DUPLICATE,
            cluster_id="storm",
            url="http://127.0.0.1/other/storm",
        ),
    ]


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[Index]:
    idx = open_index(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    await idx.setup()
    await idx.apply(sample_events())
    yield idx
    await idx.close()


@pytest.fixture
def make_client(index: Index, redis_url: str, tmp_path: Path) -> ClientFactory:
    @asynccontextmanager
    async def factory(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(redis_url=redis_url, data_dir=tmp_path, **overrides)  # type: ignore[arg-type]
        app = create_app(settings, index=index)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                yield client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c
