"""Deliverer service wiring: settings -> runtime -> router stage -> output workers -> run."""

from __future__ import annotations

from services.deliverer.deliveries import Deliveries
from services.deliverer.router import Router
from shared.outputs import OutputRegistry
from shared.pipeline import stages
from shared.pipeline.service import ServiceRuntime


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime(stages.DELIVERER)
    registry = OutputRegistry(runtime.redis)
    runtime.consume(Router(redis=runtime.redis, registry=registry, settings=runtime.settings))
    deliveries = Deliveries(
        redis=runtime.redis,
        registry=registry,
        settings=runtime.settings,
        consumer=runtime.consumer,
    )
    runtime.add_loop(deliveries.run)
    runtime.add_loop(deliveries.monitor)
    return runtime
