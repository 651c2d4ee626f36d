"""Deduplicator service: parsed articles in, each story once (plus its copies) out.

Run with ``feedpipe run deduplicator``; any number of replicas may run, the
decisions are atomic in Redis (see ``dedup.lua``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from services.deduplicator.handler import make_handler
from services.deduplicator.signature import fingerprint
from services.deduplicator.store import DedupStore
from shared import metrics
from shared.logging import get_logger
from shared.pipeline import stages
from shared.pipeline.service import ServiceRuntime
from shared.pipeline.stage import sleep_or_stop

log = get_logger(__name__)

STATE_KEYS_EVERY_S = 15.0


def state_gauge_loop(store: DedupStore) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Refresh feedpipe_dedup_state_keys from the script's per-generation counters."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                metrics.DEDUP_STATE_KEYS.set(await store.state_keys())
            except (RedisError, OSError) as exc:
                log.warning("Dedup state count failed", error=str(exc))
            if await sleep_or_stop(stop, STATE_KEYS_EVERY_S):
                return

    return loop


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime(stages.DEDUPLICATOR)
    settings = runtime.settings
    fingerprint("warm up")  # build the code point tables before the first batch
    store = DedupStore(
        runtime.redis,
        window_days=settings.dedup_window_days,
        bucket_bits=settings.dedup_bucket_bits,
    )
    runtime.consume(make_handler(store))
    runtime.add_loop(state_gauge_loop(store))
    return runtime
