"""The benchmark load on a feed site, and that site in its own process
(``python -m tests.support.loadsite``; ``LoadSiteProcess`` starts it).

Feed ``/feeds/<n>`` (``n`` < ``feeds``) is served in *generations*: each request
that finds budget left gets the next generation, ``entries`` articles never
served before (RSS, Atom or JSON Feed by ``n % 3``); otherwise the current
generation again, with its ETag (``304`` on ``If-None-Match``). Before its first
generation a feed is an empty document with the ETag ``EMPTY_ETAG``, so with
``max_articles=0`` every feed is a 304 for a client that sends it: the
304-heavy poll. The budget is ``max_articles`` in total and, when ``rate`` is
set, ``rate`` articles per second since the first request (for a latency run at
a fixed load). In **full** mode entries carry a one-line summary and link to
``/articles/<feed>/<generation>/<i>``, a page of ``page_kb`` kilobytes.

``/_stats`` reports counts and the wall-clock time each marker article (the
first of every ``marker_every``-th generation) was first served, for the
external fetch-to-searchable latency.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from typing import Any, Self

from aiohttp import web

from tests.support.articles import Article
from tests.support.feeddocs import render_feed
from tests.support.feedsite import NOW, FeedSite, not_modified
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.processes import stop_process, wait_for
from tests.support.textgen import generate_batch, token_for

EMPTY_ETAG = '"empty"'
KINDS = ("rss", "atom", "json")


@dataclass
class LoadConfig:
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
class LoadState:
    served_gen: dict[int, int] = field(default_factory=dict)
    rendered: dict[int, tuple[str, bytes, str]] = field(default_factory=dict)
    emitted: int = 0
    requests: int = 0
    not_modified: int = 0
    pages: int = 0
    first_request: float | None = None
    last_emit: float | None = None
    markers: list[tuple[str, float]] = field(default_factory=list)


class LoadFeeds:
    """The load of ``config`` on ``site`` (``/feeds/``, ``/articles/``, ``/_stats``)."""

    def __init__(self, site: FeedSite, config: LoadConfig) -> None:
        self.site = site
        self.c = config
        self.s = LoadState()
        self._articles: OrderedDict[tuple[int, int], list[Article]] = OrderedDict()
        site.route_prefix("/feeds/", self.feed)
        site.route_prefix("/articles/", self.article_page)
        site.route("/_stats", self.stats)

    # --- content ------------------------------------------------------------------
    def articles(self, feed: int, gen: int) -> list[Article]:
        key = (feed, gen)
        found = self._articles.get(key)
        if found is None:
            texts = generate_batch(
                seed=self.c.seed, feed=feed, generation=gen, count=self.c.entries,
                words=self.c.words,
            )  # fmt: skip
            found = [
                Article(
                    slug=f"{feed}/{gen}/{i}",
                    token=token_for(feed, gen, i),
                    title=t.title,
                    paragraphs=t.paragraphs,
                    published=NOW,
                    language=t.language,
                )
                for i, t in enumerate(texts)
            ]
            self._articles[key] = found
            while len(self._articles) > 4 * self.c.feeds + 16:
                self._articles.popitem(last=False)
        return found

    def render(self, feed: int, gen: int) -> tuple[bytes, str]:
        arts = self.articles(feed, gen) if gen >= 0 else []
        summary_only = self.c.mode == "full"
        entries = [self.site.entry(a, summary_only=summary_only) for a in arts]
        return render_feed(
            KINDS[feed % 3], title=f"Bench feed {feed}", home=self.site.url("/"), entries=entries
        )

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
        name = request.path.removeprefix("/feeds/")
        if not name.isdigit() or not 0 <= int(name) < self.c.feeds:
            raise web.HTTPNotFound()
        feed = int(name)
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
            cached = (EMPTY_ETAG, body, ctype)
            s.rendered[feed] = cached
        etag, body, ctype = cached
        if not_modified(request, etag, None):
            s.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"Content-Type": ctype, "ETag": etag})

    async def article_page(self, request: web.Request) -> web.Response:
        parts = request.path.removeprefix("/articles/").split("/")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise web.HTTPNotFound()
        feed, gen, idx = (int(p) for p in parts)
        if gen > self.s.served_gen.get(feed, -1) or not 0 <= idx < self.c.entries:
            raise web.HTTPNotFound()
        self.s.pages += 1
        body = self.site.render_page(self.articles(feed, gen)[idx])
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


def load_site(config: LoadConfig, *, host: str = "127.0.0.1", port: int = 0) -> FeedSite:
    """A site carrying the load (not started; no request recording)."""
    site = FeedSite(
        host=host, port=port, site_name="Bench Daily", page_kb=config.page_kb, record=False
    )
    LoadFeeds(site, config)
    return site


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    for f in fields(LoadConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("feeds", "entries"):
            ap.add_argument(flag, type=int, default={"feeds": 100, "entries": 50}[f.name])
        else:
            ap.add_argument(flag, type=type(f.default), default=f.default)
    args = vars(ap.parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    site = load_site(LoadConfig(**args), host=host, port=port)
    web.run_app(site.app, host=host, port=port, access_log=None, print=None)


class LoadSiteProcess:
    """The load site in its own process (its own event loop and core)."""

    def __init__(self, config: LoadConfig, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def feed_url(self, n: int) -> str:
        return f"{self.base}/feeds/{n}"

    def start(self) -> Self:
        args = [sys.executable, "-m", "tests.support.loadsite", "--host", self.host,
                "--port", str(self.port)]  # fmt: skip
        for f in fields(LoadConfig):
            args += ["--" + f.name.replace("_", "-"), str(getattr(self.config, f.name))]
        self.proc = subprocess.Popen(args, cwd=REPO)
        wait_for(lambda: bool(self.stats()), timeout=20, what="the load site", proc=self.proc)
        return self

    def stats(self, markers_since: int = 0) -> dict[str, Any]:
        url = f"{self.base}/_stats?markers_since={markers_since}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5)


if __name__ == "__main__":
    main()
