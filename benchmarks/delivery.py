"""Delivery: committed articles/s through one deliverer process, and the
latency from the index commit to the receiver's acknowledgement.

For each target (``--targets``: webhook, rabbitmq, nats) and run, with the
runs of the targets alternated (webhook, rabbitmq, nats, webhook, ...):

* **throughput**: ``--articles`` committed events are written to the
  committed stream of a redis-server this script starts (as the indexer writes
  them), one output of the target's kind is added, then one deliverer process
  (``python -m services.cli run deliverer``, as ``feedpipe up`` runs it) is
  started. Rate = articles / (last receipt - first receipt); the deliverer's
  CPU seconds (user + system, psutil) over the run give CPU-ms per article.
* **latency**: with the same process running, ``--rate`` articles/s are
  committed for ``--seconds`` s, in batches of 10 every 1/10 of the rate (an
  indexer commits batches), each with ``committed_at`` = the time of its XADD;
  the receiver notes when each item arrives. p50/p95/p99 of arrival -
  ``committed_at``.

Receivers run in this process (its CPU per article is reported beside the
deliverer's): the webhook one verifies every Standard
Webhooks signature (``tests.support.webhooks``); RabbitMQ: a queue bound to
the output's exchange consumed with aio-pika (receipt = delivery to the
consumer); NATS: a JetStream push subscription on the output's stream.

Articles carry real text (the extraction-eval corpus, page ``n`` mod the usable
pages, as text and as HTML paragraphs) unless the corpus is missing or
``--synthetic`` is given.

    uv run python -m benchmarks.delivery --articles 10000 --runs 3
    uv run python -m benchmarks.delivery --targets webhook --articles 2000 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from redis.asyncio import Redis

from benchmarks.lib import stats as st
from benchmarks.pipeline import git_commit, machine
from shared.outputs import OutputKind, OutputRegistry, OutputSpec
from shared.pipeline import streams
from shared.pipeline.events import Article, ArticleCommitted, CommitKind
from shared.pipeline.service import ensure_groups
from tests.support.brokers import AMQP_URL, NATS_URL, unique
from tests.support.paths import REPO
from tests.support.realtext import CorpusMissing, RealCorpus, default_path
from tests.support.redis_servers import RedisServer
from tests.support.textgen import SyntheticText
from tests.support.webhooks import Received, WebhookReceiver

RESULTS = REPO / "benchmarks" / "results" / "delivery.jsonl"
SECRET = "benchmark-secret"
PREFILL_CHUNK = 500


# --- articles -------------------------------------------------------------------------


@dataclass
class Texts:
    """(title, language, paragraphs) per article, cycled."""

    pool: list[tuple[str, str | None, tuple[str, ...]]]
    source: str

    @classmethod
    def load(cls, corpus: Path | None, *, synthetic: bool, size: int = 400) -> Texts:
        if not synthetic:
            try:
                real = RealCorpus.open(corpus)
                pool = []
                while len(pool) < size and (page := real.page(len(pool))) is not None:
                    pool.append((page.title, page.language, page.paragraphs))
                return cls(pool, f"real text ({len(pool)} pages of {real.path.name})")
            except CorpusMissing:
                pass
        texts = SyntheticText(words=400).texts("bench", [f"tok{n}" for n in range(size)])
        return cls([(t.title, "en", t.paragraphs) for t in texts], "synthetic text (400 words)")

    def article(self, n: int, now: datetime) -> Article:
        title, language, paragraphs = self.pool[n % len(self.pool)]
        return Article(
            article_id=f"bench{n:07d}",
            feed_id=f"feed{n % 50}",
            feed_url=f"https://feed{n % 50}.example/rss",
            url=f"https://feed{n % 50}.example/articles/{n}",
            title=title,
            language=language,
            text="\n\n".join(paragraphs),
            content_html="".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
            summary=paragraphs[0][:200],
            fetched_at=now,
            published_at=now,
        )

    def event(self, n: int) -> ArticleCommitted:
        now = datetime.now(UTC)
        article = self.article(n, now)
        return ArticleCommitted(
            kind=CommitKind.NEW,
            cursor=f"{n:012d}",
            article_id=article.article_id,
            cluster_id=article.article_id,
            version=1,
            committed_at=now,
            article=article,
        )


async def commit(redis: Redis, events: list[ArticleCommitted]) -> None:
    pipe = redis.pipeline(transaction=False)
    for event in events:
        pipe.xadd(streams.COMMITTED, {streams.DATA_FIELD: event.model_dump_json()})
    await pipe.execute()


# --- receivers ------------------------------------------------------------------------


@dataclass
class Arrivals:
    """When each item arrived, and its commit time."""

    at: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)

    def note(self, committed_at: str) -> None:
        now = time.time()
        self.at.append(now)
        self.latency.append(now - datetime.fromisoformat(committed_at).timestamp())

    def reset(self) -> None:
        self.at.clear()
        self.latency.clear()


class Receiver:
    """One target: the output to add and where its items arrive."""

    kind: OutputKind
    arrivals: Arrivals

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def output(self) -> dict[str, Any]: ...


class WebhookTarget(Receiver):
    kind = OutputKind.WEBHOOK

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.receiver = WebhookReceiver(secret=SECRET.encode())
        self.receiver.on_accept = self._note

    def _note(self, received: Received) -> None:
        for item in received.body["items"]:
            self.arrivals.at.append(received.at)
            self.arrivals.latency.append(
                received.at - datetime.fromisoformat(item["committed_at"]).timestamp()
            )

    async def start(self) -> None:
        await self.receiver.start()

    async def stop(self) -> None:
        await self.receiver.stop()

    def output(self) -> dict[str, Any]:
        return {"url": self.receiver.url, "secret": SECRET}


class RabbitTarget(Receiver):
    kind = OutputKind.RABBITMQ

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.exchange = unique("feedpipe-bench")

    async def start(self) -> None:
        import aio_pika

        self.connection = await aio_pika.connect(AMQP_URL)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")

        async def on_message(message: Any) -> None:
            self.arrivals.note(json.loads(message.body)["committed_at"])

        await queue.consume(on_message, no_ack=True)
        self._channel, self._exchange_obj = channel, exchange

    async def stop(self) -> None:
        await self._exchange_obj.delete()
        await self.connection.close()

    def output(self) -> dict[str, Any]:
        return {"url": AMQP_URL, "exchange": self.exchange}


class NatsTarget(Receiver):
    kind = OutputKind.NATS

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.stream = unique("feedpipe_bench")

    async def start(self) -> None:
        import nats

        self.client = await nats.connect(NATS_URL)
        js = self.client.jetstream()
        await js.add_stream(name=self.stream, subjects=[f"{self.stream}.*"])

        async def on_message(message: Any) -> None:
            self.arrivals.note(json.loads(message.data)["committed_at"])
            await message.ack()

        await js.subscribe(f"{self.stream}.*", cb=on_message, manual_ack=True)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.jetstream().delete_stream(self.stream)
        await self.client.drain()

    def output(self) -> dict[str, Any]:
        return {"url": NATS_URL, "subject": f"{self.stream}.{{lang}}", "stream": self.stream}


TARGETS: dict[str, Callable[[], Receiver]] = {
    "webhook": WebhookTarget,
    "rabbitmq": RabbitTarget,
    "nats": NatsTarget,
}


# --- one run ----------------------------------------------------------------------------


def deliverer_env(redis_url: str, extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPIPE_")}
    env.update(
        FEEDPIPE_REDIS_URL=redis_url,
        FEEDPIPE_METRICS_PORT="0",
        FEEDPIPE_ALLOW_PRIVATE_NETWORKS="true",
        FEEDPIPE_LOG_JSON="true",
        FEEDPIPE_LOG_LEVEL="WARNING",
    )
    for item in extra:
        key, _, value = item.partition("=")
        env[key] = value
    return env


async def wait_count(arrivals: Arrivals, count: int, *, within: float, proc: Any) -> None:
    deadline = time.monotonic() + within
    while len(arrivals.at) < count:
        if proc.returncode is not None:
            raise RuntimeError(f"the deliverer exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(arrivals.at)} of {count} items arrived in {within:g} s")
        await asyncio.sleep(0.05)


async def one_run(
    args: argparse.Namespace, target_name: str, texts: Texts, server: RedisServer
) -> dict[str, Any]:
    redis = Redis.from_url(server.url)
    await redis.flushall()
    await ensure_groups(redis)
    target = TARGETS[target_name]()
    await target.start()
    log = Path(args.log_dir) / f"deliverer-{target_name}-{time.time():.0f}.log"
    proc: asyncio.subprocess.Process | None = None
    try:
        spec = OutputSpec(kind=target.kind, **target.output())
        await OutputRegistry(redis).add(spec, allow_private_networks=True)
        for start in range(0, args.articles, PREFILL_CHUNK):
            end = min(start + PREFILL_CHUNK, args.articles)
            await commit(redis, [texts.event(n) for n in range(start, end)])
        mean_bytes = sum(len(texts.event(n).model_dump_json()) for n in range(50)) / 50
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli", "run", "deliverer",
                env=deliverer_env(server.url, args.env), cwd=REPO, stdout=out, stderr=out,
            )  # fmt: skip
        ps, me = psutil.Process(proc.pid), psutil.Process()
        await wait_count(target.arrivals, 1, within=120, proc=proc)
        cpu_start, mine_start = sum(ps.cpu_times()[:2]), sum(me.cpu_times()[:2])
        await wait_count(target.arrivals, args.articles, within=600, proc=proc)
        cpu = sum(ps.cpu_times()[:2]) - cpu_start
        receiver_cpu = sum(me.cpu_times()[:2]) - mine_start
        first, last = min(target.arrivals.at), max(target.arrivals.at)
        rate = (args.articles - 1) / (last - first) if last > first else None

        # Latency: paced commits while the same process runs.
        target.arrivals.reset()
        await asyncio.sleep(1)
        step = 10 / args.rate
        sent = 0
        began = time.monotonic()
        while time.monotonic() - began < args.seconds:
            await commit(redis, [texts.event(args.articles + sent + i) for i in range(10)])
            sent += 10
            await asyncio.sleep(max(0.0, began + sent / args.rate - time.monotonic()))
        await wait_count(target.arrivals, sent, within=120, proc=proc)
        latency = target.arrivals.latency
        return {
            "target": target_name,
            "articles": args.articles,
            "mean_event_bytes": round(mean_bytes),
            "rate": rate,
            "cpu_ms_per_article": 1000 * cpu / (args.articles - 1),
            "receiver_cpu_ms_per_article": 1000 * receiver_cpu / (args.articles - 1),
            "latency_rate": args.rate,
            "latency_items": sent,
            "p50": st.quantile(latency, 0.5),
            "p95": st.quantile(latency, 0.95),
            "p99": st.quantile(latency, 0.99),
            "step_s": step,
        }
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await target.stop()
        await redis.aclose()


# --- main ---------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--targets", default="webhook,rabbitmq,nats")
    p.add_argument("--articles", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=float, default=100.0, help="latency phase: articles/s")
    p.add_argument("--seconds", type=float, default=20.0, help="latency phase: duration")
    p.add_argument("--corpus", type=Path, default=None, help=f"default {default_path()}")
    p.add_argument("--synthetic", action="store_true", help="synthetic texts, not real ones")
    p.add_argument("--env", action="append", default=[], help="FEEDPIPE_X=Y for the deliverer")
    p.add_argument("--label", default="")
    p.add_argument("--log-dir", default="/tmp", help="where the deliverer's logs go")
    p.add_argument("--no-save", action="store_true", help=f"do not append to {RESULTS.name}")
    return p


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


async def amain(args: argparse.Namespace) -> None:
    texts = Texts.load(args.corpus, synthetic=args.synthetic)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    print(f"{texts.source}; load average {os.getloadavg()}", flush=True)
    results: list[dict[str, Any]] = []
    with RedisServer() as server:
        for run in range(args.runs):
            for name in targets:
                result = await one_run(args, name, texts, server)
                result.update(
                    run=run, label=args.label, texts=texts.source, load=os.getloadavg()[0]
                )
                results.append(result)
                print(
                    f"run {run} {name}: {fmt(result['rate'])} articles/s,"
                    f" {fmt(result['cpu_ms_per_article'], 2)} CPU-ms/article"
                    f" (receiver {fmt(result['receiver_cpu_ms_per_article'], 2)});"
                    f" latency at {args.rate:g}/s p50 {fmt(result['p50'], 3)} s"
                    f" p95 {fmt(result['p95'], 3)} s p99 {fmt(result['p99'], 3)} s;"
                    f" load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    print("\n| target | articles/s (runs) | CPU-ms/article | p50 | p95 | p99 |")
    print("|---|---|---|---|---|---|")
    for name in targets:
        mine = [r for r in results if r["target"] == name]
        runs = " / ".join(fmt(r["rate"]) for r in mine)
        print(
            f"| {name} | **{fmt(st.median([r['rate'] for r in mine]))}** ({runs}) |"
            f" {fmt(st.median([r['cpu_ms_per_article'] for r in mine]), 2)} |"
            f" {fmt(st.median([r['p50'] for r in mine]), 3)} s |"
            f" **{fmt(st.median([r['p95'] for r in mine]), 3)} s** |"
            f" {fmt(st.median([r['p99'] for r in mine]), 3)} s |"
        )
    if not args.no_save:
        stamp = {"machine": machine(), "commit": git_commit(), "command": " ".join(sys.argv)}
        with RESULTS.open("a") as out:
            for result in results:
                out.write(json.dumps({**result, **stamp}) + "\n")


def main() -> None:
    asyncio.run(amain(parser().parse_args()))


if __name__ == "__main__":
    main()
