"""Whole-pipeline benchmark: feedpipe (one OS process per service, real
redis-server, SQLite or PostgreSQL index) and the single-process baseline,
against the same local feed server (its own process), in summary and
full-content mode.

One run of feedpipe:
  1. start redis-server (free loopback port), a fresh PostgreSQL database when
     asked, the feed server with a budget of ``--articles`` articles;
  2. register ``--feeds`` feeds, start ``feedpipe up [--scale S=N]``;
  3. every 0.5 s read the ``feedpipe:stats`` hash (articles acknowledged per
     stage) while a thread samples CPU time and RSS of every process;
  4. sustained throughput = indexed articles between the 10 % and the 90 %
     marks of the budget divided by the time between them (start-up and drain
     excluded); CPU per 1,000 articles per stage over the same window;
  5. latency from the indexer's ``feedpipe_ingest_latency_seconds`` histogram,
     and, in a *latency run* (feed server paced at ``--rate`` articles/s),
     externally: the time from the feed server first serving a marker article
     to the article being found by a search of the index.

Commands (each run is bounded by ``--timeout``)::

    uv run python -m benchmarks.pipeline feedpipe --mode summary --index sqlite --runs 3
    uv run python -m benchmarks.pipeline feedpipe --mode summary --rate 800 --articles 32000
    uv run python -m benchmarks.pipeline baseline --mode summary --runs 3
    uv run python -m benchmarks.pipeline report      # docs/benchmarks/pipeline.md

Results are appended to ``benchmarks/results/pipeline.jsonl`` (one JSON object
per run) and the report is rendered from that file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from benchmarks.lib import stats as st
from benchmarks.lib.sampler import ProcessSampler
from tests.support.loadsite import LoadConfig, LoadSiteProcess
from tests.support.paths import REPO
from tests.support.pipeline import Pipeline
from tests.support.postgres import ScratchDatabase
from tests.support.redis_servers import RedisServer, redis_version

RESULTS = REPO / "benchmarks" / "results" / "pipeline.jsonl"
STAGES = ("parser", "deduplicator", "indexer")
POLL_S = 0.5
MARKER_CHUNK = 30  # the query parser accepts up to 32 clauses


# --- configuration ---------------------------------------------------------------


def load_config(args: argparse.Namespace, *, rate: float) -> LoadConfig:
    marker_every = 1
    if rate > 0:  # about ten markers a second, whatever the rate
        marker_every = max(1, round(rate / args.entries / 10))
    return LoadConfig(
        feeds=args.feeds,
        entries=args.entries,
        mode=args.mode,
        words=args.words,
        max_articles=args.articles,
        rate=rate,
        marker_every=marker_every,
        page_kb=args.page_kb,
    )


def pipeline_env(index_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The services' settings beyond those every ``Pipeline`` gets."""
    return {
        "FEEDPIPE_INDEX_URL": index_url,
        "FEEDPIPE_MIN_INTERVAL": "0.5",
        # Every feed is on one host here; real deployments spread over many.
        "FEEDPIPE_PER_HOST_CONCURRENCY": "64",
        **extra,
    }


async def register_feeds(redis_url: str, urls: list[str], *, interval: float, full: bool) -> None:
    from shared.feeds import FeedRegistry
    from shared.pipeline.events import FullContent

    redis = Redis.from_url(redis_url)
    try:
        registry = FeedRegistry(redis)
        mode = FullContent.ALWAYS if full else FullContent.AUTO
        for url in urls:
            await registry.add(url, interval=interval, full_content=mode)
    finally:
        await redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def stream_state(redis: Redis) -> dict[str, Any]:
    """Length, lag and pending of every stage's input (for a run that stalled)."""
    from shared.pipeline import stages, streams

    state: dict[str, Any] = {}
    for declared in stages.STAGES:
        stage, stream = declared.name, declared.input.name
        try:
            groups = await redis.xinfo_groups(stream)
            state[stage] = {
                "length": await redis.xlen(stream),
                "groups": [
                    {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.items()}
                    for g in groups
                ],
                "dlq": await redis.xlen(streams.dlq_stream(stage)),
            }
        except Exception as exc:
            state[stage] = str(exc)
    return state


def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


# --- one feedpipe run --------------------------------------------------------------


class MarkerWatch:
    """Finds marker articles in the index as soon as they are searchable."""

    def __init__(self, site: LoadSiteProcess, index_url: str) -> None:
        from shared.index import open_index

        self.site = site
        self.index = open_index(index_url)
        self.served: dict[str, float] = {}
        self.found: dict[str, float] = {}
        self.seen_markers = 0

    async def tick(self) -> None:
        data = await asyncio.to_thread(self.site.stats, self.seen_markers)
        markers: list[list[Any]] = data["markers"]
        self.seen_markers += len(markers)
        for token, served_at in markers:
            self.served[str(token)] = float(served_at)
        outstanding = [t for t in self.served if t not in self.found]
        for i in range(0, len(outstanding), MARKER_CHUNK):
            chunk = outstanding[i : i + MARKER_CHUNK]
            try:
                page = await self.index.search(" or ".join(chunk), limit=len(chunk))
            except Exception:  # the schema may not exist before the first batch
                return
            now = time.time()
            for hit in page.hits:
                for token in chunk:
                    if token in hit.title.lower():
                        self.found.setdefault(token, now)

    def latencies(self) -> list[float]:
        return [self.found[t] - self.served[t] for t in self.found]

    async def close(self) -> None:
        await self.index.close()


async def feedpipe_run(args: argparse.Namespace, *, rate: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="feedpipe-bench-"))
    redis_server = RedisServer().start()
    pg = ScratchDatabase(prefix="feedpipe_bench").create() if args.index == "postgres" else None
    index_url = pg.url if pg else f"sqlite:///{tmp / 'index.sqlite3'}"
    site = LoadSiteProcess(load_config(args, rate=rate)).start()
    scale = {s: args.scale for s in ("parser", "deduplicator", "indexer")}
    if args.scale_only:
        scale = {s: (args.scale if s in args.scale_only else 1) for s in scale}
    extra = dict(kv.split("=", 1) for kv in args.env)
    pipe = Pipeline(redis_url=redis_server.url, data_dir=tmp, env=pipeline_env(index_url, extra))
    assert redis_server.proc is not None
    assert site.proc is not None
    sampler = ProcessSampler(
        fixed={redis_server.proc.pid: "redis-server", site.proc.pid: "feedserver"},
        discover=pipe,
        pg_database=pg.name if pg else None,
    )
    redis = Redis.from_url(redis_server.url)
    watch = MarkerWatch(site, index_url) if rate > 0 else None
    series: dict[str, list[tuple[float, float]]] = {s: [] for s in ("poller", *STAGES)}
    next_site_poll = 0.0
    result: dict[str, Any] = {}
    profile: dict[str, Any] | None = None
    try:
        urls = [site.feed_url(n) for n in range(args.feeds)]
        await register_feeds(
            redis_server.url, urls, interval=args.interval, full=args.mode == "full"
        )
        result["loadavg_start"] = os.getloadavg()
        pipe.start(scale)
        sampler.start()
        started = time.time()
        last_progress, last_count = started, -1.0
        profiler: asyncio.Task[dict[str, Any]] | None = None
        while True:
            await asyncio.sleep(0.1 if watch else POLL_S)
            now = time.time()
            raw = await redis.hgetall("feedpipe:stats")
            counts = {_text(k): float(v) for k, v in raw.items()}
            for stage in STAGES:
                series[stage].append((now, counts.get(f"{stage}:processed", 0.0)))
            indexed = series["indexer"][-1][1]
            if now >= next_site_poll:  # articles served = articles fetched by the poller
                next_site_poll = now + POLL_S
                served = await asyncio.to_thread(site.stats, 10**9)
                series["poller"].append((now, float(served["emitted"])))
            if watch is not None:
                await watch.tick()
            if args.profile and profiler is None and indexed >= 0.15 * args.articles:
                profiler = asyncio.create_task(py_spy(pipe, args.profile, args.profile_seconds))
            if indexed > last_count:
                last_progress, last_count = now, indexed
            if indexed >= args.articles:
                break
            stalled = last_count > 0 and now - last_progress > args.stall
            if stalled or now - started > args.timeout:
                result["incomplete"] = (
                    f"stopped at {indexed:.0f}/{args.articles} indexed after {now - started:.0f} s"
                )
                result["streams"] = await stream_state(redis)
                print(pipe.log_tail(), file=sys.stderr)
                break
        if watch is not None:  # let the last markers be found
            for _ in range(30):
                if len(watch.found) >= len(watch.served):
                    break
                await asyncio.sleep(0.1)
                await watch.tick()
        if profiler is not None:
            profile = await profiler
        latency_text = []
        for pid, service in pipe.replicas().items():
            port = pipe.metrics_port(pid)
            if service == "indexer" and port is not None:
                latency_text.append(await asyncio.to_thread(scrape, port))
        site_stats = site.stats()
        sampler.sample_now()
    finally:
        sampler.stop()
        await redis.aclose()
        pipe.stop()
        if watch is not None:
            await watch.close()
        site.stop()
        redis_server.close()
        if pg:
            pg.drop()
        if not result.get("incomplete"):  # keep the log and index of a failed run
            shutil.rmtree(tmp, ignore_errors=True)

    lo, hi = 0.1 * args.articles, 0.9 * args.articles
    window = st.window_rate(series["indexer"], lo, hi)
    result.update(
        {
            "kind": "feedpipe",
            "loadavg_end": os.getloadavg(),
            "label": args.label,
            "mode": args.mode,
            "index": args.index,
            "scale": scale,
            "feeds": args.feeds,
            "entries": args.entries,
            "words": args.words,
            "articles": args.articles,
            "rate_target": rate,
            "env_extra": extra,
            "indexed": series["indexer"][-1][1] if series["indexer"] else 0,
            "site": {k: v for k, v in site_stats.items() if k != "markers"},
            "peak_rss_mib": {g: round(b / 2**20, 1) for g, b in sampler.peak_rss.items()},
            "replicas": {g: len(p) for g, p in sampler.replicas.items()},
        }
    )
    if window is not None:
        rate_obs, t1, t2 = window
        cpu = sampler.cpu_between(t1, t2)
        articles = hi - lo
        result["throughput"] = rate_obs
        result["window_s"] = t2 - t1
        result["cpu_per_1000"] = {g: 1000 * c / articles for g, c in cpu.items()}
        result["cpu_total_per_1000"] = sum(result["cpu_per_1000"].values())
        result["stage_rates"] = {}
        for stage in STAGES:
            s_series = series[stage]
            a = min(s_series, key=lambda p: abs(p[0] - t1))
            b = min(s_series, key=lambda p: abs(p[0] - t2))
            per = args.entries if stage == "parser" else 1  # parser counts feed documents
            result["stage_rates"][stage] = (b[1] - a[1]) * per / (b[0] - a[0])
    # Each stage over its own 10-90 % window: a stage that is not the bottleneck
    # drains early, outside the indexer's window.
    result["cpu_per_1000_own"], result["stage_rates_own"] = {}, {}
    for stage in ("poller", *STAGES):
        unit = args.entries if stage == "parser" else 1
        own = st.window_rate(series[stage], 0.1 * args.articles / unit, 0.9 * args.articles / unit)
        if own is not None:
            _, a_t, b_t = own
            used = sampler.cpu_between(a_t, b_t).get(stage, 0.0)
            result["cpu_per_1000_own"][stage] = 1000 * used / (0.8 * args.articles)
            result["stage_rates_own"][stage] = 0.8 * args.articles / (b_t - a_t)
    # Whole run, first article served to last indexed: every process, all work.
    first = st.crossing_time(series["poller"], 1)
    last = st.crossing_time(series["indexer"], args.articles)
    if first is not None and last is not None:
        whole = sampler.cpu_between(first, last)
        result["cpu_per_1000_run"] = {g: 1000 * c / args.articles for g, c in whole.items()}
        result["run_rate"] = args.articles / (last - first)
    buckets = st.merge_buckets(
        *(st.histogram_buckets(t, "feedpipe_ingest_latency_seconds") for t in latency_text)
    )
    result["ingest_latency"] = {
        f"p{q}": st.histogram_quantile(q / 100, buckets) for q in (50, 95, 99)
    }
    if watch is not None:
        lat = watch.latencies()
        result["external_latency"] = {
            "markers": len(watch.served),
            "found": len(lat),
            **{f"p{q}": st.quantile(lat, q / 100) for q in (50, 95, 99)},
        }
        if series["indexer"] and len(series["indexer"]) > 2:
            first = st.crossing_time(series["indexer"], 1)
            if first is not None:
                result["offered_rate_observed"] = series["indexer"][-1][1] / (
                    series["indexer"][-1][0] - first
                )
    if profile is not None:
        result["profile"] = profile
    return result


async def py_spy(pipe: Pipeline, service: str, seconds: int) -> dict[str, Any]:
    """Sample the first replica of ``service`` with py-spy; top frames by self
    and by total samples (from py-spy's collapsed-stack output)."""
    pids = [pid for pid, s in pipe.replicas().items() if s == service]
    if not pids:
        return {"error": f"no {service} replica"}
    out = Path(tempfile.mkdtemp()) / "profile.txt"
    proc = await asyncio.create_subprocess_exec(
        "py-spy", "record", "--pid", str(pids[0]), "--duration", str(seconds),
        "--format", "raw", "--output", str(out), "--nonblocking", "--rate", "200",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    samples = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count

    def top(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:25]
        return [(frame, round(100 * c / samples, 1)) for frame, c in best]

    return {"service": service, "samples": samples, "self": top(self_counts),
            "total": top(total_counts)}  # fmt: skip


# --- one baseline run --------------------------------------------------------------


def baseline_run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="feedpipe-bench-baseline-"))
    site = LoadSiteProcess(load_config(args, rate=0)).start()
    sampler: ProcessSampler | None = None
    try:
        urls = [site.feed_url(n) for n in range(args.feeds)]
        cmd = [
            sys.executable, "-m", "benchmarks.baseline", "--db", str(tmp / "b.sqlite3"),
            "--mode", args.mode, "--max-articles", str(args.articles),
            "--max-seconds", str(args.timeout), *(["--fast"] if args.fast else []), *urls,
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE)
        assert site.proc is not None
        sampler = ProcessSampler(fixed={proc.pid: "baseline", site.proc.pid: "feedserver"})
        sampler.start()
        out, _ = proc.communicate(timeout=args.timeout + 60)
        sampler.stop()
        data = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        if sampler is not None:
            sampler.stop()
        site.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = sampler.cpu_between(sampler.samples[0].at, sampler.samples[-1].at)
    return {
        "kind": "baseline",
        "label": args.label,
        "mode": args.mode,
        "fast": args.fast,
        "feeds": args.feeds,
        "entries": args.entries,
        "words": args.words,
        "articles": args.articles,
        "indexed": data["articles"],
        "throughput": data["rate"],
        "seconds": data["seconds"],
        "cpu_per_1000": {g: 1000 * c / max(data["articles"], 1) for g, c in cpu.items()},
        "peak_rss_mib": {g: round(b / 2**20, 1) for g, b in sampler.peak_rss.items()},
    }


# --- machine ---------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import psutil

    model = ""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return {
        "cpu": model,
        "cores": psutil.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "redis": redis_version(),
    }


def git_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
        check=False,
    ).stdout.strip()  # fmt: skip


def load_results() -> list[dict[str, Any]]:
    if not RESULTS.exists():
        return []
    return [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]


def save(result: dict[str, Any], command: str) -> None:
    result["command"] = command
    result["machine"] = machine()
    result["commit"] = git_commit()
    result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(result) + "\n")


def summary_line(r: dict[str, Any]) -> str:
    parts = [f"{r['kind']} {r['mode']} {r.get('index', '')} scale={r.get('scale', '')}"]
    if "throughput" in r:
        parts.append(f"{r['throughput']:.0f} art/s")
    if r.get("incomplete"):
        parts.append(f"INCOMPLETE: {r['incomplete']} {json.dumps(r.get('streams'))}")
    if "external_latency" in r:
        parts.append(f"ext latency {r['external_latency']}")
    if r.get("ingest_latency"):
        parts.append(f"ingest latency {r['ingest_latency']}")
    if "cpu_per_1000" in r:
        cpu = ", ".join(f"{k}={v:.2f}" for k, v in sorted(r["cpu_per_1000"].items()))
        parts.append(f"cpu s/1000: {cpu}")
    parts.append(f"rss MiB {r.get('peak_rss_mib')}")
    return " | ".join(parts)


# --- command line ------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("feedpipe", "baseline"):
        p = sub.add_parser(name)
        p.add_argument("--mode", choices=("summary", "full"), default="summary")
        p.add_argument("--runs", type=int, default=3)
        p.add_argument("--feeds", type=int, default=200)
        p.add_argument("--entries", type=int, default=50)
        p.add_argument("--words", type=int, default=300)
        p.add_argument("--articles", type=int, default=40_000)
        p.add_argument("--page-kb", type=int, default=50)
        p.add_argument("--timeout", type=float, default=240, help="Bound of one run (s).")
        p.add_argument("--label", default="", help="Free text kept with the result.")
        p.add_argument("--no-save", action="store_true")
    fp = sub.choices["feedpipe"]
    fp.add_argument("--index", choices=("sqlite", "postgres"), default="sqlite")
    fp.add_argument("--scale", type=int, default=1, help="Replicas of parser/dedup/indexer.")
    fp.add_argument("--scale-only", nargs="*", default=[], help="Scale only these services.")
    fp.add_argument("--interval", type=float, default=1.0, help="Poll interval of each feed (s).")
    fp.add_argument("--rate", type=float, default=0.0, help="Pace the feed server (articles/s).")
    fp.add_argument(
        "--rate-from", default="", help="Pace at --rate-fraction of this label's median."
    )
    fp.add_argument("--rate-fraction", type=float, default=0.5)
    fp.add_argument("--duration", type=float, default=40.0, help="Length of a paced run (s).")
    fp.add_argument("--stall", type=float, default=45.0, help="Give up after no progress (s).")
    fp.add_argument("--profile", default="", help="py-spy this service during the run.")
    fp.add_argument("--profile-seconds", type=int, default=15)
    fp.add_argument("--env", nargs="*", default=[], help="Extra FEEDPIPE_X=value for services.")
    sub.choices["baseline"].add_argument("--fast", action="store_true")
    rp = sub.add_parser("report")
    rp.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks" / "pipeline.md")
    return ap


def main() -> None:
    args = parser().parse_args()
    if args.command == "report":
        from benchmarks.lib.report import write_report

        write_report(RESULTS, args.output)
        return
    command = "uv run python -m benchmarks.pipeline " + " ".join(sys.argv[1:])
    if args.command == "feedpipe" and args.rate_from:
        sustained = st.median(
            [
                r.get("throughput")
                for r in load_results()
                if r.get("label") == args.rate_from and r.get("mode") == args.mode
            ]
        )
        if sustained is None:
            raise SystemExit(f"no results labelled {args.rate_from!r} in mode {args.mode}")
        args.rate = round(sustained * args.rate_fraction, 1)
        args.articles = int(args.rate * args.duration)
    if args.command in ("feedpipe", "baseline"):
        # The feed server serves whole generations: a budget it can reach exactly.
        args.articles = max(args.articles // args.entries, 1) * args.entries
    if getattr(args, "rate", 0):
        print(f"paced run at {args.rate} articles/s for {args.articles} articles", flush=True)
    for i in range(args.runs):
        if args.command == "feedpipe":
            result = asyncio.run(feedpipe_run(args, rate=args.rate))
        else:
            result = baseline_run(args)
        result["run"] = i + 1
        print(summary_line(result), flush=True)
        if not args.no_save:
            save(result, command)


if __name__ == "__main__":
    main()
