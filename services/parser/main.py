"""Parser service wiring: settings -> runtime -> handler -> run."""

from __future__ import annotations

from services.parser.handler import Extractor, ParserHandler
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline import stages
from shared.pipeline.service import ServiceRuntime


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime(stages.PARSER)
    settings = runtime.settings
    fetcher = SafeFetcher(settings, redis=runtime.redis)
    extractor = Extractor(settings.extract_workers)
    runtime.consume(
        ParserHandler(redis=runtime.redis, settings=settings, fetcher=fetcher, extractor=extractor)
    )

    async def close() -> None:
        await fetcher.aclose()
        extractor.close()

    runtime.on_shutdown(close)
    return runtime
