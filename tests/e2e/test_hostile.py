"""Hostile input across services: broken and malicious feeds are recorded on
their feed, malformed events are dead-lettered, and no worker dies while the
good feeds keep flowing."""

from __future__ import annotations

import gzip
import json

import aiohttp
import pytest
import redis as redis_sync

from shared.pipeline import stages, streams
from tests.support.feedsite import FeedSite, slow_body
from tests.support.fixtures import PipelineFactory
from tests.support.pipeline import get_json, indexed_once, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://example.com/a</link></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>http://example.com/b</link><description>&xxe;</description></item>
</channel></rss>"""

TRUNCATED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>cut</title><item><tit'


def many_items(n: int) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>http://example.com/many/{i}</link>"
        f"<guid>many-{i}</guid><description>Entry number {i} of a very long feed</description>"
        "</item>"
        for i in range(n)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>many</title>'
    return f"{head}{items}</channel></rss>".encode()


def serve_hostile(site: FeedSite) -> list[str]:
    """Serve the hostile feeds at /feeds/<name>; their names."""
    rss = "application/rss+xml"
    bomb = gzip.compress(b"<rss>" + b" " * 50_000_000)
    site.feed("/feeds/billion-laughs", BILLION_LAUGHS, content_type=rss)
    site.feed("/feeds/xxe", XXE, content_type=rss)
    site.feed("/feeds/gzip-bomb", bomb, content_type=rss, headers={"Content-Encoding": "gzip"})
    site.feed("/feeds/garbage", bytes(range(256)) * 64, content_type="application/octet-stream")
    site.feed("/feeds/empty", b"", content_type=rss)
    site.feed("/feeds/truncated", TRUNCATED, content_type=rss)
    site.feed("/feeds/huge-feed", many_items(25_000), content_type=rss)
    # The head of a feed, then a space a second for ten minutes.
    site.route(
        "/feeds/slow", slow_body(b'<?xml version="1.0"?><rss version="2.0"><channel>', every=1)
    )
    return [path.removeprefix("/feeds/") for path in site.routes if path.startswith("/feeds/")]


FEED_SITE_SEED = 5  # the `site` fixture's seed


async def test_hostile_feeds_are_recorded_and_good_feeds_keep_flowing(
    site: FeedSite, redis_url: str, start_pipeline: PipelineFactory
) -> None:
    hostile = serve_hostile(site)
    site.add_feed("good-rss", "rss", 20)
    site.add_feed("good-json", "json", 20)
    pipe = start_pipeline(env={"FEEDPIPE_FETCH_TIMEOUT": "5", "FEEDPIPE_READ_TIMEOUT": "3"})
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            assert await wait_until(lambda: get_json(session, f"{pipe.api}/healthz"), timeout=60), (
                pipe.log_tail()
            )
            workers = {s: {p.pid for p in pipe.workers(s)} for s in stages.names(stages.WORKERS)}
            for name in hostile:
                await pipe.acli("feeds", "add", site.feed_url(name))
            for name in ("good-rss", "good-json"):
                await pipe.acli("feeds", "add", site.feed_url(name))

            # Malformed events straight onto every stream go to that stage's DLQ.
            client = redis_sync.Redis.from_url(redis_url)
            for stage in stages.STAGES:
                client.xadd(stage.input.name, {streams.DATA_FIELD: b'{"schema_version": 99}'})

            async def good_feeds_indexed() -> bool:
                return await indexed_once(session, pipe, (a.token for a in site.articles))

            assert await wait_until(good_feeds_indexed, timeout=240), pipe.log_tail()

            async def feeds_by_url() -> dict[str, dict[str, object]]:
                listed = json.loads(await pipe.acli("feeds", "list", "--json"))
                return {f["url"]: f for f in listed}

            async def hostile_recorded() -> bool:
                feeds = await feeds_by_url()
                # A truncated document is parsed tolerantly (its complete
                # entries are kept) and a 25,000-item feed is valid: neither
                # is an error, both must simply not disturb anything.
                broken = [n for n in hostile if n not in {"huge-feed", "truncated"}]
                return all(feeds[site.feed_url(n)]["last_error"] for n in broken)

            assert await wait_until(hostile_recorded, timeout=120), json.dumps(
                await feeds_by_url(), indent=1
            )

            for stage in stages.names(stages.STAGES):
                letters = client.xrange(streams.dlq_stream(stage))
                assert any(b"schema" in fields[b"error"] for _id, fields in letters), stage
            client.close()

            after = {s: {p.pid for p in pipe.workers(s)} for s in workers}
            assert after == workers, "a worker died and was restarted"
    finally:
        pipe.stop()
