"""The workers of one deliverer process: one per enabled output, started and
stopped as outputs are added, disabled, enabled or removed (the registry's
version counter says when to look), and the per-output lag gauges."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.deliverer.worker import OutputWorker
from shared import metrics
from shared.logging import get_logger
from shared.outputs import Output, OutputRegistry, open_transport
from shared.outputs.webhook import webhook_session
from shared.pipeline import streams
from shared.pipeline.stage import sleep_or_stop
from shared.settings import Settings

log = get_logger(__name__)

RELOAD_EVERY_S = 1.0  # how often the registry's version is checked
MONITOR_EVERY_S = 5.0
STOP_GRACE_S = 5.0  # beyond an attempt's own time limit


class Deliveries:
    def __init__(
        self, *, redis: Redis, registry: OutputRegistry, settings: Settings, consumer: str
    ) -> None:
        self.redis = redis
        self.registry = registry
        self.settings = settings
        self.consumer = consumer
        self._workers: dict[str, tuple[OutputWorker, asyncio.Task[Any]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._exported: set[str] = set()

    @property
    def running(self) -> set[str]:
        return set(self._workers)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = webhook_session(self.settings)
        return self._session

    # --- workers --------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Keep one worker per enabled output until ``stop``."""
        seen = -1
        try:
            while not stop.is_set():
                try:
                    version = await self.registry.version()
                    crashed = any(task.done() for _w, task in self._workers.values())
                    if version != seen or crashed:
                        await self.sync([o for o in await self.registry.all() if o.enabled])
                        seen = version
                except (RedisError, OSError) as exc:  # workers keep going; look again soon
                    log.warning("Could not reload outputs", error=str(exc))
                if await sleep_or_stop(stop, RELOAD_EVERY_S):
                    return
        finally:
            await self.stop_all()

    async def sync(self, enabled: list[Output]) -> None:
        wanted = {o.output_id: o for o in enabled}
        for output_id in list(self._workers):
            worker, task = self._workers[output_id]
            if output_id not in wanted:
                await self._stop(output_id)
            elif task.done():
                self._workers.pop(output_id)
                self._report_end(worker, task)
        for output_id, output in wanted.items():
            if output_id not in self._workers:
                self._start(output)

    def _start(self, output: Output) -> None:
        worker = OutputWorker(
            output,
            redis=self.redis,
            registry=self.registry,
            transport=open_transport(output, self.settings, session=self._http()),
            settings=self.settings,
            consumer=self.consumer,
        )
        task = asyncio.create_task(worker.run(), name=f"deliver-{output.output_id}")
        self._workers[output.output_id] = (worker, task)
        log.info("Delivering to output", output_id=output.output_id, target=output.target)

    def _report_end(self, worker: OutputWorker, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error(
                "Output worker crashed, restarting",
                output_id=worker.output_id,
                error=f"{type(exc).__name__}: {exc}",
            )

    async def _stop(self, output_id: str) -> None:
        worker, task = self._workers.pop(output_id)
        worker.stop.set()
        try:
            await asyncio.wait_for(
                asyncio.shield(task), timeout=self.settings.delivery_timeout + STOP_GRACE_S
            )
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        except Exception as exc:  # already reported by the worker's own logs
            log.debug("Output worker ended with an error", output_id=output_id, error=str(exc))
        log.info("Stopped delivering to output", output_id=output_id)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self._stop(oid) for oid in list(self._workers)))
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- metrics ----------------------------------------------------------------------
    async def monitor(self, stop: asyncio.Event) -> None:
        """Export each output's lag (entries and age of the oldest) and the
        count of outputs by state; drop the gauges of removed outputs."""
        while not stop.is_set():
            try:
                await self.observe()
            except (RedisError, OSError) as exc:
                log.warning("Output monitor failed", error=str(exc))
            if await sleep_or_stop(stop, MONITOR_EVERY_S):
                return

    async def observe(self) -> None:
        outputs = await self.registry.all()
        pipe = self.redis.pipeline(transaction=False)
        for output in outputs:
            queue = streams.delivery_queue(output.output_id)
            pipe.xlen(queue)
            pipe.xrange(queue, count=1)
        replies: list[Any] = await pipe.execute()
        now_ms = time.time() * 1000
        for n, output in enumerate(outputs):
            length, first = replies[2 * n], replies[2 * n + 1]
            metrics.DELIVERY_LAG.labels(output.output_id).set(int(length))
            age = 0.0
            if first:
                queued_ms = int(first[0][0].split(b"-")[0])
                age = max(now_ms - queued_ms, 0.0) / 1000
            metrics.DELIVERY_LAG_SECONDS.labels(output.output_id).set(age)
        enabled = sum(1 for o in outputs if o.enabled)
        metrics.OUTPUTS.labels("enabled").set(enabled)
        metrics.OUTPUTS.labels("disabled").set(len(outputs) - enabled)
        current = {o.output_id for o in outputs}
        for gone in self._exported - current:
            forget_output_metrics(gone)
        self._exported = current


def forget_output_metrics(output_id: str) -> None:
    """Drop every series of a removed output from this process's /metrics."""
    for metric in (metrics.DELIVERY_LAG, metrics.DELIVERY_LAG_SECONDS, metrics.DELIVERY_LATENCY):
        with contextlib.suppress(KeyError):
            metric.remove(output_id)
    for result in metrics.DELIVERY_RESULTS:
        with contextlib.suppress(KeyError):
            metrics.DELIVERIES.remove(output_id, result)
