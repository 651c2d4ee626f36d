from __future__ import annotations

from shared.settings import Settings


def test_parser_reads_its_own_batch_size_when_set() -> None:
    settings = Settings(batch_size=200, parser_batch_size=10)
    assert settings.batch_size_for("parser") == 10
    assert settings.batch_size_for("indexer") == 200


def test_parser_batch_size_none_means_the_common_one() -> None:
    assert Settings(batch_size=150, parser_batch_size=None).batch_size_for("parser") == 150


def test_fetched_stream_keeps_fewer_entries_than_article_streams() -> None:
    settings = Settings(stream_maxlen=100_000, fetched_maxlen=500)
    assert settings.stream_keep_for("parser") == 500
    assert settings.stream_keep_for("indexer") == 100_000
