"""Chaos: SIGKILL random workers of every stage and restart Redis while
thousands of articles flow; afterwards every article is indexed exactly once
and no entry is left pending or dead-lettered."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import aiohttp
import pytest
import redis as redis_sync

from shared.pipeline import stages, streams
from tests.support.feedsite import FeedSite
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import Pipeline, get_json, wait_until
from tests.support.redis_servers import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROUNDS = 3
FEEDS_PER_ROUND = 4
ENTRIES_PER_FEED = 200  # 3 rounds x 4 feeds x 200 = 2,400 articles
WORKERS = stages.names(stages.WORKERS)


FEED_SITE_SEED = 11  # the `site` fixture's seed


def pipeline_drained(url: str) -> bool:
    client = redis_sync.Redis.from_url(url)
    try:
        for stage in stages.STAGES:
            stream, group = stage.input.name, stage.group
            try:
                groups = client.xinfo_groups(stream)
            except redis_sync.ResponseError:
                return False
            info = next((g for g in groups if g["name"] == group.encode()), None)
            if info is None or info["pending"]:
                return False
            last = info["last-delivered-id"].decode()
            if client.xrange(stream, min=f"({last}", max="+", count=1):
                return False
        return True
    finally:
        client.close()


async def indexed_exactly_once(
    session: aiohttp.ClientSession, pipe: Pipeline, site: FeedSite
) -> list[str]:
    wrong = []
    for art in site.articles:
        result = await get_json(session, f"{pipe.api}/search", q=art.token, limit=5)
        if result["total"] != 1:
            wrong.append(f"{art.token}: {result['total']}")
    return wrong


async def test_nothing_lost_nothing_doubled_under_kills_and_a_redis_restart(
    site: FeedSite,
    redis_server: RedisServer,
    redis_url: str,
    start_pipeline: PipelineFactory,
    tmp_path: Path,
) -> None:
    rng = random.Random(2026)
    pipe = start_pipeline(scale={"parser": 2})
    kills = 0
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            assert await wait_until(lambda: get_json(session, f"{pipe.api}/healthz"), timeout=60), (
                pipe.log_tail()
            )
            for round_no in range(ROUNDS):
                for f in range(FEEDS_PER_ROUND):
                    name = f"r{round_no}f{f}"
                    site.add_feed(name, ("rss", "atom", "json")[f % 3], ENTRIES_PER_FEED)
                    await pipe.acli("feeds", "add", site.feed_url(name))
                for stage in rng.sample(WORKERS, k=len(WORKERS)):
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    if pipe.workers(stage):
                        pid = pipe.kill_worker(stage)
                        kills += 1
                        await asyncio.to_thread(pipe.wait_for_worker, stage, not_pid=pid)
                if round_no == 1:
                    await asyncio.sleep(rng.uniform(0.2, 1.0))
                    redis_server.stop(kill=True)  # crash, not a clean shutdown
                    await asyncio.sleep(1.0)
                    redis_server.start()

            drained = await wait_until(
                lambda: asyncio.to_thread(pipeline_drained, redis_url), timeout=300, interval=1
            )
            assert drained, pipe.log_tail()
            wrong = await indexed_exactly_once(session, pipe, site)
            assert wrong == [], f"{len(wrong)} articles not indexed exactly once: {wrong[:10]}"

        client = redis_sync.Redis.from_url(redis_url)
        names = stages.names(stages.STAGES)
        dead = {stage: client.xlen(streams.dlq_stream(stage)) for stage in names}
        client.close()
        assert dead == dict.fromkeys(names, 0)
        summary = {
            "rounds": ROUNDS,
            "kills": kills,
            "redis_restarts": 1,
            "articles": len(site.articles),
            "lost": 0,
            "doubled": 0,
        }
        (tmp_path / "chaos-summary.json").write_text(json.dumps(summary))
        print("chaos summary:", json.dumps(summary))
    finally:
        pipe.stop()
