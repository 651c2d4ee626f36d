"""Parser service wiring: settings -> runtime -> handler -> run."""

from __future__ import annotations

from services.parser.completer import PageCompleter
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
    handler = ParserHandler(
        redis=runtime.redis, settings=settings, fetcher=fetcher, extractor=extractor
    )
    runtime.consume(handler)
    assert handler.pages is not None
    completer = PageCompleter(
        redis=runtime.redis, settings=settings, pages=handler.pages, queue=handler.queue
    )
    runtime.add_loop(completer.run)

    async def close() -> None:
        await fetcher.aclose()
        extractor.close()

    runtime.on_shutdown(close)
    return runtime
