"""The pytest fixtures of the whole suite (tests/conftest.py loads this plugin).

=================  =========  =====================================================
fixture            scope      what
=================  =========  =====================================================
``redis_server``   session    ``RedisServer`` with AOF on; tests may stop, kill,
                              start and restart it
``redis_url``      test       its URL, the server running and flushed
``redis``          test       an asyncio client of it
``postgres_url``   session    a scratch database on the local PostgreSQL (skipped
                              when unreachable, except under ``CI=true``)
``site``           test       a started ``FeedSite`` on 127.0.0.1, seeded by the
                              module's ``FEED_SITE_SEED`` when it sets one
``feed_sites``     test       ``await feed_sites(n, ...)``: n started sites on
                              127.0.0.2, 127.0.0.3, ... (``start_sites``)
``real_text``      test       a ``RealText`` source over the extraction-eval
                              corpus (skipped when the corpus is absent)
``start_pipeline`` test       ``start_pipeline(scale={...}, env={...})``: a started
                              ``Pipeline`` on ``redis_url`` with quick test
                              timings, stopped afterwards
``rabbitmq``       test       the local RabbitMQ (``RabbitServer``): taps on
                              exchanges, deleted afterwards (skipped when
                              unreachable, except under ``CI=true``)
``nats_js``        test       the local NATS JetStream (``NatsServer``): streams
                              read and deleted afterwards (same skip rule)
=================  =========  =====================================================
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.brokers import NatsServer, RabbitServer, nats_server, rabbit_server
from tests.support.feedsite import FeedSite, start_sites
from tests.support.pipeline import QUICK_ENV, Pipeline
from tests.support.postgres import ADMIN_URL, ScratchDatabase
from tests.support.realtext import CorpusMissing, RealCorpus, RealText, default_path
from tests.support.redis_servers import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), persist=True).start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.running:  # a test stopped it and failed before starting it again
        redis_server.start()
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    import psycopg

    database = ScratchDatabase()
    try:
        database.create()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    yield database.url
    database.drop()


@pytest.fixture
async def site(request: pytest.FixtureRequest) -> AsyncIterator[FeedSite]:
    seed = getattr(request.module, "FEED_SITE_SEED", 7)
    async with FeedSite(seed=seed) as feed_site:
        yield feed_site


SitesFactory = Callable[..., Awaitable[list[FeedSite]]]


@pytest.fixture
async def feed_sites() -> AsyncIterator[SitesFactory]:
    started: list[FeedSite] = []

    async def make(count: int, **options: Any) -> list[FeedSite]:
        sites = await start_sites(count, **options)
        started.extend(sites)
        return sites

    yield make
    for one in started:
        await one.stop()


@pytest.fixture
def real_text(request: pytest.FixtureRequest) -> RealText:
    """Seeded by the module's ``FEED_SITE_SEED`` when it sets one."""
    try:
        corpus = RealCorpus.open()
    except CorpusMissing:
        pytest.skip(f"the extraction-eval corpus is not at {default_path()}")
    return RealText(corpus, seed=getattr(request.module, "FEED_SITE_SEED", 7))


PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
def start_pipeline(redis_url: str, tmp_path: Path) -> Iterator[PipelineFactory]:
    started: list[Pipeline] = []

    def start(
        *, scale: Mapping[str, int] = {}, env: Mapping[str, str] = {}, redis: str | None = None
    ) -> Pipeline:
        data_dir = tmp_path / f"pipeline-{len(started)}"
        pipe = Pipeline(redis_url=redis or redis_url, data_dir=data_dir, env={**QUICK_ENV, **env})
        started.append(pipe.start(scale))
        return pipe

    yield start
    for pipe in started:
        pipe.stop()


@pytest.fixture
async def rabbitmq() -> AsyncIterator[RabbitServer]:
    async for server in rabbit_server():
        yield server


@pytest.fixture
async def nats_js() -> AsyncIterator[NatsServer]:
    async for server in nats_server():
        yield server
