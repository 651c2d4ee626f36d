"""Render each worker's AsyncAPI document from its FastStream app.

The documents are generated from the same wiring the services run
(``services.<name>.main.build``), against a fixed Redis address so that the
committed files do not depend on where they were generated.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from shared.pipeline import stages

DOC_REDIS_URL = "redis://redis:6379/0"


def render(service: str) -> str:
    previous = os.environ.get("FEEDPIPE_REDIS_URL")
    os.environ["FEEDPIPE_REDIS_URL"] = DOC_REDIS_URL
    try:
        from shared.settings import get_settings

        get_settings.cache_clear()
        runtime = importlib.import_module(f"services.{service}.main").build()
        spec = AsyncAPI(
            runtime.broker,
            title=f"feedpipe {service}",
            description=f"Streams the feedpipe {service} reads and writes.",
        ).to_specification()
        data = json.loads(spec.to_json())
    finally:
        if previous is None:
            os.environ.pop("FEEDPIPE_REDIS_URL", None)
        else:
            os.environ["FEEDPIPE_REDIS_URL"] = previous
        get_settings.cache_clear()
    return json.dumps(_scrub(data), indent=2, sort_keys=True) + "\n"


def _scrub(value: Any) -> Any:
    """Drop consumer names: they carry host and pid, not part of the contract."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k != "consumerName"}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in stages.names(stages.WORKERS):
        path = directory / f"{service}.json"
        path.write_text(render(service))
        written.append(path)
    return written
