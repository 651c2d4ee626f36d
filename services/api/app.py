"""The API application: search, articles, feeds, outputs, the search page, health, metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.api import feed_routes, output_routes, page, search
from services.api.deps import ApiState
from shared import metrics
from shared.feeds import FeedRegistry
from shared.index import Index, open_index
from shared.logging import get_logger
from shared.outputs import OutputRegistry
from shared.pipeline.redisconn import make_redis
from shared.settings import Settings

log = get_logger(__name__)


def create_app(
    settings: Settings, *, index: Index | None = None, redis: Redis | None = None
) -> FastAPI:
    """The app; ``index`` and ``redis`` are opened from settings unless given
    (and then closed by the caller)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        idx = index or open_index(settings.resolved_index_url)
        client = redis or make_redis(settings)
        try:
            await idx.setup()
        except Exception as exc:  # keep serving: /readyz says 503 until the index answers
            log.warning("Index setup failed at start", error=str(exc))
        app.state.api = ApiState(
            settings=settings,
            index=idx,
            redis=client,
            registry=FeedRegistry(client),
            outputs=OutputRegistry(client),
        )
        yield
        if index is None:
            await idx.close()
        if redis is None:
            await client.aclose()

    app = FastAPI(
        title="feedpipe API",
        summary="Search the indexed articles and manage feeds.",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(search.router)
    app.include_router(feed_routes.router)
    app.include_router(output_routes.router)
    app.include_router(page.router)
    app.mount("/metrics", make_asgi_app())

    @app.middleware("http")
    async def search_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path != "/search":
            return await call_next(request)
        started = time.perf_counter()
        response = await call_next(request)
        metrics.SEARCH_SECONDS.observe(time.perf_counter() - started)
        metrics.SEARCH_REQUESTS.labels(str(response.status_code)).inc()
        return response

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> JSONResponse:
        log.warning("Redis unavailable", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": "feed registry unavailable (Redis)"}, status_code=503)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        state: ApiState = request.app.state.api
        index_ok = await state.index.ping()
        try:
            redis_ok = bool(await state.redis.ping())
        except (RedisError, OSError):
            redis_ok = False
        body = {"index": index_ok, "redis": redis_ok}
        return JSONResponse(body, status_code=200 if index_ok else 503)

    return app
