"""The README stays true to the code it documents."""

from pathlib import Path

from shared.pipeline import streams
from shared.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [n for n in Settings.model_fields if f"FEEDPIPE_{n.upper()}" not in README]
    assert missing == []


def test_every_stream_is_documented() -> None:
    for name in (streams.FETCHED, streams.PARSED, streams.UNIQUE, streams.DLQ_PREFIX):
        assert name in README
