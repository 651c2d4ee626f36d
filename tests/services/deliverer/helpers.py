"""Shared set-up of the deliverer tests: quick settings, outputs on a local
receiver, events queued for an output."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr
from redis.asyncio import Redis

from shared.outputs import Output, OutputKind, OutputRegistry, OutputSpec
from shared.outputs.model import Filters
from shared.pipeline import streams
from shared.pipeline.events import ArticleCommitted
from shared.settings import Settings


def quick_settings(**kw: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_networks": True,
        "delivery_timeout": 5.0,
        "delivery_backoff": 0.01,
        "delivery_max_backoff": 0.05,
        "delivery_attempts": 3,
        "reclaim_idle_ms": 1000,
        **kw,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def add_webhook(
    redis: Redis, url: str, *, secret: str | None = None, filters: list[str] | None = None
) -> Output:
    spec = OutputSpec(
        kind=OutputKind.WEBHOOK,
        url=url,
        secret=SecretStr(secret) if secret is not None else None,
        filters=Filters.parse(filters or []),
    )
    return await OutputRegistry(redis).add(spec, allow_private_networks=True)


async def enqueue(redis: Redis, output: Output, events: Iterable[ArticleCommitted]) -> list[bytes]:
    """Put events on an output's queue as the router does; their entry ids."""
    queue = streams.delivery_queue(output.output_id)
    return [
        await redis.xadd(queue, {streams.DATA_FIELD: event.model_dump_json()}) for event in events
    ]
