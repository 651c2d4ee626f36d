"""A webhook receiver on 127.0.0.1 for tests and benchmarks.

It checks every POST the way a careful receiver would: the Standard Webhooks
signature with the ``standardwebhooks`` library (so a signature feedpipe got
wrong is caught by an independent implementation), then records the body's
items. Tests script its answers: a status to answer for a while (``failing``),
a list of answers to give first (``script``), a delay, or a gate that holds
every request until it is opened.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Received:
    """One accepted request: its verified body (parsed and as received) and when it arrived."""

    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    raw: bytes = b""


class WebhookReceiver:
    def __init__(self, *, secret: str | bytes | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._verifier = Webhook(secret) if secret is not None else None
        self.accepted: list[Received] = []
        self.requests = 0
        self.bad_signatures = 0
        self.answered: Counter[int] = Counter()
        # While set, every request is answered with this status.
        self.failing: int | None = None
        # Answers given first, one per request, before anything else.
        self.script: deque[Answer] = deque()
        self.delay = 0.0
        # While not None and not set, requests wait for it (counted in `waiting`).
        self.gate: asyncio.Event | None = None
        self.waiting = 0
        # Called with each accepted request as it arrives (benchmarks time items with it).
        self.on_accept: Callable[[Received], None] | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def start(self) -> WebhookReceiver:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what arrived -------------------------------------------------------------------
    @property
    def items(self) -> list[dict[str, Any]]:
        return [item for received in self.accepted for item in received.body["items"]]

    @property
    def keys(self) -> list[str]:
        """Idempotency keys of every accepted item, in arrival order (repeats kept)."""
        return [item["idempotency_key"] for item in self.items]

    def unique_keys(self) -> set[str]:
        return set(self.keys)

    async def wait_for(self, count: int, *, timeout: float = 60.0) -> set[str]:
        """Wait until ``count`` distinct keys were accepted; their set."""
        deadline = time.monotonic() + timeout
        while len(self.unique_keys()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.unique_keys())} of {count} items arrived at {self.url}"
                    f" within {timeout:g}s ({self.requests} requests,"
                    f" answers {dict(self.answered)})"
                )
            await asyncio.sleep(0.05)
        return self.unique_keys()

    # --- the endpoint ------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        headers = dict(request.headers)
        if self.gate is not None and not self.gate.is_set():
            self.waiting += 1
            await self.gate.wait()
            self.waiting -= 1
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self._next_answer()
        if answer is None and self._verifier is not None:
            try:
                self._verifier.verify(body, headers)
            except WebhookVerificationError:
                self.bad_signatures += 1
                answer = Answer(401)
        if answer is not None:
            self.answered[answer.status] += 1
            return web.Response(status=answer.status, headers=answer.headers)
        received = Received(json.loads(body), headers, time.time(), body)
        self.accepted.append(received)
        if self.on_accept is not None:
            self.on_accept(received)
        self.answered[200] += 1
        return web.json_response({"accepted": True})

    def _next_answer(self) -> Answer | None:
        if self.script:
            scripted = self.script.popleft()
            return scripted if scripted.status >= 300 else None
        if self.failing is not None:
            return Answer(self.failing)
        return None
