"""The committed AsyncAPI documents are what the apps generate."""

from pathlib import Path

import pytest

from services.cli.asyncapi import render
from shared.pipeline import stages

DOCS = Path(__file__).resolve().parents[3] / "docs" / "asyncapi"
WORKERS = stages.names(stages.WORKERS)


@pytest.mark.parametrize("service", WORKERS)
def test_committed_document_matches_the_app(service: str) -> None:
    assert (DOCS / f"{service}.json").read_text() == render(service), (
        "run: uv run feedpipe asyncapi"
    )


def test_documents_name_every_stream() -> None:
    text = "".join((DOCS / f"{s}.json").read_text() for s in WORKERS)
    for worker in stages.WORKERS:
        for output in worker.outputs:
            assert output.name in text
