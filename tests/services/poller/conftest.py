"""Fixtures of the poller tests: a local feed server and pollers on the test Redis."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from services.poller.poller import Poller
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline.redisconn import make_redis
from shared.settings import Settings


def poller_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_networks": True,
        "min_interval": 60.0,
        "default_interval": 600.0,
        "max_interval": 3600.0,
        "max_error_backoff": 3600.0,
        "lease_seconds": 5.0,
        "fetch_timeout": 3.0,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "poll_concurrency": 50,
        "per_host_concurrency": 50,
        "lag_threshold": 1000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def make_poller(redis_url: str) -> AsyncIterator[Callable[..., Poller]]:
    """Pollers that each own a Redis client and a fetcher, like separate processes."""
    made: list[tuple[Poller, Redis]] = []

    def make(seed: int = 1, **overrides: object) -> Poller:
        settings = poller_settings(redis_url=redis_url, **overrides)
        client = make_redis(settings, max_connections=settings.poll_concurrency + 16)
        poller = Poller(
            settings,
            client,
            fetcher=SafeFetcher(settings, redis=client),
            rng=random.Random(seed),
        )
        made.append((poller, client))
        return poller

    yield make
    for poller, client in made:
        await poller.fetcher.aclose()
        await client.aclose()
