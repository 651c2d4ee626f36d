"""Poller service: ``feedpipe run poller``.

Claims due feeds from the shared schedule, fetches them politely and publishes
changed documents as :class:`shared.events.FeedFetched` on
:data:`shared.streams.FETCHED`. Any number of replicas may run side by side.
"""

from __future__ import annotations

import asyncio

from services.poller.poller import Poller
from shared import streams
from shared.events import FeedFetched
from shared.fetcher import SafeFetcher
from shared.service import ServiceRuntime


def main() -> None:
    runtime = ServiceRuntime("poller")
    fetcher = SafeFetcher(runtime.settings, redis=runtime.redis)
    poller = Poller(runtime.settings, runtime.redis, fetcher=fetcher, name=runtime.consumer)

    async def poll_loop(stop: asyncio.Event) -> None:
        await poller.run(stop)

    runtime.add_loop(poll_loop)
    runtime.on_shutdown(fetcher.aclose)
    runtime.document_publisher(
        streams.FETCHED,
        FeedFetched,
        "Feed documents that changed since their last poll (304s and same-hash bodies are "
        "not published).",
    )
    runtime.run()


if __name__ == "__main__":
    main()
