"""Parser service wiring: settings -> runtime -> stage -> handler -> run."""

from __future__ import annotations

from services.parser.handler import Extractor, ParserHandler
from shared.fetch.fetcher import SafeFetcher
from shared.pipeline import streams
from shared.pipeline.events import ArticleParsed, FeedFetched
from shared.pipeline.service import ServiceRuntime
from shared.pipeline.stage import StreamStage


def build() -> ServiceRuntime:
    """The service, wired but not started (also used to render its AsyncAPI document)."""
    runtime = ServiceRuntime("parser")
    settings = runtime.settings
    fetcher = SafeFetcher(settings, redis=runtime.redis)
    extractor = Extractor(settings.extract_workers)
    handler = ParserHandler(
        redis=runtime.redis, settings=settings, fetcher=fetcher, extractor=extractor
    )
    stage = StreamStage(
        stage="parser",
        model=FeedFetched,
        redis=runtime.redis,
        settings=settings,
        handler=handler,
    )
    runtime.consume(stage, event_model=FeedFetched)
    runtime.document_publisher(
        streams.PARSED,
        ArticleParsed,
        "One normalised article per new or changed feed entry (full text when fetched).",
    )

    async def close() -> None:
        await fetcher.aclose()
        extractor.close()

    runtime.on_shutdown(close)
    return runtime


def main() -> None:
    build().run()


if __name__ == "__main__":
    main()
