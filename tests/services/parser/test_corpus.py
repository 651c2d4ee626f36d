"""Sweep over real captured feeds: nothing crashes, and where an expected parse
ships beside the input (feed-rs ``*.serde.json``), the entry titles match."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.parser.formats import FeedParseError, parse_document
from services.parser.normalize import build_article

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpora" / "feeds"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".json"}


def _inputs() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.suffix in FEED_SUFFIXES
        and not p.name.endswith((".serde.json", "_expected.json"))
        and "/output/" not in str(p)
    )


INPUTS = _inputs()
pytestmark = pytest.mark.skipif(not INPUTS, reason=f"feed corpus not found at {CORPUS}")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CORPUS)) for p in paths]


def test_no_document_crashes_the_parser():
    crashed: list[str] = []
    articles = 0
    for path in INPUTS:
        try:
            feed = parse_document(path.read_bytes())
        except FeedParseError:
            continue  # a clear rejection is fine
        except Exception as exc:
            crashed.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        for entry in feed.entries:
            try:
                build_article(
                    entry,
                    feed=feed,
                    feed_id="corpus",
                    feed_url="https://example.org/feed",
                    base_url="https://example.org/feed",
                    fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
                articles += 1
            except ValueError:
                continue  # no identity at all
            except Exception as exc:
                crashed.append(f"{path.name} entry: {type(exc).__name__}: {exc}")
    assert crashed == []
    assert articles > 1000


SERDE = sorted(CORPUS.rglob("*.serde.json")) if CORPUS.is_dir() else []


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.parametrize("expected", SERDE, ids=_ids(SERDE))
def test_titles_match_feed_rs_expectations(expected: Path):
    stem = expected.name.removesuffix(".serde.json")
    inputs = [p for p in expected.parent.glob(stem + ".*") if p != expected]
    if not inputs:
        pytest.skip("no input beside the expectation")
    want = json.loads(expected.read_text())
    feed = parse_document(inputs[0].read_bytes())
    assert [_norm(e.title) for e in feed.entries] == [
        _norm((e.get("title") or {}).get("content")) for e in want["entries"]
    ]
