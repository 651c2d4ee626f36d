"""The one HTTP fetcher of feedpipe: polite, bounded and SSRF-safe.

Used by the poller for feeds and by the parser for article pages. Every
problem a remote server can cause comes back as a :class:`FetchResult` with an
outcome and an error text; :meth:`SafeFetcher.fetch` does not raise for them.

Why parts of this are written by hand rather than left to aiohttp:

* redirects are followed one hop at a time so each hop's URL, host politeness
  and permanence (301/308 vs 302/307) can be checked and recorded;
* bodies are decompressed here, incrementally with a bounded output size, so a
  gzip bomb is cut off at ``max_body_bytes`` instead of being inflated;
* the SSRF check lives in the connector's socket factory (see
  :mod:`shared.fetch.netguard`), i.e. on the resolved address actually connected to.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from importlib import metadata
from typing import Literal
from urllib.parse import urljoin

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from redis.asyncio import Redis
from yarl import URL

from shared import metrics
from shared.fetch.netguard import (
    guarded_socket_factory,
    is_ip_literal,
    is_public_address,
    is_refusal,
    refusal,
)
from shared.fetch.politeness import Admission, HostGate, LocalHostGate, RedisHostGate
from shared.fetch.sniff import DocKind, find_alternate_feed, sniff
from shared.settings import Settings

PROJECT_URL = "https://github.com/feedpipe/feedpipe"


def _version() -> str:
    try:
        return metadata.version("feedpipe")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"feedpipe/{_version()} (+{PROJECT_URL})"
ACCEPT_ENCODING = "gzip, deflate"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
# A 429 without Retry-After still means "slow down": the whole host waits this long.
DEFAULT_429_BLOCK_S = 60.0
CHUNK_BYTES = 64 * 1024
BUSY_RETRY_S = (0.02, 0.1)  # sleep range while a host's concurrency slots are full


class FetchOutcome(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    NETWORK_ERROR = "network_error"
    TOO_LARGE = "too_large"
    NOT_A_FEED = "not_a_feed"
    REFUSED = "refused"  # SSRF guard or unsupported URL
    # Not attempted: the host asked everyone to wait (Retry-After) or its
    # politeness budget is exhausted; retry after ``retry_after`` seconds.
    DEFERRED = "deferred"


_EMPTY_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


@dataclass(slots=True)
class FetchResult:
    url: str
    final_url: str
    result: FetchOutcome
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: _EMPTY_HEADERS)
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    error: str | None = None
    permanent_redirect: str | None = None
    retry_after: float | None = None
    suggested_feed: str | None = None
    bytes_received: int = 0

    @property
    def ok(self) -> bool:
        return self.result is FetchOutcome.OK


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


class _TooLargeError(Exception):
    pass


class _Decoder:
    """Incremental Content-Encoding decoder with a hard output cap."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        self._raw_deflate_checked = encoding != "deflate"
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _TooLargeError
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._z is None:
            self._add(chunk)
            return
        if not self._raw_deflate_checked:
            # "deflate" is often sent without the zlib header (raw DEFLATE).
            self._raw_deflate_checked = True
            if chunk and (chunk[0] & 0x0F) != 8:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        while data:
            # max_length bounds what one call may inflate: never more than one
            # byte past the limit is held in memory.
            out = self._z.decompress(data, self.limit - self.size + 1)
            self._add(out)
            data = self._z.unconsumed_tail
            if self._z.eof:
                break

    def finish(self) -> bytes:
        if self._z is not None and not self._z.eof:
            self._add(self._z.flush())
        return b"".join(self.parts)


def _error_result(
    url: str, final_url: str, outcome: FetchOutcome, error: str, **extra: object
) -> FetchResult:
    return FetchResult(url=url, final_url=final_url, result=outcome, error=error, **extra)  # type: ignore[arg-type]


class SafeFetcher:
    def __init__(
        self,
        settings: Settings,
        *,
        redis: Redis | None = None,
        max_politeness_wait: float | None = None,
    ) -> None:
        """``max_politeness_wait``: longest wait for a host's politeness slot
        before giving up with a ``deferred`` result (default: the fetch budget).
        The poller keeps it short so a crowded host does not hold its slots."""
        self.settings = settings
        self.max_politeness_wait = (
            max_politeness_wait
            if max_politeness_wait is not None
            else settings.fetch_timeout - settings.connect_timeout
        )
        slot_ttl = settings.fetch_timeout + 5.0
        self.gate: HostGate
        if redis is not None:
            self.gate = RedisHostGate(
                redis,
                limit=settings.per_host_concurrency,
                delay=settings.per_host_delay,
                slot_ttl=slot_ttl,
            )
        else:
            self.gate = LocalHostGate(
                limit=settings.per_host_concurrency,
                delay=settings.per_host_delay,
                slot_ttl=slot_ttl,
            )
        self._session: aiohttp.ClientSession | None = None
        self._tokens = itertools.count()
        self._token_prefix = f"{os.getpid()}-{random.getrandbits(32):08x}-"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self.settings
            connector = aiohttp.TCPConnector(
                limit=max(s.poll_concurrency, 10),
                limit_per_host=0,  # politeness is enforced by the host gate
                ttl_dns_cache=300,
                socket_factory=None if s.allow_private_networks else guarded_socket_factory,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The total is enforced by fetch() over all hops and the
                # politeness wait; aiohttp bounds connecting and each read.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # no state leaks between feeds
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
                trust_env=False,
                raise_for_status=False,
            )
        return self._session

    async def aclose(self) -> None:
        await self.gate.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        kind: Literal["feed", "page"] = "feed",
    ) -> FetchResult:
        started = time.monotonic()
        headers = {"Accept": accept or (FEED_ACCEPT if kind == "feed" else PAGE_ACCEPT)}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        state = _Hops(url)
        try:
            async with asyncio.timeout(self.settings.fetch_timeout):
                result = await self._follow(state, headers, kind, started)
        except TimeoutError:
            result = _error_result(
                url,
                state.current,
                FetchOutcome.NETWORK_ERROR,
                f"timed out after {self.settings.fetch_timeout:g}s",
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if is_refusal(exc):
                outcome, error = FetchOutcome.REFUSED, _describe(exc)
            else:
                outcome, error = FetchOutcome.NETWORK_ERROR, _describe(exc)
            result = _error_result(url, state.current, outcome, error)
        result.elapsed = time.monotonic() - started
        if result.permanent_redirect is None:
            result.permanent_redirect = state.permanent
        if result.bytes_received:
            metrics.FETCH_BYTES.inc(result.bytes_received)
        return result

    async def _follow(
        self, state: _Hops, headers: dict[str, str], kind: str, started: float
    ) -> FetchResult:
        s = self.settings
        session = self._get_session()
        url = state.url
        for _hop in range(s.max_redirects + 1):
            target = URL(state.current)
            if target.scheme not in ("http", "https") or not target.host:
                return _error_result(
                    url, state.current, FetchOutcome.REFUSED, f"unsupported URL {state.current!r}"
                )
            host = target.host
            if not s.allow_private_networks and _is_private_literal(host):
                return _error_result(url, state.current, FetchOutcome.REFUSED, refusal(host))
            token = f"{self._token_prefix}{next(self._tokens)}"
            deferred = await self._admit(url, state.current, host, token, started)
            if deferred is not None:
                return deferred
            try:
                async with session.get(
                    target, headers=headers, allow_redirects=False, max_redirects=0
                ) as resp:
                    if resp.status in REDIRECT_STATUSES:
                        location = resp.headers.get("Location")
                        if not location:
                            return self._status_result(
                                url, state, resp, "redirect without Location"
                            )
                        state.hop(urljoin(state.current, location), resp.status)
                        continue
                    return await self._complete(url, state, resp, host, kind)
            finally:
                await self.gate.release(host, token)
        return _error_result(
            url, state.current, FetchOutcome.HTTP_ERROR, f"more than {s.max_redirects} redirects"
        )

    async def _admit(
        self, url: str, current: str, host: str, token: str, started: float
    ) -> FetchResult | None:
        """Wait for the host's politeness budget; a deferred result when the
        wait would not fit in this fetch's time budget."""
        budget_end = min(
            started + self.settings.fetch_timeout - self.settings.connect_timeout,
            time.monotonic() + self.max_politeness_wait,
        )
        while True:
            decision = await self.gate.try_acquire(host, token, now=time.time())
            if decision.admission is Admission.GRANTED:
                return None
            if decision.admission is Admission.BLOCKED:
                return _error_result(
                    url,
                    current,
                    FetchOutcome.DEFERRED,
                    f"host {host} asked to wait {decision.wait:.0f}s (Retry-After)",
                    retry_after=decision.wait,
                )
            wait = decision.wait if decision.wait > 0 else random.uniform(*BUSY_RETRY_S)
            if time.monotonic() + wait > budget_end:
                return _error_result(
                    url,
                    current,
                    FetchOutcome.DEFERRED,
                    f"host {host} is at its politeness limit",
                    retry_after=max(wait, 1.0),
                )
            await asyncio.sleep(wait)

    def _status_result(
        self, url: str, state: _Hops, resp: aiohttp.ClientResponse, error: str | None
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=state.current,
            result=FetchOutcome.HTTP_ERROR,
            status=resp.status,
            content_type=resp.headers.get("Content-Type"),
            headers=resp.headers,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            error=error,
        )

    async def _complete(
        self, url: str, state: _Hops, resp: aiohttp.ClientResponse, host: str, kind: str
    ) -> FetchResult:
        status = resp.status
        if status == 304:
            return FetchResult(
                url=url,
                final_url=state.current,
                result=FetchOutcome.NOT_MODIFIED,
                status=304,
                headers=resp.headers,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
        if status >= 300 or status < 200:
            result = self._status_result(url, state, resp, f"HTTP {status} {resp.reason or ''}")
            result.error = (result.error or "").strip()
            if status in (429, 503):
                now = time.time()
                wait = parse_retry_after(resp.headers.get("Retry-After"), now=now)
                if wait is None and status == 429:
                    wait = DEFAULT_429_BLOCK_S
                if wait is not None:
                    wait = min(wait, self.settings.max_error_backoff)
                    result.retry_after = wait
                    # Per host, not per feed: every feed of this host waits.
                    await self.gate.block(host, until=now + wait, now=now)
            return result
        limit = self.settings.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            return self._too_large(url, state, resp, f"Content-Length {resp.content_length}")
        try:
            decoder = _Decoder(resp.headers.get("Content-Encoding", ""), limit)
        except ValueError as exc:
            return _error_result(url, state.current, FetchOutcome.HTTP_ERROR, str(exc))
        received = 0
        try:
            async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                received += len(chunk)
                if received > limit:
                    raise _TooLargeError
                decoder.feed(chunk)
            body = decoder.finish()
        except _TooLargeError:
            result = self._too_large(url, state, resp, f"more than {limit} bytes")
            result.bytes_received = received
            return result
        except zlib.error as exc:
            return _error_result(
                url,
                state.current,
                FetchOutcome.HTTP_ERROR,
                f"corrupt {resp.headers.get('Content-Encoding')} body: {exc}",
                status=status,
                bytes_received=received,
            )
        result = FetchResult(
            url=url,
            final_url=state.current,
            result=FetchOutcome.OK,
            status=status,
            body=body,
            content_type=resp.headers.get("Content-Type"),
            headers=resp.headers,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            bytes_received=received,
        )
        if kind == "feed" and sniff(body, result.content_type) is DocKind.HTML:
            result.result = FetchOutcome.NOT_A_FEED
            result.suggested_feed = find_alternate_feed(body, state.current)
            result.error = "an HTML page, not a feed" + (
                f"; its feed may be {result.suggested_feed}" if result.suggested_feed else ""
            )
        return result

    def _too_large(
        self, url: str, state: _Hops, resp: aiohttp.ClientResponse, why: str
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=state.current,
            result=FetchOutcome.TOO_LARGE,
            status=resp.status,
            content_type=resp.headers.get("Content-Type"),
            headers=resp.headers,
            error=f"body too large: {why} (limit {self.settings.max_body_bytes})",
        )


class _Hops:
    """Where a redirect chain has got to, and how far it is permanent."""

    __slots__ = ("current", "permanent", "still_permanent", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.current = url
        self.permanent: str | None = None
        self.still_permanent = True

    def hop(self, location: str, status: int) -> None:
        # A->301->B->302->C: A moved to B for good; B is only borrowing C.
        if self.still_permanent and status in PERMANENT_REDIRECTS:
            self.permanent = location
        else:
            self.still_permanent = False
        self.current = location


def _is_private_literal(host: str) -> bool:
    return is_ip_literal(host) and not is_public_address(host)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
