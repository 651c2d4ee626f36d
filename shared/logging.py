"""structlog set-up: JSON lines when not on a terminal, the same keys everywhere.

Bind ``feed_id``, ``feed_url`` and ``article_id`` with
``structlog.contextvars.bound_contextvars`` around per-feed / per-article work
so every line inside carries them.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, service: str, level: str = "INFO", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries using stdlib logging (FastStream, uvicorn) go to stderr at WARNING.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(message)s")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


def debug_enabled() -> bool:
    """Whether DEBUG lines are emitted at all. Per-article debug lines are only
    built when they are: binding three context variables per article to log a
    line the level filter then drops cost ~8 % of the indexer's CPU."""
    return bool(structlog.get_logger().is_enabled_for(logging.DEBUG))
