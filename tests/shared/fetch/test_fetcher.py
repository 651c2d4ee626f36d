"""SafeFetcher against a local aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from redis.asyncio import Redis

from shared.fetch.fetcher import (
    USER_AGENT,
    FetchOutcome,
    SafeFetcher,
    parse_retry_after,
)
from shared.fetch.netguard import guarded_socket_factory, is_public_address
from shared.settings import Settings
from tests.support.feedsite import RSS, slow_body
from tests.support.ports import free_port

LIMIT = 64 * 1024


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_networks": True,
        "fetch_timeout": 3.0,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_body_bytes": LIMIT,
        "per_host_concurrency": 50,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def make_fetcher(request) -> AsyncIterator[Callable[..., SafeFetcher]]:
    """Fetchers; ``shared=True`` gives each its own client of the test Redis,
    like separate poller processes."""
    made: list[SafeFetcher] = []
    clients: list[Redis] = []

    def make(shared: bool = False, **overrides: object) -> SafeFetcher:
        client = None
        if shared:
            client = Redis.from_url(request.getfixturevalue("redis_url"))
            clients.append(client)
        fetcher = SafeFetcher(settings(**overrides), redis=client)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()
    for client in clients:
        await client.aclose()


# --- success and headers -----------------------------------------------------------


async def test_ok_returns_body_and_validators(site, make_fetcher) -> None:
    url = site.feed("/f", etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = await make_fetcher().fetch(url)
    assert result.result is FetchOutcome.OK
    assert result.status == 200
    assert result.body == RSS
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert result.final_url == url


async def test_requests_carry_user_agent_and_accept_encoding(site, make_fetcher) -> None:
    await make_fetcher().fetch(site.feed("/f"))
    headers = site.seen[0].headers
    assert headers["User-Agent"] == USER_AGENT
    assert "feedpipe/" in headers["User-Agent"]
    assert "http" in headers["User-Agent"]
    assert "gzip" in headers["Accept-Encoding"]


async def test_etag_is_sent_as_if_none_match_and_304_is_not_modified(site, make_fetcher) -> None:
    url = site.feed("/f", etag='"v1"')
    result = await make_fetcher().fetch(url, etag='"v1"')
    assert site.seen[0].headers["If-None-Match"] == '"v1"'
    assert result.result is FetchOutcome.NOT_MODIFIED
    assert result.status == 304
    assert result.body == b""


async def test_last_modified_is_sent_as_if_modified_since(site, make_fetcher) -> None:
    stamp = "Tue, 02 Jan 2024 00:00:00 GMT"
    url = site.feed("/f", last_modified=stamp)
    result = await make_fetcher().fetch(url, last_modified=stamp)
    assert site.seen[0].headers["If-Modified-Since"] == stamp
    assert result.result is FetchOutcome.NOT_MODIFIED


async def test_gzip_body_is_decoded(site, make_fetcher) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(RSS),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        )

    result = await make_fetcher().fetch(site.route("/gz", handler))
    assert result.result is FetchOutcome.OK
    assert result.body == RSS


async def test_raw_deflate_body_is_decoded(site, make_fetcher) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return web.Response(
            body=z.compress(RSS) + z.flush(),
            headers={"Content-Encoding": "deflate", "Content-Type": "application/rss+xml"},
        )

    result = await make_fetcher().fetch(site.route("/deflate", handler))
    assert result.body == RSS


# --- HTTP errors and Retry-After ------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_error_status_is_http_error(site, make_fetcher, status: int) -> None:
    result = await make_fetcher().fetch(site.status("/e", status))
    assert result.result is FetchOutcome.HTTP_ERROR
    assert result.status == status
    assert result.error is not None
    assert str(status) in result.error


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_blocks_the_whole_host(site, make_fetcher, redis_url, status) -> None:
    url = site.status("/busy", status, {"Retry-After": "120"})
    other = site.feed("/other")
    first = await make_fetcher(shared=True).fetch(url)
    assert first.result is FetchOutcome.HTTP_ERROR
    assert first.retry_after == pytest.approx(120)
    # Another process (another client) fetching another feed of the host waits too.
    second = await make_fetcher(shared=True).fetch(other)
    assert second.result is FetchOutcome.DEFERRED
    assert second.retry_after is not None
    assert 100 < second.retry_after <= 120
    assert site.hits["/other"] == 0


async def test_429_without_retry_after_still_blocks_host(site, make_fetcher) -> None:
    fetcher = make_fetcher()
    first = await fetcher.fetch(site.status("/busy", 429))
    assert first.retry_after is not None
    assert first.retry_after > 0
    assert (await fetcher.fetch(site.feed("/other"))).result is FetchOutcome.DEFERRED


def test_retry_after_http_date_is_parsed() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:15:00 GMT", now=now) == pytest.approx(100)
    assert parse_retry_after("30", now=now) == 30
    assert parse_retry_after("soon", now=now) is None


# --- redirects ------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
async def test_permanent_redirect_is_recorded(site, make_fetcher, status: int) -> None:
    target = site.feed("/new")
    result = await make_fetcher().fetch(site.redirect("/old", status, "/new"))
    assert result.result is FetchOutcome.OK
    assert result.final_url == target
    assert result.permanent_redirect == target


@pytest.mark.parametrize("status", [302, 307])
async def test_temporary_redirect_is_not_recorded(site, make_fetcher, status: int) -> None:
    target = site.feed("/tmp-target")
    result = await make_fetcher().fetch(site.redirect("/old", status, target))
    assert result.result is FetchOutcome.OK
    assert result.final_url == target
    assert result.permanent_redirect is None


async def test_permanent_part_of_a_mixed_chain_is_recorded(site, make_fetcher) -> None:
    site.feed("/c")
    middle = site.redirect("/b", 302, "/c")
    result = await make_fetcher().fetch(site.redirect("/a", 301, "/b"))
    assert result.permanent_redirect == middle
    assert result.final_url == site.url("/c")


async def test_redirect_limit(site, make_fetcher) -> None:
    for i in range(5):
        site.redirect(f"/r{i}", 302, f"/r{i + 1}")
    site.feed("/r5")
    result = await make_fetcher(max_redirects=3).fetch(site.url("/r0"))
    assert result.result is FetchOutcome.HTTP_ERROR
    assert "redirects" in (result.error or "")


async def test_redirect_to_unsupported_scheme_is_refused(site, make_fetcher) -> None:
    result = await make_fetcher().fetch(site.redirect("/r", 302, "file:///etc/passwd"))
    assert result.result is FetchOutcome.REFUSED


# --- size limits ------------------------------------------------------------------


async def test_declared_oversize_body_is_too_large(site, make_fetcher) -> None:
    url = site.feed("/big", b"<rss>" + b"x" * (LIMIT * 2) + b"</rss>")
    result = await make_fetcher().fetch(url)
    assert result.result is FetchOutcome.TOO_LARGE
    assert result.body == b""


async def test_streamed_oversize_body_is_cut_off(site, make_fetcher) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"x" * 16384)
        await resp.write_eof()
        return resp

    result = await make_fetcher().fetch(site.route("/chunked", handler))
    assert result.result is FetchOutcome.TOO_LARGE
    assert result.bytes_received <= LIMIT + 64 * 1024


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return zlib.compress(b"\0" * (64 * 1024 * 1024), 9)  # ~64 kB -> 64 MB


async def test_gzip_bomb_is_cut_off_without_inflating(site, make_fetcher, gzip_bomb) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip_bomb,
            headers={"Content-Encoding": "deflate", "Content-Type": "application/rss+xml"},
        )

    url = site.route("/bomb", handler)
    fetcher = make_fetcher()
    tracemalloc.start()
    try:
        result = await fetcher.fetch(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.result is FetchOutcome.TOO_LARGE
    assert result.bytes_received < 1024 * 1024
    assert peak < 8 * 1024 * 1024  # the 64 MB payload was never materialised


# --- slow servers -------------------------------------------------------------------


async def test_never_ending_response_times_out(site, make_fetcher) -> None:
    url = site.route("/slow", slow_body(b"<"))
    result = await make_fetcher(fetch_timeout=0.5, read_timeout=5.0).fetch(url)
    assert result.result is FetchOutcome.NETWORK_ERROR
    assert "timed out" in (result.error or "")


async def test_connection_refused_is_network_error(make_fetcher) -> None:
    result = await make_fetcher().fetch(f"http://127.0.0.1:{free_port()}/feed")
    assert result.result is FetchOutcome.NETWORK_ERROR


# --- sniffing -------------------------------------------------------------------------

HTML = b"""<!DOCTYPE html><html><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml">
</head><body><p>hello</p></body></html>"""


async def test_html_page_is_not_a_feed_and_suggests_alternate(site, make_fetcher) -> None:
    url = site.feed("/blog", HTML, content_type="text/html")
    result = await make_fetcher().fetch(url)
    assert result.result is FetchOutcome.NOT_A_FEED
    assert result.suggested_feed == site.url("/feed.xml")


async def test_rss_served_as_html_is_still_a_feed(site, make_fetcher) -> None:
    result = await make_fetcher().fetch(site.feed("/f", RSS, content_type="text/html"))
    assert result.result is FetchOutcome.OK


async def test_page_kind_accepts_html(site, make_fetcher) -> None:
    url = site.feed("/article", HTML, content_type="text/html")
    result = await make_fetcher().fetch(url, kind="page")
    assert result.result is FetchOutcome.OK
    assert "text/html" in site.seen[0].headers["Accept"]


# --- SSRF guard --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_is_refused_and_never_contacted(site, make_fetcher, host: str) -> None:
    site.feed("/f")
    fetcher = make_fetcher(allow_private_networks=False)
    result = await fetcher.fetch(f"http://{host}:{site.port}/f")
    assert result.result is FetchOutcome.REFUSED
    assert site.hits["/f"] == 0
    assert not site.seen


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with pytest.raises(OSError, match="SSRF"):
        guarded_socket_factory((family, socket.SOCK_STREAM, 6, "", (address, 80)))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


# --- per-host politeness -------------------------------------------------------------


async def test_host_concurrency_is_shared_across_fetchers(site, make_fetcher, redis_url) -> None:
    active = 0
    peak = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(body=RSS, content_type="application/rss+xml")

    for i in range(6):
        site.route(f"/c{i}", handler)
    a = make_fetcher(shared=True, per_host_concurrency=2)
    b = make_fetcher(shared=True, per_host_concurrency=2)
    results = await asyncio.gather(*(f.fetch(site.url(f"/c{i}")) for i, f in enumerate([a, b] * 3)))
    assert all(r.result is FetchOutcome.OK for r in results)
    assert peak == 2


async def test_host_min_delay_spaces_requests(site, make_fetcher, redis_url) -> None:
    arrivals: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        return web.Response(body=RSS, content_type="application/rss+xml")

    for i in range(3):
        site.route(f"/d{i}", handler)
    fetcher = make_fetcher(shared=True, per_host_delay=0.2)
    await asyncio.gather(*(fetcher.fetch(site.url(f"/d{i}")) for i in range(3)))
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == 3
    assert all(gap >= 0.15 for gap in gaps)


async def test_crowded_host_defers_after_the_politeness_wait(site, make_fetcher) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.5)
        return web.Response(body=RSS, content_type="application/rss+xml")

    site.route("/slow", slow)
    fetcher = make_fetcher(per_host_concurrency=1)
    fetcher.max_politeness_wait = 0.1
    first, second = await asyncio.gather(
        fetcher.fetch(site.url("/slow")), fetcher.fetch(site.url("/f"))
    )
    assert first.result is FetchOutcome.OK
    assert second.result is FetchOutcome.DEFERRED
    assert second.retry_after is not None
    assert site.hits["/f"] == 0
