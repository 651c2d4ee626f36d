"""The committed AsyncAPI documents are what the apps generate."""

from pathlib import Path

import pytest

from services.cli.asyncapi import WORKERS, render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "asyncapi"


@pytest.mark.parametrize("service", WORKERS)
def test_committed_document_matches_the_app(service: str) -> None:
    assert (DOCS / f"{service}.json").read_text() == render(service), (
        "run: uv run feedpipe asyncapi"
    )


def test_documents_name_every_stream() -> None:
    text = "".join((DOCS / f"{s}.json").read_text() for s in WORKERS)
    for stream in ("feedpipe:stream:fetched", "feedpipe:stream:parsed", "feedpipe:stream:unique"):
        assert stream in text
