"""The feed site tests and benchmarks fetch from: an aiohttp server on one
loopback address, started inside the caller's event loop.

What it serves, looked up in this order:

* **per-path handlers** (``route``, ``feed``, ``status``, ``redirect``) for unit
  tests of the fetcher and the poller: any status, headers, bodies that never
  end (``slow_body``), redirects, conditional GET;
* **generated feeds** (``add_feed``): RSS 2.0, Atom or JSON Feed documents at
  ``/feeds/<name>`` whose entries link to article pages at
  ``/articles/<slug>`` (``?utm_source=feed`` appended, as real feeds do);
  feeds and pages have an ETag and a Last-Modified date (``304 Not Modified``
  while unchanged).
  Texts come from a text source: synthetic words (``SyntheticText``, the
  default) or real sentences (``RealText``);
* **prefix handlers** (``route_prefix``), which the benchmark load
  (``tests.support.loadsite``) mounts.

Several sites, one host each: ``start_sites(n)`` puts site *i* on
``127.0.0.(i + 2)`` — Linux routes all of 127.0.0.0/8 to the loopback
interface — so the pipeline sees *n* hosts (politeness, URLs) while nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Self

from aiohttp import web

from tests.support.articles import Article, TextSource
from tests.support.feeddocs import Entry, PageTemplate, paragraphs_html, render_feed
from tests.support.textgen import SyntheticText

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test</title><link>http://example.org/</link>
<item><title>One</title><link>http://example.org/1</link><guid>1</guid></item>
</channel></rss>"""

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # what "now" is on every generated site


def loopback_host(index: int) -> str:
    """The address of site ``index`` of several: 127.0.0.2, 127.0.0.3, ..."""
    if not 0 <= index < 250 * 256:
        raise ValueError(f"site index {index} out of range")
    return f"127.0.{index // 250}.{index % 250 + 2}"


def not_modified(request: web.Request, etag: str | None, last_modified: str | None) -> bool:
    """Whether the request's validators match (RFC 9110: If-None-Match, when
    present, decides alone; If-Modified-Since only without it)."""
    tags = request.if_none_match  # parsed by aiohttp; None when the header is absent
    if tags is not None:
        ours = etag.removeprefix("W/") if etag else None  # the weak comparison
        return ours is not None and any(t.value == "*" or f'"{t.value}"' == ours for t in tags)
    since = request.if_modified_since
    if since is None or last_modified is None:
        return False
    return parsedate_to_datetime(last_modified) <= since


def slow_body(
    head: bytes, *, every: float | None = None, content_type: str = "application/rss+xml"
) -> Handler:
    """A response that sends ``head`` and then never ends: silence (``every``
    None), or one space every ``every`` seconds for ten minutes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        await resp.write(head)
        try:
            if every is None:
                await asyncio.sleep(3600)
            else:
                for _ in range(int(600 / every)):
                    await asyncio.sleep(every)
                    await resp.write(b" ")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    return handler


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Feed:
    name: str
    kind: str  # rss | atom | json
    title: str
    articles: list[Article] = field(default_factory=list)
    summary_only: bool = False  # entries carry a one-line summary: the page holds the text


class FeedSite:
    """One site on ``host`` (port 0: any free one).

    ``name`` (letters and digits) goes into every token of the site so that
    several sites never mint the same one; ``seed`` picks the synthetic texts;
    ``text`` is the default text source of ``add_feed``; ``page_kb`` the size of
    article pages; ``record`` whether requests are counted (``hits``, ``seen``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "",
        seed: int = 7,
        text: TextSource | None = None,
        site_name: str = "Test Daily",
        page_kb: int = 0,
        record: bool = True,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9]*", name):
            raise ValueError(f"site name {name!r}: lower-case letters and digits only")
        self.host = host
        self.port = port
        self.name = name
        self.text = text or SyntheticText(seed=seed)
        self.template = PageTemplate(site_name, page_kb)
        self.record = record
        self.routes: dict[str, Handler] = {}
        self.prefixes: list[tuple[str, Handler]] = []
        self.hits: collections.Counter[str] = collections.Counter()
        self.seen: list[Seen] = []
        self.feeds: dict[str, Feed] = {}
        self.pages: dict[str, Article] = {}
        self.now = NOW
        self._tokens: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)

    # --- addresses ------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def feed_url(self, name: str) -> str:
        return self.url(f"/feeds/{name}")

    def permalink(self, article: Article) -> str:
        return self.url(f"/articles/{article.slug}")

    def article_url(self, article: Article) -> str:
        """The URL entries link to: the permalink with a tracking parameter."""
        return f"{self.permalink(article)}?utm_source=feed"

    # --- per-path handlers ----------------------------------------------------------
    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def route_prefix(self, prefix: str, handler: Handler) -> None:
        """``handler`` answers every path starting with ``prefix`` that has no route."""
        self.prefixes.append((prefix, handler))

    def feed(
        self,
        path: str,
        body: bytes = RSS,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str = "application/rss+xml",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` as it is, with conditional GET on the validators given."""

        async def handler(request: web.Request) -> web.StreamResponse:
            extra = dict(headers or {})
            if etag:
                extra["ETag"] = etag
            if last_modified:
                extra["Last-Modified"] = last_modified
            if not_modified(request, etag, last_modified):
                return web.Response(status=304, headers=extra)
            return web.Response(body=body, headers={"Content-Type": content_type, **extra})

        return self.route(path, handler)

    def status(self, path: str, status: int, headers: dict[str, str] | None = None) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers=headers or {})

        return self.route(path, handler)

    def redirect(self, path: str, status: int, location: str) -> str:
        return self.status(path, status, {"Location": location})

    # --- generated feeds ------------------------------------------------------------
    def token(self, feed: str, index: int) -> str:
        """``zq<site><feed>x<index>``: one word, unique on this site."""
        token = f"zq{self.name}{re.sub(r'[^a-z0-9]', '', feed.lower())}x{index:04d}"
        if token in self._tokens:
            raise ValueError(f"token {token} already used on this site: rename feed {feed!r}")
        self._tokens.add(token)
        return token

    def add_feed(
        self,
        name: str,
        kind: str,
        count: int = 0,
        *,
        summary_only: bool = False,
        text: TextSource | None = None,
        articles: Sequence[Article] = (),
        title: str | None = None,
    ) -> Feed:
        """A feed at ``/feeds/<name>`` with ``count`` new articles (and, first,
        ``articles`` given, e.g. another site's, to serve syndicated copies)."""
        feed = Feed(name, kind, title or name, summary_only=summary_only)
        self.feeds[name] = feed
        self.route(f"/feeds/{name}", lambda request: self._serve_feed(request, feed))
        for article in articles:
            self._publish(feed, article)
        if count:
            self.add_articles(name, count, text=text)
        return feed

    def add_articles(
        self, feed_name: str, count: int, *, text: TextSource | None = None
    ) -> list[Article]:
        """``count`` new articles at the top of a feed (newest first, one minute apart)."""
        feed = self.feeds[feed_name]
        start = len(feed.articles)
        tokens = [self.token(feed_name, start + i) for i in range(count)]
        texts = (text or self.text).texts(f"{self.name}/{feed_name}/{start}", tokens)
        made = []
        for i, (token, t) in enumerate(zip(tokens, texts, strict=True)):
            n = start + i
            slug = f"{self.name}-{feed_name}-{n}" if self.name else f"{feed_name}-{n}"
            made.append(
                Article(
                    slug=slug,
                    token=token,
                    title=t.title,
                    paragraphs=t.paragraphs,
                    published=self.now - timedelta(minutes=n),
                    language=t.language,
                    source=t.source,
                )
            )
        for article in made:
            self._publish(feed, article)
        return made

    def update_article(self, slug: str, **changes: object) -> Article:
        """Replace an article everywhere this site shows it (feeds and page)."""
        new = dataclasses.replace(self.pages[slug], **changes)  # type: ignore[arg-type]
        self.pages[slug] = new
        for feed in self.feeds.values():
            feed.articles = [new if a.slug == slug else a for a in feed.articles]
        return new

    def _publish(self, feed: Feed, article: Article) -> None:
        feed.articles.append(article)
        self.pages[article.slug] = article
        self.route(
            f"/articles/{article.slug}", lambda request: self.page_response(request, article.slug)
        )

    @property
    def articles(self) -> list[Article]:
        """Every article of every feed, once."""
        return list({a.slug: a for f in self.feeds.values() for a in f.articles}.values())

    def entry(self, article: Article, *, summary_only: bool) -> Entry:
        body = article.summary if summary_only else paragraphs_html(article)
        return Entry(article, self.article_url(article), self.permalink(article), body)

    def render(self, feed: Feed) -> tuple[bytes, str]:
        entries = [self.entry(a, summary_only=feed.summary_only) for a in feed.articles]
        return render_feed(feed.kind, title=feed.title, home=self.url("/"), entries=entries)

    def render_page(self, article: Article) -> bytes:
        return self.template.render(article, canonical=self.permalink(article))

    async def _serve_feed(self, request: web.Request, feed: Feed) -> web.StreamResponse:
        body, content_type = self.render(feed)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        newest = max((a.published for a in feed.articles), default=self.now)
        headers = {"ETag": etag, "Last-Modified": format_datetime(newest, usegmt=True)}
        if not_modified(request, etag, headers["Last-Modified"]):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={"Content-Type": content_type, **headers})

    async def page_response(self, request: web.Request, slug: str) -> web.StreamResponse:
        """The article page as the site serves it now (for handlers that wrap
        it, e.g. answering 503 first): ETag and Last-Modified, 304 while unchanged."""
        article = self.pages[slug]
        body = self.render_page(article)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": format_datetime(article.published, usegmt=True)}
        if not_modified(request, etag, headers["Last-Modified"]):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)

    # --- server ---------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if self.record:
            self.hits[path] += 1
            self.seen.append(Seen(path, dict(request.headers)))
        handler = self.routes.get(path)
        if handler is None:
            handler = next((h for p, h in self.prefixes if path.startswith(p)), None)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    async def start(self) -> Self:
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_sites(
    count: int,
    *,
    seed: int = 7,
    text: TextSource | None = None,
    page_kb: int = 0,
) -> list[FeedSite]:
    """``count`` started sites: site *i* on ``loopback_host(i)``, named
    ``s<i+1>`` (in its tokens and slugs, and "Site <i+1> News" on its pages),
    with seed ``seed + i``. ``text``, one source for all (so no two sites serve
    the same text), defaults to each site's synthetic text."""
    sites = [
        FeedSite(
            host=loopback_host(i),
            name=f"s{i + 1}",
            seed=seed + i,
            text=text,
            site_name=f"Site {i + 1} News",
            page_kb=page_kb,
        )
        for i in range(count)
    ]
    started: list[FeedSite] = []
    try:
        for site in sites:
            started.append(await site.start())
    except BaseException:
        for site in started:
            await site.stop()
        raise
    return sites
