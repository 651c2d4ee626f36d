"""aiohttp vs httpx on a 304-heavy poll: the measurement behind the fetcher's client.

The test support's load site in its own process serves ``--feeds`` feeds
with an ETag and no new articles; each client polls every feed once with ``If-None-Match`` at
``--concurrency`` requests in flight (so ~all answers are 304). Reported per
client: requests/s (wall) and CPU µs per request of the client process,
median of ``--runs``. Bare clients only (no politeness, no SSRF guard): this
compares the HTTP stacks, ``benchmarks/poller_304.py`` measures the poller.

    uv run python -m benchmarks.http_clients --feeds 2000 --concurrency 100 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from tests.support.loadsite import EMPTY_ETAG, LoadConfig, LoadSiteProcess


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _bounded(urls: list[str], concurrency: int, get: Callable[[str], Awaitable[int]]) -> int:
    queue = iter(urls)
    not_modified = 0

    async def worker() -> None:
        nonlocal not_modified
        for url in queue:
            if await get(url) == 304:
                not_modified += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return not_modified


async def run_aiohttp(urls: list[str], concurrency: int) -> int:
    headers = {"If-None-Match": EMPTY_ETAG, "Accept-Encoding": "gzip"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str) -> int:
            async with session.get(url, headers=headers) as resp:
                await resp.read()
                return resp.status

        return await _bounded(urls, concurrency, get)


async def run_httpx(urls: list[str], concurrency: int) -> int:
    headers = {"If-None-Match": EMPTY_ETAG, "Accept-Encoding": "gzip"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def get(url: str) -> int:
            resp = await client.get(url, headers=headers)
            return resp.status_code

        return await _bounded(urls, concurrency, get)


CLIENTS = {"aiohttp": run_aiohttp, "httpx": run_httpx}


async def bench(args: argparse.Namespace, site: LoadSiteProcess) -> None:
    urls = [site.feed_url(n) for n in range(args.feeds)]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
    for run in range(args.runs + 1):
        for name, client in CLIENTS.items():
            wall0, cpu0 = time.perf_counter(), cpu_seconds()
            hits = await client(urls, args.concurrency)
            wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
            assert hits == len(urls), f"{name}: {hits} of {len(urls)} answered 304"
            label = "warm-up" if run == 0 else f"run {run}"
            print(
                f"{label} {name}: {len(urls) / wall:,.0f} req/s,"
                f" {cpu / len(urls) * 1e6:.0f} µs CPU/req, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if run:
                results[name].append((len(urls) / wall, cpu / len(urls)))
    for name, values in results.items():
        rate = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(
            f"median {name}: {rate:,.0f} req/s, {cpu * 1e6:.0f} µs CPU/req"
            f" (feeds={args.feeds}, concurrency={args.concurrency})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    site = LoadSiteProcess(LoadConfig(feeds=args.feeds, entries=1, max_articles=0)).start()
    try:
        asyncio.run(bench(args, site))
    finally:
        site.stop()


if __name__ == "__main__":
    main()
