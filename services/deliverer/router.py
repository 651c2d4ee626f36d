"""The deliverer's stage handler: committed events to the queues of the outputs
that want them, queued in the MULTI/EXEC that acknowledges the events (as the
stage runtime's transaction operations; ``enqueue.lua`` skips an output removed
since the router last loaded the list)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from services.deliverer.plan import plan_routes
from shared import metrics
from shared.logging import get_logger
from shared.outputs import Output, OutputRegistry
from shared.pipeline import streams
from shared.pipeline.events import ArticleCommitted
from shared.pipeline.stage import EventTooLargeError, ItemResult, TxOp, encode_event
from shared.settings import Settings

log = get_logger(__name__)

ENQUEUE_LUA = (Path(__file__).parent / "enqueue.lua").read_text()


class Router:
    def __init__(self, *, redis: Redis, registry: OutputRegistry, settings: Settings) -> None:
        self.redis = redis
        self.registry = registry
        self.max_backlog = settings.delivery_max_backlog
        self.max_event_bytes = settings.max_event_bytes
        self._version = -1
        self._outputs: list[Output] = []

    async def outputs(self) -> list[Output]:
        """The enabled outputs, reloaded when the registry's version moved
        (one GET per batch: an output added now gets the next batch)."""
        version = await self.registry.version()
        if version != self._version:
            self._outputs = [o for o in await self.registry.all() if o.enabled]
            self._version = version
        return self._outputs

    async def __call__(self, events: Sequence[ArticleCommitted]) -> list[ItemResult]:
        outputs = await self.outputs()
        if not outputs:
            return [ItemResult() for _ in events]
        pipe = self.redis.pipeline(transaction=False)
        for output in outputs:
            pipe.xlen(streams.delivery_queue(output.output_id))
        lengths = await pipe.execute()
        plan = plan_routes(
            events,
            outputs,
            backlog={o.output_id: int(n) for o, n in zip(outputs, lengths, strict=True)},
            max_backlog=self.max_backlog,
        )
        for output_id, skipped in plan.skipped.items():
            metrics.DELIVERIES.labels(output_id, "skipped").inc(skipped.count)
            await self.registry.record_skipped(
                output_id, skipped.count, first_cursor=skipped.first_cursor
            )
            log.warning(
                "Output backlog full, events not queued",
                output_id=output_id,
                skipped=skipped.count,
                first_cursor=skipped.first_cursor,
                max_backlog=self.max_backlog,
            )
        results: list[ItemResult] = []
        for event, targets in zip(events, plan.routes, strict=True):
            if not targets:
                results.append(ItemResult())
                continue
            try:  # one encoding per event, whatever the number of outputs
                payload = encode_event(event, max_bytes=self.max_event_bytes)
            except EventTooLargeError as exc:
                results.append(ItemResult(error=exc))
                continue
            results.append(ItemResult(tx_ops=[_enqueue(t, payload) for t in targets]))
        return results


def _enqueue(output_id: str, payload: bytes) -> TxOp:
    keys = (streams.output_key(output_id), streams.delivery_queue(output_id))

    def op(pipe: Any) -> None:
        pipe.eval(ENQUEUE_LUA, 2, *keys, streams.DATA_FIELD, payload)

    return op
