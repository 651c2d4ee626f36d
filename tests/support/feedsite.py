"""A local site for tests: RSS 2.0, Atom and JSON feeds whose entries link to
article pages with boilerplate around the main text. Texts are generated from
a seeded vocabulary so every article is distinct and carries a unique token."""

from __future__ import annotations

import asyncio
import html
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from benchmarks.lib.textgen import CONTENT_WORDS

# The benchmark feed site's vocabulary: distinct random texts, no near-duplicates.
WORDS = CONTENT_WORDS


@dataclass
class Article:
    slug: str
    token: str
    title: str
    paragraphs: list[str]
    published: datetime

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def make_article(rng: random.Random, feed: str, n: int, now: datetime) -> Article:
    token = f"zq{feed}x{n:04d}"
    paragraphs = []
    for p in range(4):
        words = [rng.choice(WORDS) for _ in range(rng.randint(25, 40))]
        if p == 1:
            words.insert(rng.randint(0, len(words)), token)
        paragraphs.append(" ".join(words).capitalize() + ".")
    title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} report {token}"
    return Article(f"{feed}-{n}", token, title, paragraphs, now - timedelta(minutes=n))


@dataclass
class Feed:
    name: str
    kind: str  # rss | atom | json
    articles: list[Article] = field(default_factory=list)
    summary_only: bool = False  # entries carry a one-line summary: the page holds the text


@dataclass
class RawFeed:
    """A feed answered byte for byte (hostile or broken documents)."""

    body: bytes
    content_type: str = "application/rss+xml"
    headers: dict[str, str] = field(default_factory=dict)
    slow: bool = False  # dribble bytes forever


class FeedSite:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.raw: dict[str, RawFeed] = {}
        self.feeds: dict[str, Feed] = {}
        self.pages: dict[str, Article] = {}
        self.requests: dict[str, int] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def add_feed(self, name: str, kind: str, count: int, *, summary_only: bool = False) -> Feed:
        feed = Feed(name, kind, summary_only=summary_only)
        for n in range(count):
            art = make_article(self.rng, name, n, self.now)
            feed.articles.append(art)
            self.pages[art.slug] = art
        self.feeds[name] = feed
        return feed

    def feed_url(self, name: str) -> str:
        return f"{self.base}/feeds/{name}"

    def article_url(self, art: Article) -> str:
        return f"{self.base}/articles/{art.slug}?utm_source=feed"

    @property
    def articles(self) -> list[Article]:
        return [a for f in self.feeds.values() for a in f.articles]

    # --- rendering ---------------------------------------------------------------
    def _entry_body(self, feed: Feed, art: Article) -> str:
        if feed.summary_only:
            return art.paragraphs[0][:80]
        return "".join(f"<p>{html.escape(p)}</p>" for p in art.paragraphs)

    def render(self, feed: Feed) -> tuple[bytes, str]:
        if feed.kind == "rss":
            items = "".join(
                f"<item><title>{html.escape(a.title)}</title>"
                f"<link>{html.escape(self.article_url(a))}</link><guid>{a.slug}</guid>"
                f"<pubDate>{a.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                f"<description>{html.escape(self._entry_body(feed, a))}</description></item>"
                for a in feed.articles
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{feed.name}</title><link>{self.base}/</link>"
                f"<description>test</description>{items}</channel></rss>"
            )
            return doc.encode(), "application/rss+xml; charset=utf-8"
        if feed.kind == "atom":
            entries = "".join(
                f"<entry><title>{html.escape(a.title)}</title>"
                f'<link href="{html.escape(self.article_url(a))}"/><id>urn:test:{a.slug}</id>'
                f"<updated>{a.published.isoformat()}</updated>"
                f'<content type="html">{html.escape(self._entry_body(feed, a))}</content></entry>'
                for a in feed.articles
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{feed.name}</title><id>urn:test:{feed.name}</id>"
                f"<updated>{self.now.isoformat()}</updated>{entries}</feed>"
            )
            return doc.encode(), "application/atom+xml"
        items_json = [
            {
                "id": a.slug,
                "url": self.article_url(a),
                "title": a.title,
                "content_html": self._entry_body(feed, a),
                "date_published": a.published.isoformat(),
            }
            for a in feed.articles
        ]
        doc = json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": feed.name, "items": items_json}
        )
        return doc.encode(), "application/feed+json"

    def render_page(self, art: Article) -> bytes:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in art.paragraphs)
        return (
            "<!doctype html><html lang='en'><head>"
            f"<title>{html.escape(art.title)} | Test Daily</title>"
            "<meta property='og:site_name' content='Test Daily'>"
            f"<link rel='canonical' href='{self.base}/articles/{art.slug}'></head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
            "<div class='cookie-banner'>We use cookies to improve your experience. Accept all</div>"
            f"<main><article><h1>{html.escape(art.title)}</h1>{body}</article></main>"
            "<aside><h3>Recent Posts</h3><ul><li>Unrelated teaser one</li>"
            "<li>Unrelated teaser two</li></ul></aside>"
            "<footer>Copyright Test Daily. All rights reserved.</footer></body></html>"
        ).encode()

    # --- server -------------------------------------------------------------------
    async def _feed(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests[name] = self.requests.get(name, 0) + 1
        raw = self.raw.get(name)
        if raw is not None:
            return await self._raw(request, raw)
        feed = self.feeds.get(name)
        if feed is None:
            raise web.HTTPNotFound()
        body, ctype = self.render(feed)
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def _raw(self, request: web.Request, raw: RawFeed) -> web.StreamResponse:
        headers = {"Content-Type": raw.content_type, **raw.headers}
        if not raw.slow:
            return web.Response(body=raw.body, headers=headers)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        await resp.write(raw.body)
        try:
            for _ in range(600):  # about ten minutes of one byte a second
                await asyncio.sleep(1)
                await resp.write(b" ")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    async def _page(self, request: web.Request) -> web.Response:
        art = self.pages.get(request.match_info["slug"])
        if art is None:
            raise web.HTTPNotFound()
        return web.Response(body=self.render_page(art), content_type="text/html")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feeds/{name}", self._feed)
        app.router.add_get("/articles/{slug}", self._page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
