"""Poller service: ``feedpipe run poller``.

Claims due feeds from the shared schedule, fetches them politely and publishes
changed documents as :class:`shared.pipeline.events.FeedFetched` on
:data:`shared.pipeline.streams.FETCHED`. Any number of replicas may run side by side.
"""

from __future__ import annotations

import asyncio

from services.poller.poller import Poller
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline import stages
from shared.pipeline.redisconn import make_redis
from shared.pipeline.service import ServiceRuntime

# A feed whose host is at its politeness limit waits this long at most, then is
# deferred (rescheduled shortly after) so it does not hold a poll slot.
MAX_POLITENESS_WAIT_S = 5.0
# Redis connections beyond the fetches in flight (claims, batched writes, gauges).
EXTRA_CONNECTIONS = 16


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime(stages.POLLER)
    settings = runtime.settings
    # Every fetch in flight talks to Redis (per-host politeness): a pool that
    # waits for a free connection rather than failing at the default 100.
    redis = make_redis(settings, max_connections=settings.poll_concurrency + EXTRA_CONNECTIONS)
    fetcher = SafeFetcher(settings, redis=redis, max_politeness_wait=MAX_POLITENESS_WAIT_S)
    poller = Poller(settings, redis, fetcher=fetcher, name=runtime.consumer)

    async def poll_loop(stop: asyncio.Event) -> None:
        await poller.run(stop)

    runtime.add_loop(poll_loop)
    runtime.on_shutdown(fetcher.aclose)
    runtime.on_shutdown(redis.aclose)
    return runtime
