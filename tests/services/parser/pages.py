"""An article page wrapped in every kind of boilerplate the index must not see,
and ``ServedPage``: that page on a local site, with an ETag."""

from __future__ import annotations

import hashlib

from aiohttp import web

from tests.support.feedsite import FeedSite, not_modified

PARAGRAPHS = [
    "The harbour council voted on Tuesday to rebuild the old lighthouse with stone from the "
    "quarry that supplied the original tower in 1872, ending a decade of debate.",
    "Engineers told the council that the structure had shifted eleven centimetres since the "
    "winter storms, and that the lantern room could no longer be opened safely to visitors.",
    "The plan keeps the keeper's cottage as a small museum and adds a ferry landing for the "
    "summer season, which local traders expect to bring more visitors to the market square.",
    "Work is due to start in the spring and to finish before the festival in two years' time, "
    "funded by the regional budget and a grant from the national heritage fund.",
]

BOILERPLATE = {
    "nav": "Home World Business Sport Culture Weather",
    "cookie": "We use cookies to improve your experience. Accept all cookies",
    "share": "Share on Facebook Share on Twitter Copy link",
    "bio": "Jane Doe is a senior reporter covering coastal affairs since 2009.",
    "recent": "Recent Posts: Ferry timetable changes for the summer",
    "lire": "Lire aussi : Le port de commerce change de directeur",
    "comment": "Great article, I remember visiting that lighthouse as a kid!",
    "newsletter": "Subscribe to our newsletter for the latest harbour news",
    "footer": "Copyright 2025 Harbour Gazette. All rights reserved. Privacy policy",
}


def article_page(canonical: str = "https://gazette.example/2025/lighthouse") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    b = BOILERPLATE
    return f"""<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Lighthouse to be rebuilt in stone | Harbour Gazette</title>
<link rel="canonical" href="{canonical}">
<meta property="og:site_name" content="Harbour Gazette">
<meta property="og:title" content="Lighthouse to be rebuilt in stone">
<meta property="article:published_time" content="2025-04-02T08:00:00Z">
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>{b["cookie"]}</p><button>OK</button></div>
<header><nav class="main-nav"><ul>{
        "".join(f"<li><a href='/{w}'>{w}</a></li>" for w in b["nav"].split())
    }</ul></nav></header>
<main><article>
<h1>Lighthouse to be rebuilt in stone</h1>
<div class="share-buttons social"><a href="#">{b["share"]}</a></div>
{body}
<div class="author-bio"><p>{b["bio"]}</p></div>
<aside class="related"><h3>Lire aussi</h3><ul><li><a href="/x">{b["lire"]}</a></li></ul></aside>
</article></main>
<aside class="sidebar widget"><h3>Recent Posts</h3><ul><li><a href="/y">{b["recent"]}</a></li>
</ul></aside>
<section id="comments" class="comments"><h3>3 Comments</h3>
<div class="comment"><p>{b["comment"]}</p></div></section>
<div class="newsletter-signup"><p>{b["newsletter"]}</p><form><input type="email"></form></div>
<footer class="site-footer"><p>{b["footer"]}</p></footer>
</body></html>"""


class ServedPage:
    """``article_page`` at ``path`` of ``site`` with an ETag (304 while it is
    unchanged); ``queued`` answers are served first, one per request."""

    def __init__(self, site: FeedSite, path: str) -> None:
        self.path = path
        self.html = article_page(canonical=site.url(path))
        self.queued: list[web.Response] = []
        self.url = site.route(path, self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        if self.queued:
            return self.queued.pop(0)
        etag = '"' + hashlib.sha256(self.html.encode()).hexdigest()[:12] + '"'
        if not_modified(request, etag, None):
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=self.html, content_type="text/html", headers={"ETag": etag})

    def busy(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` requests with 503 and a Retry-After."""
        for _ in range(times):
            self.queued.append(web.Response(status=503, headers={"Retry-After": str(retry_after)}))
