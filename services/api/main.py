"""API service: FastAPI under uvicorn on FEEDPIPE_API_HOST:FEEDPIPE_API_PORT."""

from __future__ import annotations

import uvicorn

from services.api.app import create_app
from shared.logging import configure_logging
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(service="api", level=settings.log_level, json=settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
