"""Soak run: the whole pipeline at a steady, moderate load for a long time,
sampling every service's RSS, to show memory stays flat.

    uv run python -m benchmarks.soak --minutes 12 --rate 40

Separate processes (``feedpipe up``), the system redis-server on a free
loopback port, the SQLite index, and the benchmark feed server pacing new
articles at ``--rate`` per second. Memory is compared between the end of the
warm-up and the end of the run; the report is appended to
``docs/benchmarks/soak.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import redis as redis_sync

from shared.pipeline import stages, streams
from tests.support.loadsite import LoadConfig, LoadSiteProcess
from tests.support.paths import REPO
from tests.support.pipeline import Pipeline
from tests.support.redis_servers import RedisServer

Samples = list[tuple[float, dict[str, int], dict[str, int]]]

SERVICES = stages.names(stages.SERVICES)


def rss_by_service(pipe: Pipeline) -> dict[str, int]:
    found: dict[str, int] = {}
    for pid, service in pipe.replicas().items():
        try:
            found[service] = max(found.get(service, 0), psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            continue
    return found


def processed(url: str) -> dict[str, int]:
    client = redis_sync.Redis.from_url(url)
    try:
        raw = client.hgetall(streams.STATS)
    finally:
        client.close()
    return {k.decode(): int(v) for k, v in raw.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=120.0, help="Seconds before the baseline.")
    parser.add_argument("--rate", type=float, default=40.0, help="New articles per second.")
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--every", type=float, default=30.0, help="Sampling interval (s).")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks" / "soak.md")
    args = parser.parse_args()

    duration = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="feedpipe-soak-"))
    redis = RedisServer().start()
    load = LoadConfig(
        feeds=args.feeds,
        entries=args.entries,
        rate=args.rate,
        max_articles=int(args.rate * (duration + 120)),
    )
    site = LoadSiteProcess(load).start()
    pipe = Pipeline(redis_url=redis.url, data_dir=work, env={"FEEDPIPE_LOG_LEVEL": "WARNING"})
    pipe.start()
    samples: Samples = []
    try:
        time.sleep(10)
        opml = work / "feeds.opml"
        outlines = "".join(
            f'<outline type="rss" text="f{n}" xmlUrl="{site.feed_url(n)}"/>'
            for n in range(args.feeds)
        )
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        pipe.cli("feeds", "import", str(opml), "--interval", "5")
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < duration:
            samples.append((elapsed, rss_by_service(pipe), processed(redis.url)))
            print(
                json.dumps(
                    {
                        "t": round(elapsed),
                        "rss_mib": {k: round(v / 2**20, 1) for k, v in samples[-1][1].items()},
                        "processed": samples[-1][2],
                    }
                ),
                flush=True,
            )
            time.sleep(args.every)
        samples.append((time.monotonic() - started, rss_by_service(pipe), processed(redis.url)))
    finally:
        pipe.stop()
        site.stop()
        redis.close()

    report(args, samples)


def report(args: argparse.Namespace, samples: Samples) -> None:
    after_warmup = [s for s in samples if s[0] >= args.warmup]
    end = samples[-1]
    lines = [
        f"\n## Soak run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n",
        f"Command: `uv run python -m benchmarks.soak --minutes {args.minutes:g} --rate "
        f"{args.rate:g} --feeds {args.feeds} --entries {args.entries}`; machine: "
        f"{psutil.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GiB; "
        "system redis-server, SQLite index, `feedpipe up` (one process per service).\n",
        f"Articles indexed: {end[2].get('indexer:processed', 0):,} in {end[0] / 60:.1f} min "
        f"(load paced at {args.rate:g}/s).\n",
        "| service | RSS after warm-up (MiB) | RSS at end (MiB) | change | median (MiB)"
        " | max (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for service in SERVICES:
        series = [s[1].get(service, 0) / 2**20 for s in after_warmup if service in s[1]]
        if not series:
            continue
        first, last = series[0], series[-1]
        lines.append(
            f"| {service} | {first:.1f} | {last:.1f} | {last - first:+.1f} "
            f"({(last - first) / first * 100:+.1f} %) | {statistics.median(series):.1f} "
            f"| {max(series):.1f} |"
        )
    lines.append(
        f"\nSamples every {args.every:g} s after a {args.warmup:g} s warm-up; "
        f"{len(after_warmup)} samples.\n"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as out:
        if args.output.stat().st_size == 0:
            out.write("# Soak: memory over a long run\n")
        out.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
