"""Search latency at 100k articles: p50/p95 of two-word queries per backend.

The corpus (synthetic news-shaped articles, see
``benchmarks.index_throughput.CorpusGenerator``) is built once and kept
between runs: SQLite in ``--data-dir`` (default /tmp/feedpipe-bench), PostgreSQL
in the database ``feedpipe_bench_<N>`` of ``--pg-url``'s server. Queries are
two words drawn from three frequency bands of the vocabulary (common: ranks
20-200, mid: 1,000-5,000, rare: 10,000-30,000) and go through
``Index.search`` exactly as the API calls it (ranking, count, snippets).

    uv run python -m benchmarks.search_latency --backend postgres --articles 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.index_throughput import CorpusGenerator, vocabulary
from shared.index import Index, open_index

BANDS = {"common": (20, 200), "mid": (1_000, 5_000), "rare": (10_000, 30_000)}
FILL_BATCH = 500


async def corpus_index(backend: str, args: argparse.Namespace) -> Index:
    if backend == "sqlite":
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        return open_index(f"sqlite:///{Path(args.data_dir) / f'index-{args.articles}.sqlite3'}")
    import psycopg

    name = f"feedpipe_bench_{args.articles}"
    async with await psycopg.AsyncConnection.connect(args.pg_url, autocommit=True) as conn:
        found = await (
            await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        ).fetchone()
        if not found:
            await conn.execute(f'CREATE DATABASE "{name}"')
    return open_index(args.pg_url.rsplit("/", 1)[0] + f"/{name}")


async def fill(index: Index, target: int, writers: int) -> float:
    """Add articles until ``target`` are indexed (resumable); seconds spent."""
    await index.setup()
    have = await index.count()
    if have >= target:
        return 0.0
    print(json.dumps({"filling": target - have, "from": have}), flush=True)
    gen = CorpusGenerator(seed=have + 1)
    started = time.perf_counter()
    queue: asyncio.Queue[list[Any] | None] = asyncio.Queue(maxsize=writers * 2)

    async def writer() -> None:
        while (batch := await queue.get()) is not None:
            await index.apply(batch)

    tasks = [asyncio.create_task(writer()) for _ in range(writers)]
    for start in range(have, target, FILL_BATCH):
        count = min(FILL_BATCH, target - start)
        await queue.put(list(gen.events(count, start=start)))
        if start % 10_000 == 0:
            print(json.dumps({"queued": start}), flush=True)
    for _ in tasks:
        await queue.put(None)
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


async def vacuum_analyze(args: argparse.Namespace) -> None:
    """VACUUM ANALYZE the PostgreSQL corpus before timing it.

    A freshly filled table has no statistics and an empty visibility map until
    autovacuum gets to it, so the first measurement after a build would time
    a different database than later ones. On a vacuumed table this is quick.
    """
    import psycopg

    url = args.pg_url.rsplit("/", 1)[0] + f"/feedpipe_bench_{args.articles}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM (ANALYZE) articles")


def queries(per_band: int, seed: int = 3) -> dict[str, list[str]]:
    words = vocabulary()
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for band, (lo, hi) in BANDS.items():
        out[band] = [
            f"{words[rng.randrange(lo, hi)]} {words[rng.randrange(lo, hi)]}"
            for _ in range(per_band)
        ]
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(index: Index, qs: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    everything: list[float] = []
    for band, items in qs.items():
        times = []
        hits = 0
        for q in items:
            t0 = time.perf_counter()
            page = await index.search(q, limit=20)
            times.append((time.perf_counter() - t0) * 1000)
            hits += page.total
        everything.extend(times)
        result[band] = {
            "p50_ms": round(pct(times, 0.5), 1),
            "p95_ms": round(pct(times, 0.95), 1),
            "mean_total_hits": round(hits / len(items)),
        }
    result["all"] = {
        "p50_ms": round(pct(everything, 0.5), 1),
        "p95_ms": round(pct(everything, 0.95), 1),
    }
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    out: dict[str, Any] = {"articles": args.articles, "queries_per_band": args.queries}
    qs = queries(args.queries)
    for backend in backends:
        index = await corpus_index(backend, args)
        fill_s = await fill(index, args.articles, args.writers if backend == "postgres" else 1)
        if backend == "postgres":
            await vacuum_analyze(args)
        await measure(index, {k: v[:10] for k, v in qs.items()})  # warm caches
        runs = [await measure(index, qs) for _ in range(args.runs)]
        summary = {
            band: {key: statistics.median(r[band][key] for r in runs) for key in runs[0][band]}
            for band in runs[0]
        }
        out[backend] = {"median_of_runs": summary, "runs": runs, "fill_seconds": round(fill_s)}
        print(json.dumps({backend: summary}), flush=True)
        await index.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100, help="Queries per band.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2, help="Concurrent fills (PostgreSQL).")
    parser.add_argument("--data-dir", default="/tmp/feedpipe-bench")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
