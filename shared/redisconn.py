"""Redis connections: one place that knows the URL and the retry policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.settings import Settings

DEFAULT_LOCAL_URL = "redis://127.0.0.1:6379/0"
RUNTIME_URL_FILE = "redis.url"


def runtime_url_file(settings: Settings) -> Path:
    """Where ``feedpipe up`` writes the URL of the embedded redis-server it started."""
    return settings.data_dir / RUNTIME_URL_FILE


def redis_url(settings: Settings) -> str:
    """FEEDPIPE_REDIS_URL, else the embedded server of a running ``feedpipe up``
    (so ``feedpipe feeds add`` in another terminal finds it), else localhost."""
    if settings.redis_url:
        return settings.redis_url
    marker = runtime_url_file(settings)
    if marker.is_file():
        url = marker.read_text().strip()
        if url:
            return url
    return DEFAULT_LOCAL_URL


def make_redis(
    settings: Settings, *, decode: bool = False, max_connections: int | None = None
) -> Redis:
    """An asyncio client that reconnects with jittered backoff instead of failing fast.

    With ``max_connections``, callers beyond that many concurrent commands wait
    for a free connection (BlockingConnectionPool) instead of failing with
    "Too many connections" (the default pool's behaviour at 100)."""
    options: dict[str, Any] = {
        "decode_responses": decode,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=6),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 15,
        "socket_keepalive": True,
    }
    if max_connections is None:
        return Redis.from_url(redis_url(settings), **options)
    pool = BlockingConnectionPool.from_url(
        redis_url(settings), max_connections=max_connections, timeout=30, **options
    )
    client = Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() closes the pool, as from_url does
    return client
