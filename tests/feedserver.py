"""A local HTTP server on 127.0.0.1 for fetcher and poller tests."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test</title><link>http://example.org/</link>
<item><title>One</title><link>http://example.org/1</link><guid>1</guid></item>
</channel></rss>"""


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.routes: dict[str, Handler] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.seen: list[Seen] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FeedServer:
        self.runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

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
        """Serve ``body`` with conditional-GET support."""

        async def handler(request: web.Request) -> web.StreamResponse:
            extra = dict(headers or {})
            if etag:
                extra["ETag"] = etag
                if request.headers.get("If-None-Match") == etag:
                    return web.Response(status=304, headers=extra)
            if last_modified:
                extra["Last-Modified"] = last_modified
                if request.headers.get("If-Modified-Since") == last_modified:
                    return web.Response(status=304, headers=extra)
            return web.Response(body=body, content_type=content_type.split(";")[0], headers=extra)

        return self.route(path, handler)

    def status(self, path: str, status: int, headers: dict[str, str] | None = None) -> str:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers=headers or {})

        return self.route(path, handler)

    def redirect(self, path: str, status: int, location: str) -> str:
        return self.status(path, status, {"Location": location})

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.seen.append(Seen(path, dict(request.headers)))
        handler = self.routes.get(path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


async def never_ending(request: web.Request) -> web.StreamResponse:
    """Headers, one byte, then silence."""
    resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    await resp.prepare(request)
    await resp.write(b"<")
    await asyncio.sleep(3600)
    return resp
