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
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as redis_sync
from redis.asyncio.cluster import ClusterNode
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import CrossSlotTransactionError

from shared.pipeline.redisconn import FeedpipeCluster
from tests.conftest import redis_server_binary
from tests.support.feedsite import FeedSite
from tests.support.pipeline import Pipeline, free_port, indexed_once, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

INGEST_TIMEOUT_S = 90


def _start_node(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server_binary(),
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--save", "", "--appendonly", "no", "--protected-mode", "no", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis_sync.Redis(host="127.0.0.1", port=port).ping():
                return proc
        except redis_sync.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server on port {port} did not start")


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000; redis 6.2 cannot set it)
    is free too."""
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def cluster_ports(tmp_path: Path) -> Iterator[list[int]]:
    """Three masters, no replicas, every slot assigned, cluster state ok."""
    redis_cli = shutil.which("redis-cli")
    if redis_cli is None:
        pytest.skip("redis-cli is not installed")
    ports = [_free_cluster_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            procs.append(
                _start_node(
                    tmp_path / f"node-{port}", port,
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "5000",
                )
            )  # fmt: skip
        subprocess.run(
            [redis_cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = redis_sync.Redis(host="127.0.0.1", port=ports[0]).cluster("info")
            if info["cluster_state"] == "ok":
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("cluster did not reach state ok")
        yield ports
    finally:
        _stop_all(procs)


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
    cluster_ports: list[int], site: FeedSite, tmp_path: Path
) -> None:
    seeds = ",".join(f"127.0.0.1:{p}" for p in cluster_ports[:2])
    pipe = Pipeline(redis_url=f"redis+cluster://{seeds}", data_dir=tmp_path / "data")
    (tmp_path / "data").mkdir()
    pipe.start()
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
def sentinel_port(tmp_path: Path) -> Iterator[int]:
    """A master, its replica and one Sentinel watching them as "feedpipe"."""
    master, replica, sentinel = free_port(), free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_start_node(tmp_path / "master", master))
        procs.append(
            _start_node(tmp_path / "replica", replica, "--replicaof", "127.0.0.1", str(master))
        )
        conf = tmp_path / "sentinel" / "sentinel.conf"
        conf.parent.mkdir()
        conf.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {conf.parent}\n"
            f"sentinel monitor feedpipe 127.0.0.1 {master} 1\n"
            "sentinel down-after-milliseconds feedpipe 2000\n"
            "sentinel failover-timeout feedpipe 10000\n"
        )
        proc = subprocess.Popen(
            [redis_server_binary(), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)
        deadline = time.monotonic() + 20
        client = redis_sync.Redis(host="127.0.0.1", port=sentinel)
        while time.monotonic() < deadline:
            try:
                replicas = client.sentinel_slaves("feedpipe")
                if replicas and "s_down" not in replicas[0]["flags"]:
                    break
            except redis_sync.RedisError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("sentinel did not discover the replica")
        yield sentinel
    finally:
        _stop_all(procs)


def _master_port(sentinel: int) -> int:
    client: Any = redis_sync.Redis(host="127.0.0.1", port=sentinel)
    _host, port = client.sentinel_get_master_addr_by_name("feedpipe")
    return int(port)


async def test_pipeline_over_sentinel_follows_a_failover(
    sentinel_port: int, site: FeedSite, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    pipe = Pipeline(
        redis_url=f"redis+sentinel://127.0.0.1:{sentinel_port}/feedpipe/0",
        data_dir=tmp_path / "data",
    )
    pipe.start()
    try:
        await _ingest(pipe, site)
        before = _master_port(sentinel_port)
        sentinel: Any = redis_sync.Redis(host="127.0.0.1", port=sentinel_port)
        sentinel.execute_command("SENTINEL", "FAILOVER", "feedpipe")
        deadline = time.monotonic() + 30
        while _master_port(sentinel_port) == before:
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
    new_master = redis_sync.Redis(host="127.0.0.1", port=_master_port(sentinel_port))
    assert new_master.xlen("feedpipe:stream:unique") > 0
