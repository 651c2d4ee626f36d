"""Wiring shared by every service: broker, subscribers, health and metrics routes.

A worker builds a :class:`ServiceRuntime` from its declaration in
:mod:`shared.pipeline.stages` (which also documents its output streams), gives
it the handler of its input stream (if it is a stage) and its background loops,
then calls :meth:`ServiceRuntime.run`, which serves ``/metrics``, ``/healthz``,
``/readyz`` and ``/asyncapi`` with uvicorn on the worker's port and stops
cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.redis import (
    RedisBroker,
    RedisClusterBroker,
    RedisSentinelBroker,
    RedisStreamMessage,
    StreamSub,
)
from faststream.redis.prometheus import RedisPrometheusMiddleware
from prometheus_client import REGISTRY, make_asgi_app
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared import metrics
from shared.logging import configure_logging, get_logger
from shared.pipeline import stages, streams
from shared.pipeline.redisconn import as_text, make_redis, redis_target
from shared.pipeline.stage import BatchHandler, StreamStage, sleep_or_stop, trim_stream
from shared.pipeline.streaminfo import group_info
from shared.settings import Settings, get_settings

log = get_logger(__name__)

MONITOR_EVERY_S = 5.0
HEARTBEAT_TTL_S = 30


Loop = Callable[[asyncio.Event], Awaitable[None]]


_DATA_KEY = streams.DATA_FIELD.encode()


async def _batch_unparsed(
    raw: Any, original: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's batch parser for a stream batch, minus the body decoding.

    Left alone, FastStream JSON-decodes every entry of a batch and encodes the
    whole batch again as one JSON array for the handler's ``body``: a fifth of
    the deduplicator's CPU in a py-spy profile of the summary-mode pipeline,
    for a body :class:`StreamStage` never reads (it validates each raw entry on
    its own, so a bad one is dead-lettered alone). The message is built from an
    empty batch and given the real one back; its body is the entries' bytes
    end to end, so FastStream's received-size metric stays true.
    """
    msg = await original({**raw, "data": []})
    msg.raw_message = raw
    msg.body = b"".join(item.get(_DATA_KEY, b"") for item in raw.get("data", ()))
    msg.content_type = None
    return msg


async def _not_decoded(msg: StreamMessage[Any], original: Callable[..., Any]) -> None:
    """The handler's ``body`` argument stays None (see :func:`_batch_unparsed`)."""
    return None


class ServiceRuntime:
    def __init__(self, worker: stages.Worker, settings: Settings | None = None) -> None:
        self.worker = worker
        self.service = service = worker.name
        self.settings = settings or get_settings()
        configure_logging(
            service=service, level=self.settings.log_level, json=self.settings.log_json
        )
        self.consumer = self.settings.consumer_for(service)
        self.broker = make_broker(
            self.settings,
            middlewares=[RedisPrometheusMiddleware(registry=REGISTRY)],
            graceful_timeout=20.0,
        )
        self.redis: Redis = make_redis(self.settings)
        self.stop_event = asyncio.Event()
        self._loops: list[Loop] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ready_checks: list[Callable[[], Awaitable[bool]]] = [self._redis_ready]
        self._stage: StreamStage[Any] | None = None
        self._on_shutdown: list[Callable[[], Awaitable[None]]] = []
        for output in worker.outputs:
            self._document_publisher(output)

    # --- composition -------------------------------------------------------
    def add_loop(self, loop: Loop) -> None:
        """A background coroutine run until shutdown; it gets the stop event."""
        self._loops.append(loop)

    def add_ready_check(self, check: Callable[[], Awaitable[bool]]) -> None:
        self._ready_checks.append(check)

    def on_shutdown(self, func: Callable[[], Awaitable[None]]) -> None:
        self._on_shutdown.append(func)

    def consume(self, handler: BatchHandler[Any]) -> StreamStage[Any]:
        """Run ``handler`` over this stage's input stream: one reader of new
        entries and one XAUTOCLAIM reader that takes over entries idle in dead
        consumers, both feeding one :class:`StreamStage`."""
        declared = self.worker
        if not isinstance(declared, stages.Stage):
            raise TypeError(f"the {self.service} reads no stream: it is not a stages.Stage")
        s = self.settings
        stage = StreamStage(
            declared, redis=self.redis, settings=s, handler=handler, consumer=self.consumer
        )
        self._stage = stage
        fresh = StreamSub(
            stage.stream,
            group=stage.group,
            consumer=self.consumer,
            batch=True,
            max_records=declared.batch_size(s),
            polling_interval=s.batch_timeout_ms,
        )
        reclaim = StreamSub(
            stage.stream,
            group=stage.group,
            consumer=self.consumer,
            batch=True,
            max_records=1,
            polling_interval=max(s.reclaim_idle_ms // 4, 100),
            min_idle_time=s.reclaim_idle_ms,
        )

        # Bodies are decoded by StreamStage, not by FastStream, so that a bad
        # entry is dead-lettered on its own; the typed title is for AsyncAPI.
        @self.broker.subscriber(
            stream=fresh,
            ack_policy=AckPolicy.MANUAL,
            parser=_batch_unparsed,
            decoder=_not_decoded,
            title=f"{self.service}:{stage.stream}",
            description=f"{stage.model.__name__} events consumed by the {self.service}.",
        )
        async def consume_new(body: Any, msg: RedisStreamMessage) -> None:
            raw: Any = msg.raw_message
            await stage.handle_entries(raw["message_ids"], raw["data"], reclaimed=False)

        @self.broker.subscriber(
            stream=reclaim,
            ack_policy=AckPolicy.MANUAL,
            parser=_batch_unparsed,
            decoder=_not_decoded,
            title=f"{self.service}:{stage.stream}:reclaim",
            include_in_schema=False,
        )
        async def consume_reclaimed(body: Any, msg: RedisStreamMessage) -> None:
            raw: Any = msg.raw_message
            await stage.handle_entries(raw["message_ids"], raw["data"], reclaimed=True)

        self.add_loop(self._monitor_stream)
        return stage

    def _document_publisher(self, output: stages.Stream[Any]) -> None:
        """Declare an output stream for the AsyncAPI document (workers write
        their outputs in their own Redis transactions, not through it)."""
        self.broker.publisher(
            stream=output.name,
            title=f"{self.service}->{output.name}",
            description=output.description,
            schema=output.model,
        )

    # --- health ------------------------------------------------------------
    async def _redis_ready(self) -> bool:
        try:
            ok = bool(await asyncio.wait_for(self.redis.ping(), timeout=2))
        except (RedisError, OSError, TimeoutError):
            ok = False
        metrics.REDIS_UP.set(1 if ok else 0)
        return ok

    async def ready(self) -> bool:
        for check in self._ready_checks:
            if not await check():
                return False
        return True

    # --- background loops ----------------------------------------------------
    async def _monitor_stream(self, stop: asyncio.Event) -> None:
        """Export lag/pending of this stage's input, trim it behind its slowest
        group, and drop consumers that left nothing pending long ago."""
        assert self._stage is not None
        stage = self._stage
        while not stop.is_set():
            try:
                await self._observe_stream(stage)
                await trim_stream(
                    self.redis, stage.stream, keep=stage.declared.input.keep(self.settings)
                )
                await self.redis.set(
                    f"{streams.HEARTBEAT_PREFIX}{self.consumer}",
                    str(time.time()),
                    ex=HEARTBEAT_TTL_S,
                )
            except (RedisError, OSError) as exc:
                log.warning("Stream monitor failed", stage=stage.stage, error=str(exc))
            if await sleep_or_stop(stop, MONITOR_EVERY_S):
                return

    async def _observe_stream(self, stage: StreamStage[Any]) -> None:
        info = await group_info(self.redis, stage.stream, stage.group)
        metrics.STREAM_LENGTH.labels(stage.stream).set(info.length)
        metrics.STREAM_LAG.labels(stage.stream, stage.group).set(info.lag)
        metrics.STREAM_PENDING.labels(stage.stream, stage.group).set(info.pending)
        metrics.DLQ_LENGTH.labels(stage.stage).set(await self.redis.xlen(stage.dlq))
        await _forget_idle_consumers(self.redis, stage.stream, stage.group, self.consumer)

    # --- running -------------------------------------------------------------
    def asgi(self) -> AsgiFastStream:
        @get
        async def healthz(scope: Any) -> AsgiResponse:
            return AsgiResponse(b"ok", status_code=200)

        @get
        async def readyz(scope: Any) -> AsgiResponse:
            if await self.ready():
                return AsgiResponse(b"ready", status_code=200)
            return AsgiResponse(b"not ready", status_code=503)

        app = AsgiFastStream(
            self.broker,
            asgi_routes=[
                ("/metrics", make_asgi_app(REGISTRY)),
                ("/healthz", healthz),
                ("/readyz", readyz),
            ],
            asyncapi_path="/asyncapi",
            on_startup=[self.ensure_groups],
            after_startup=[self._start_loops],
            on_shutdown=[self._stop_loops],
            after_shutdown=[self._close_resources],
        )
        return app

    async def ensure_groups(self) -> None:
        """Create every stage's consumer group at id 0 before anything is read.

        FastStream creates a missing group at ``$``, which would skip entries
        published before the consumer first started (a poller that starts
        before its parser). Every service creates all groups, so start order
        never matters.
        """
        delay = 0.5
        while True:
            try:
                await ensure_groups(self.redis)
                return
            except (RedisError, OSError) as exc:
                log.warning("Redis not reachable yet, retrying", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _start_loops(self) -> None:
        log.info("Service started", consumer=self.consumer)
        for loop in self._loops:
            self._tasks.append(asyncio.create_task(self._guard(loop)))

    async def _guard(self, loop: Loop) -> None:
        """Keep a loop alive across Redis outages: log, back off, run it again."""
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                await loop(self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Background loop crashed, restarting", loop=loop.__qualname__)
                if await sleep_or_stop(self.stop_event, delay):
                    return
                delay = min(delay * 2, 30.0)

    async def _stop_loops(self) -> None:
        log.info("Service stopping", consumer=self.consumer)
        self.stop_event.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=15)
            for task in pending:
                task.cancel()

    async def _close_resources(self) -> None:
        """After the broker stopped: its in-flight batches have committed by now
        (FastStream's graceful timeout), so closing the index or Redis earlier
        would fail them and strand them in the pending list."""
        for func in self._on_shutdown:
            with contextlib.suppress(Exception):
                await func()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    def run(self) -> None:
        port = self.worker.port(self.settings)
        config = uvicorn.Config(
            self.asgi(),
            host=self.settings.metrics_host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=20,
        )
        uvicorn.Server(config).run()


def make_broker(settings: Settings, **kwargs: Any) -> RedisBroker:
    """The FastStream broker for the configured topology (see shared.pipeline.redisconn):
    RedisBroker, RedisSentinelBroker (master found through the Sentinels) or
    RedisClusterBroker (nodes discovered from the seeds)."""
    target = redis_target(settings)
    if target.topology == "single":
        return RedisBroker(target.url, **kwargs)
    auth = ""
    if target.username or target.password:
        auth = f"{quote(target.username or '')}:{quote(target.password or '')}@"
    host, port = target.nodes[0]
    scheme = "rediss" if target.tls else "redis"
    if target.topology == "sentinel":
        assert target.service is not None
        return RedisSentinelBroker(
            f"{scheme}://{auth}{host}:{port}/{target.db}",
            sentinels=list(target.nodes),
            sentinel_master_name=target.service,
            **kwargs,
        )
    return RedisClusterBroker(
        f"{scheme}://{auth}{host}:{port}", startup_nodes=list(target.nodes[1:]), **kwargs
    )


async def ensure_groups(redis: Redis) -> None:
    for stage in stages.STAGES:
        try:
            await redis.xgroup_create(stage.input.name, stage.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def _forget_idle_consumers(redis: Redis, stream: str, group: str, me: str) -> None:
    """Delete consumers of dead processes once they hold nothing pending (names
    carry a pid, so every restart adds one)."""
    try:
        consumers = await redis.xinfo_consumers(stream, group)
    except RedisError:
        return
    for consumer in consumers:
        name = consumer["name"]
        name = as_text(name)
        if name != me and consumer["pending"] == 0 and consumer["idle"] > 3_600_000:
            await redis.xgroup_delconsumer(stream, group, name)
