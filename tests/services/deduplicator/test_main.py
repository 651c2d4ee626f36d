"""Service wiring: the state-size gauge loop."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from services.deduplicator.main import state_gauge_loop
from services.deduplicator.signature import fingerprint
from services.deduplicator.store import DedupStore
from tests.services.deduplicator.samples import parsed, story, text

pytestmark = pytest.mark.integration


async def test_gauge_loop_reports_the_dedup_state_keys(redis: Redis) -> None:
    store = DedupStore(redis, window_days=14, bucket_bits=4)
    event = parsed(text(story(1)))
    (claim,) = await store.claim_many([(event, fingerprint(event.article.text))])
    assert not isinstance(claim, Exception)
    stop = asyncio.Event()
    task = asyncio.ensure_future(state_gauge_loop(store)(stop))
    for _ in range(100):
        if gauge() > 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert gauge() == await store.state_keys() > 0


def gauge() -> float:
    return REGISTRY.get_sample_value("feedpipe_dedup_state_keys") or 0.0
