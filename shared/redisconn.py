"""Redis connections: one place that knows the URL and the retry policy."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.settings import Settings

DEFAULT_LOCAL_URL = "redis://127.0.0.1:6379/0"


def redis_url(settings: Settings) -> str:
    # `feedpipe up` exports FEEDPIPE_REDIS_URL for its children once the
    # embedded server runs, so a service started alone falls back to localhost.
    return settings.redis_url or DEFAULT_LOCAL_URL


def make_redis(settings: Settings, *, decode: bool = False) -> Redis:
    """An asyncio client that reconnects with jittered backoff instead of failing fast."""
    return Redis.from_url(
        redis_url(settings),
        decode_responses=decode,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=6),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
        socket_keepalive=True,
    )
