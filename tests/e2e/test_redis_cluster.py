"""The whole pipeline over a real 3-master Redis Cluster, and over a
Sentinel-managed master that fails over mid-run.

The cluster is three ``redis-server --cluster-enabled yes`` processes on free
loopback ports, joined with ``redis-cli --cluster create``. The services get
``FEEDPIPE_REDIS_URL=redis+cluster://…`` and so key everything under the
``{feedpipe}`` hash tag (shared.pipeline.streams.key_prefix). The Sentinel set-up is one
master, one replica and one Sentinel (quorum 1), all on loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis as redis_sync
from redis.asyncio.cluster import ClusterNode
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import CrossSlotTransactionError

from shared.pipeline.redisconn import FeedpipeCluster
from tests.support.feedsite import FeedSite
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import Pipeline, indexed_once, wait_until
from tests.support.redis_servers import RedisCluster, RedisSentinel, redis_cli_binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

INGEST_TIMEOUT_S = 90


@pytest.fixture
def cluster_ports(tmp_path: Path) -> Iterator[list[int]]:
    """Three masters, no replicas, every slot assigned, cluster state ok."""
    if redis_cli_binary() is None:
        pytest.skip("redis-cli is not installed")
    with RedisCluster(tmp_path / "cluster", masters=3) as cluster:
        yield cluster.ports


async def _all_found(session: aiohttp.ClientSession, pipe: Pipeline, site: FeedSite) -> bool:
    return await indexed_once(session, pipe, (a.token for a in site.articles))


async def _ingest(pipe: Pipeline, site: FeedSite) -> None:
    site.add_feed("rss", "rss", 6)
    site.add_feed("atom", "atom", 4, summary_only=True)  # the parser fetches pages too
    site.add_feed("json", "json", 4)
    for name in ("rss", "atom", "json"):
        await pipe.acli("feeds", "add", site.feed_url(name))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        ok = await wait_until(lambda: _all_found(session, pipe, site), timeout=INGEST_TIMEOUT_S)
        assert ok, pipe.log_tail()


async def test_pipeline_over_a_three_master_cluster_makes_articles_searchable(
    cluster_ports: list[int], site: FeedSite, start_pipeline: PipelineFactory
) -> None:
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster_ports[:2])
    pipe = start_pipeline(redis=f"redis+cluster://{seeds}")
    try:
        await _ingest(pipe, site)
    finally:
        pipe.stop()

    cluster = SyncRedisCluster(host="127.0.0.1", port=cluster_ports[0])
    try:
        keys = [k.decode() for k in cluster.scan_iter(match="*", count=1000)]
        streams_seen = {k for k in keys if ":stream:" in k}
        acked_everything = all(
            group["pending"] == 0
            for stream in streams_seen
            for group in cluster.xinfo_groups(stream)
        )
        dead = sum(int(cluster.xlen(k)) for k in keys if ":dlq:" in k)
    finally:
        cluster.close()
    assert keys
    assert all(k.startswith("{feedpipe}:") for k in keys)
    assert {"{feedpipe}:stream:fetched", "{feedpipe}:stream:unique"} <= streams_seen
    assert acked_everything
    assert dead == 0


async def test_a_cluster_transaction_across_slots_is_refused_and_applies_nothing(
    cluster_ports: list[int],
) -> None:
    client = FeedpipeCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster_ports[0])])
    try:
        pipe = client.pipeline(transaction=True)
        pipe.set("{a}:x", 1)
        pipe.set("{b}:y", 2)  # another slot
        with pytest.raises(CrossSlotTransactionError):
            await pipe.execute()
        assert await client.exists("{a}:x", "{b}:y") == 0

        pipe = client.pipeline(transaction=True)
        pipe.set("{a}:x", 1)
        pipe.xadd("{a}:s", {"f": "v"})
        assert (await pipe.execute())[0] is True
    finally:
        await client.aclose()


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[RedisSentinel]:
    """A master, its replica and one Sentinel watching them as "feedpipe"."""
    with RedisSentinel(tmp_path / "sentinel", service="feedpipe") as sentinel:
        yield sentinel


async def test_pipeline_over_sentinel_follows_a_failover(
    sentinel: RedisSentinel, site: FeedSite, start_pipeline: PipelineFactory
) -> None:
    pipe = start_pipeline(redis=sentinel.url)
    try:
        await _ingest(pipe, site)
        before = sentinel.master_port()
        sentinel.failover()
        deadline = time.monotonic() + 30
        while sentinel.master_port() == before:
            assert time.monotonic() < deadline, "no failover"
            await asyncio.sleep(0.2)

        # Feeds added after the failover go through the new master.
        site.add_feed("after", "rss", 5)
        await pipe.acli("feeds", "add", site.feed_url("after"))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            ok = await wait_until(lambda: _all_found(session, pipe, site), timeout=INGEST_TIMEOUT_S)
            assert ok, pipe.log_tail()
    finally:
        pipe.stop()
    new_master = redis_sync.Redis(host="127.0.0.1", port=sentinel.master_port())
    assert new_master.xlen("feedpipe:stream:unique") > 0
