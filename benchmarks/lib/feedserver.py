"""The benchmark's feed site, run in its own process (``python -m benchmarks.lib.feedserver``).

Feed ``/feeds/{n}`` is served in *generations*: each request that finds budget
left gets the next generation, ``entries`` articles never served before (RSS,
Atom or JSON Feed by ``n % 3``); otherwise the current generation again, with
its ETag (304 on ``If-None-Match``). The budget is ``max_articles`` in total
and, when ``rate`` is set, ``rate`` articles per second since the first request
(for the latency run at a fixed load). In **full** mode entries carry a one-line
summary and link to ``/a/{feed}/{gen}/{i}``, a page with a site template of
``page_kb`` kilobytes of boilerplate around the text.

``/_stats`` reports counts and the wall-clock time each marker article (the
first of every ``marker_every``-th generation) was first served, for the
external fetch-to-searchable latency.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web

from benchmarks.lib.textgen import GenArticle, generate_batch

PUBLISHED = "Sat, 01 Nov 2026 12:00:00 +0000"
PUBLISHED_ISO = "2026-11-01T12:00:00+00:00"


@dataclass
class SiteConfig:
    feeds: int
    entries: int
    mode: str = "summary"  # summary | full
    words: int = 300
    max_articles: int = 10_000
    rate: float = 0.0  # articles per second; 0 = as fast as requested
    marker_every: int = 1
    page_kb: int = 50
    seed: int = 20261128


@dataclass
class SiteState:
    served_gen: dict[int, int] = field(default_factory=dict)
    rendered: dict[int, tuple[str, bytes, str]] = field(default_factory=dict)
    emitted: int = 0
    requests: int = 0
    not_modified: int = 0
    pages: int = 0
    first_request: float | None = None
    last_emit: float | None = None
    markers: list[tuple[str, float]] = field(default_factory=list)


def boilerplate(page_kb: int) -> tuple[str, str]:
    """A news-site template: (before the article, after it), ~page_kb kB."""
    nav = "".join(f"<li><a href='/section/{i}'>Section {i} news</a></li>" for i in range(60))
    teaser = (
        "<li class='teaser'><a href='/story/{0}'><img src='/img/{0}.jpg' alt=''>"
        "<span>Unrelated headline number {0} about the weekend</span></a></li>"
    )
    related = "".join(teaser.format(i) for i in range(40))
    comments = "".join(
        f"<div class='comment'><b>reader{i}</b><p>I have been saying this for years, "
        f"nobody listens to the people who actually live here. Comment {i}.</p></div>"
        for i in range(8)
    )
    footer = "".join(f"<a href='/about/{i}'>Corporate link {i}</a> " for i in range(50))
    head = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta property='og:site_name' content='Bench Daily'>"
        # Most news pages date themselves; without it htmldate searches the whole page.
        "<meta property='article:published_time' content='2026-11-01T12:00:00+00:00'>"
        "<link rel='stylesheet' href='/static/site.css'>"
    )
    before = (
        f"<body><header><div class='logo'>Bench Daily</div><nav><ul>{nav}</ul></nav></header>"
        "<div class='cookie-banner'>We use cookies to improve your experience. Accept all</div>"
        "<div class='layout'><main>"
    )
    after_parts = [
        "</main>",
        f"<aside><h3>Recent Posts</h3><ul>{related}</ul></aside>",
        f"<section class='comments'><h3>Comments</h3>{comments}</section>",
        f"</div><footer>{footer}<p>Copyright Bench Daily. All rights reserved.</p></footer>",
    ]
    after = "".join(after_parts)
    size = len(head) + len(before) + len(after)
    pad = max(page_kb * 1024 - size - 4000, 0)  # the rest as an inline config script
    script = "<script>window.__CONFIG__=" + json.dumps({"k": "x" * pad}) + ";</script>"
    return head, before + after.replace("</footer>", "</footer>" + script)


class FeedSite:
    def __init__(self, config: SiteConfig) -> None:
        self.c = config
        self.s = SiteState()
        self.base = ""
        self._articles: OrderedDict[tuple[int, int], list[GenArticle]] = OrderedDict()
        self._head, rest = boilerplate(config.page_kb)
        self._before, _, self._tail = rest.partition("</main>")
        self._tail = "</main>" + self._tail

    # --- content ------------------------------------------------------------------
    def articles(self, feed: int, gen: int) -> list[GenArticle]:
        key = (feed, gen)
        found = self._articles.get(key)
        if found is None:
            found = generate_batch(
                seed=self.c.seed,
                feed=feed,
                generation=gen,
                count=self.c.entries,
                words=self.c.words,
            )
            self._articles[key] = found
            while len(self._articles) > 4 * self.c.feeds + 16:
                self._articles.popitem(last=False)
        return found

    def _link(self, a: GenArticle) -> str:
        return f"{self.base}/a/{a.slug}?utm_source=feed"

    def _body(self, a: GenArticle) -> str:
        if self.c.mode == "full":
            return html.escape(a.summary)
        return "".join(f"<p>{p}</p>" for p in a.paragraphs)

    def render(self, feed: int, gen: int) -> tuple[bytes, str]:
        arts = self.articles(feed, gen) if gen >= 0 else []
        kind = feed % 3
        if kind == 0:
            items = "".join(
                f"<item><title>{a.title}</title><link>{self._link(a)}</link>"
                f"<guid isPermaLink='false'>{a.token}</guid><pubDate>{PUBLISHED}</pubDate>"
                f"<description>{html.escape(self._body(a))}</description></item>"
                for a in arts
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Bench feed {feed}</title><link>{self.base}/</link>"
                f"<description>bench</description>{items}</channel></rss>"
            )
            return doc.encode(), "application/rss+xml; charset=utf-8"
        if kind == 1:
            entries = "".join(
                f"<entry><title>{a.title}</title><link href='{html.escape(self._link(a))}'/>"
                f"<id>urn:bench:{a.token}</id><updated>{PUBLISHED_ISO}</updated>"
                f"<content type='html'>{html.escape(self._body(a))}</content></entry>"
                for a in arts
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Bench feed {feed}</title><id>urn:bench:{feed}</id>"
                f"<updated>{PUBLISHED_ISO}</updated>{entries}</feed>"
            )
            return doc.encode(), "application/atom+xml"
        json_items: list[dict[str, str]] = [
            {
                "id": a.token,
                "url": self._link(a),
                "title": a.title,
                "content_html": self._body(a),
                "date_published": PUBLISHED_ISO,
            }
            for a in arts
        ]
        data = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"Bench {feed}",
            "items": json_items,
        }
        return json.dumps(data).encode(), "application/feed+json"

    def page(self, a: GenArticle) -> bytes:
        body = "".join(f"<p>{p}</p>" for p in a.paragraphs)
        return (
            f"{self._head}<title>{a.title} | Bench Daily</title>"
            f"<link rel='canonical' href='{self.base}/a/{a.slug}'></head>"
            f"{self._before}<article><h1>{a.title}</h1>"
            f"<p class='byline'>By Staff Reporter</p>{body}</article>{self._tail}"
        ).encode()

    # --- budget -------------------------------------------------------------------
    def _may_emit(self, now: float) -> bool:
        c, s = self.c, self.s
        if s.emitted + c.entries > c.max_articles:
            return False
        if c.rate <= 0:
            return True
        assert s.first_request is not None
        return s.emitted + c.entries <= c.rate * (now - s.first_request) + c.entries

    # --- handlers -----------------------------------------------------------------
    async def feed(self, request: web.Request) -> web.StreamResponse:
        feed = int(request.match_info["n"])
        if not 0 <= feed < self.c.feeds:
            raise web.HTTPNotFound()
        s = self.s
        now = time.time()
        s.requests += 1
        if s.first_request is None:
            s.first_request = now
        gen = s.served_gen.get(feed, -1)
        if self._may_emit(now):
            gen += 1
            s.served_gen[feed] = gen
            s.emitted += self.c.entries
            s.last_emit = now
            body, ctype = self.render(feed, gen)
            s.rendered[feed] = (f'"{feed}-{gen}"', body, ctype)
            if gen % self.c.marker_every == 0:
                s.markers.append((self.articles(feed, gen)[0].token, now))
        cached = s.rendered.get(feed)
        if cached is None:
            body, ctype = self.render(feed, -1)
            cached = (f'"{feed}-empty"', body, ctype)
            s.rendered[feed] = cached
        etag, body, ctype = cached
        if request.headers.get("If-None-Match") == etag:
            s.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"Content-Type": ctype, "ETag": etag})

    async def article_page(self, request: web.Request) -> web.Response:
        feed, gen, idx = (int(request.match_info[k]) for k in ("feed", "gen", "i"))
        if gen > self.s.served_gen.get(feed, -1) or not 0 <= idx < self.c.entries:
            raise web.HTTPNotFound()
        self.s.pages += 1
        body = self.page(self.articles(feed, gen)[idx])
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def stats(self, request: web.Request) -> web.Response:
        since = int(request.query.get("markers_since", "0"))
        s = self.s
        data = {
            "emitted": s.emitted,
            "requests": s.requests,
            "not_modified": s.not_modified,
            "pages": s.pages,
            "first_request": s.first_request,
            "last_emit": s.last_emit,
            "markers_total": len(s.markers),
            "markers": s.markers[since:],
        }
        return web.json_response(data)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feeds/{n}", self.feed)
        app.router.add_get("/a/{feed}/{gen}/{i}", self.article_page)
        app.router.add_get("/_stats", self.stats)
        return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--mode", choices=("summary", "full"), default="summary")
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--max-articles", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--marker-every", type=int, default=1)
    ap.add_argument("--page-kb", type=int, default=50)
    args = ap.parse_args()
    site = FeedSite(
        SiteConfig(
            feeds=args.feeds,
            entries=args.entries,
            mode=args.mode,
            words=args.words,
            max_articles=args.max_articles,
            rate=args.rate,
            marker_every=args.marker_every,
            page_kb=args.page_kb,
        )
    )
    site.base = f"http://127.0.0.1:{args.port}"
    web.run_app(site.app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
