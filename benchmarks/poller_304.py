"""Conditional polls per second of ONE poller process (goal: >= 2,000/s).

The test support's load site in its own process (so it does not share the
poller's core), with no article budget, answers ``304 Not Modified`` to every
feed polled with its ETag; a redis-server started here on a free loopback port
holds the registry. Each run puts all ``--feeds`` feeds due now and times the
real ``Poller`` (claim with leases, SafeFetcher with the SSRF guard and
per-host politeness in Redis, plan, batched state + schedule writes) until
every feed has been polled.
Reported: polls/s (wall) and CPU seconds per poll of the poller process,
median of ``--runs``.

    uv run python -m benchmarks.poller_304 --feeds 10000 --runs 3

All feeds live on 127.0.0.1, so the per-host concurrency limit is raised to
the poll concurrency for this run (politeness is still checked in Redis on
every request); ``--local-gate`` swaps the Redis host gate for the in-process
one to show what the shared gate costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import statistics
import time

from redis.asyncio import Redis

from services.poller.poller import Poller
from shared.feeds import FeedRegistry
from shared.fetch.fetcher import SafeFetcher
from shared.fetch.politeness import LocalHostGate
from shared.logging import configure_logging
from shared.pipeline import streams
from shared.pipeline.redisconn import make_redis
from shared.settings import Settings
from tests.support.loadsite import EMPTY_ETAG, LoadConfig, LoadSiteProcess
from tests.support.redis_servers import RedisServer


# --- the poller side -----------------------------------------------------------------
def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def register(redis: Redis, site: LoadSiteProcess, count: int) -> list[str]:
    registry = FeedRegistry(redis)
    ids: list[str] = []
    for start in range(0, count, 500):
        chunk = await asyncio.gather(
            *(registry.add(site.feed_url(n)) for n in range(start, min(start + 500, count)))
        )
        ids += [feed.feed_id for feed, _ in chunk]
    # Every feed already knows the ETag: each poll is a conditional GET -> 304.
    pipe = redis.pipeline(transaction=False)
    for feed_id in ids:
        pipe.hset(streams.feed_key(feed_id), "etag", EMPTY_ETAG)
    await pipe.execute()
    return ids


async def one_run(settings: Settings, ids: list[str], local_gate: bool) -> dict[str, float]:
    redis = make_redis(settings, max_connections=settings.poll_concurrency + 16)
    fetcher = SafeFetcher(settings, redis=redis)
    if local_gate:
        fetcher.gate = LocalHostGate(
            limit=settings.per_host_concurrency, delay=0.0, slot_ttl=settings.fetch_timeout
        )
    poller = Poller(settings, redis, fetcher=fetcher, rng=random.Random(1))
    registry = FeedRegistry(redis)
    # Warm the connection pools outside the timed part.
    await redis.ping()
    await registry.poll_now(ids)
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    await poller.run_until_idle()
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    await fetcher.aclose()
    await redis.aclose()
    return {"polls": poller.polls, "wall": wall, "cpu": cpu}


async def bench(args: argparse.Namespace, site: LoadSiteProcess, redis_url: str) -> None:
    configure_logging(service="bench", level="WARNING", json=True)
    settings = Settings(
        redis_url=redis_url,
        allow_private_networks=True,
        poll_concurrency=args.concurrency,
        per_host_concurrency=args.concurrency,
        batch_size=args.concurrency,
        min_interval=3600,
        lease_seconds=120,
        log_level="WARNING",
    )
    redis = make_redis(settings, max_connections=64)
    ids = await register(redis, site, args.feeds)
    await redis.aclose()
    results = []
    for run in range(args.runs + 1):
        r = await one_run(settings, ids, args.local_gate)
        label = "warm-up" if run == 0 else f"run {run}"
        rate = r["polls"] / r["wall"]
        print(
            f"{label}: {r['polls']:.0f} polls in {r['wall']:.2f}s = {rate:,.0f} polls/s,"
            f" {r['cpu'] / r['polls'] * 1e6:.0f} µs CPU/poll, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if run:
            results.append(r)
    rates = [r["polls"] / r["wall"] for r in results]
    cpu = [r["cpu"] / r["polls"] for r in results]
    print(
        f"median: {statistics.median(rates):,.0f} polls/s, "
        f"{statistics.median(cpu) * 1e6:.0f} µs CPU per poll "
        f"= {1 / statistics.median(cpu):,.0f} polls per CPU-second "
        f"(feeds={args.feeds}, concurrency={args.concurrency}, "
        f"gate={'local' if args.local_gate else 'redis'}, python {platform.python_version()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--local-gate", action="store_true", help="in-process host gate")
    parser.add_argument(
        "--uvloop",
        action="store_true",
        help="run the poller on uvloop (not a project dependency: uv run --with uvloop ...)",
    )
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    site = LoadSiteProcess(LoadConfig(feeds=args.feeds, entries=1, max_articles=0)).start()
    redis_server = RedisServer().start()
    try:
        asyncio.run(bench(args, site, redis_server.url))
    finally:
        site.stop()
        redis_server.close()


if __name__ == "__main__":
    main()
