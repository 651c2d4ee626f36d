"""Graceful shutdown: SIGTERM stops reading, finishes the batch in hand, acks
it and exits within a bounded time, leaving nothing pending on its consumer."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime

import aiohttp
import psutil
import pytest
import redis as redis_sync

from shared.pipeline import stages, streams
from shared.pipeline.events import Article, ArticleCommitted, CommitKind
from tests.support.feedsite import FeedSite
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import get_json, indexed_once, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

STOP_BOUND_S = 30  # uvicorn and FastStream graceful timeouts are 20 s


FEED_SITE_SEED = 3  # the `site` fixture's seed


def committed_event(n: int) -> bytes:
    now = datetime.now(UTC)
    article = Article(
        article_id=f"shutdown{n}", feed_id="f", feed_url="http://127.0.0.1/f", url=None,
        fetched_at=now,
    )  # fmt: skip
    return ArticleCommitted(
        kind=CommitKind.NEW, cursor=str(n), article_id=article.article_id,
        cluster_id=article.article_id, version=1, committed_at=now, article=article,
    ).model_dump_json().encode()  # fmt: skip


def pending_of(redis_url: str, stream: str, group: str, pid: int) -> int | None:
    client = redis_sync.Redis.from_url(redis_url)
    try:
        for consumer in client.xinfo_consumers(stream, group):
            if consumer["name"].decode().endswith(f"-{pid}"):
                return int(consumer["pending"])
        return None
    finally:
        client.close()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # exited (and was reaped) between the two checks
        return False


async def wait_gone(proc: psutil.Process, timeout: float) -> float:
    started = time.monotonic()
    while _alive(proc):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"pid {proc.pid} still running after {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("service", stages.names(stages.STAGES))
async def test_sigterm_mid_flow_exits_cleanly_and_strands_nothing(
    site: FeedSite, redis_url: str, start_pipeline: PipelineFactory, service: str
) -> None:
    stage = stages.named(stages.STAGES, service)
    stream, group = stage.input.name, stage.group
    for n in range(4):
        site.add_feed(f"f{n}", ("rss", "atom", "json", "rss")[n], 150)
    pipe = start_pipeline()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            assert await wait_until(lambda: get_json(session, f"{pipe.api}/healthz"), timeout=60), (
                pipe.log_tail()
            )
            assert await wait_until(
                lambda: asyncio.to_thread(lambda: bool(pipe.workers(service))), timeout=60
            )
            for n in range(4):
                await pipe.acli("feeds", "add", site.feed_url(f"f{n}"))

            client = redis_sync.Redis.from_url(redis_url)
            if stream == streams.COMMITTED:
                # The deliverer reads what the indexer commits; the test also
                # commits events of its own, so the deliverer has work at once.
                for n in range(600):
                    client.xadd(stream, {streams.DATA_FIELD: committed_event(n)})

            async def flowing() -> bool:
                stats = client.hget(streams.STATS, f"{service}:processed")
                return stats is not None and int(stats) > 0

            assert await wait_until(flowing, timeout=120, interval=0.05), pipe.log_tail()
            victim = pipe.workers(service)[0]
            victim.send_signal(signal.SIGTERM)
            took = await wait_gone(victim, STOP_BOUND_S)
            assert took < STOP_BOUND_S

            assert pending_of(redis_url, stream, group, victim.pid) in (0, None)
            # uvicorn re-raises the SIGTERM it handled once shutdown is done,
            # so a clean stop exits with -15 after the graceful-shutdown line.
            await asyncio.sleep(0.5)
            lines = [ln for ln in pipe.log_tail(600).splitlines() if ln.startswith(f"{service}.0")]
            assert any("shut down gracefully" in ln for ln in lines)
            assert any("exited with -15" in ln or "exited with 0" in ln for ln in lines)

            async def all_indexed() -> bool:
                return await indexed_once(session, pipe, (a.token for a in site.articles))

            assert await wait_until(all_indexed, timeout=180), pipe.log_tail()
            client.close()
    finally:
        pipe.stop()
