"""Indexer service wiring: settings -> runtime -> index -> stage -> run."""

from __future__ import annotations

import asyncio

from services.indexer.handler import IndexHandler
from shared.index import open_index
from shared.pipeline import stages
from shared.pipeline.service import ServiceRuntime


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime(stages.INDEXER)
    index = open_index(runtime.settings.resolved_index_url)
    runtime.consume(IndexHandler(index))

    async def prepare(stop: asyncio.Event) -> None:
        # Create/migrate the schema at start; a failure is retried by the
        # runtime's loop guard, and apply() would set it up lazily anyway.
        await index.setup()

    runtime.add_loop(prepare)
    runtime.add_ready_check(index.ping)
    runtime.on_shutdown(index.close)
    return runtime
