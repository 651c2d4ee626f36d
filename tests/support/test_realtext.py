"""Texts of real sentences from the extraction-eval corpus (tests.support.realtext).
The corpus is read in place; without it these tests skip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.fixtures import SitesFactory
from tests.support.realtext import CorpusMissing, RealCorpus, RealText

WORDS = re.compile(r"\S+")


def test_a_missing_corpus_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(CorpusMissing):
        RealCorpus.open(tmp_path)


def test_texts_are_300_to_1700_words_and_carry_their_token(real_text: RealText) -> None:
    texts = real_text.texts("feed", [f"zqreal{i}" for i in range(8)])
    for i, text in enumerate(texts):
        words = [w for p in text.paragraphs for w in WORDS.findall(p)]
        assert 300 <= len(words) <= 1700
        assert f"zqreal{i}" in words
        assert text.title


def test_no_two_texts_share_a_paragraph(real_text: RealText) -> None:
    texts = real_text.texts("feed", [f"zqreal{i}" for i in range(12)])
    paragraphs = [p for t in texts for p in t.paragraphs]
    assert len(set(paragraphs)) == len(paragraphs)


def test_a_language_filter_keeps_only_texts_in_that_language(real_text: RealText) -> None:
    english = RealText(real_text.corpus, languages={"en"})
    assert {t.language for t in english.texts("feed", ["zqa", "zqb", "zqc"])} == {"en"}


async def test_several_sites_serve_real_texts_from_one_source(
    feed_sites: SitesFactory, real_text: RealText
) -> None:
    sites = await feed_sites(2, text=real_text)
    for site in sites:
        site.add_feed("news", "rss", 2)
    texts = [a.text for s in sites for a in s.articles]
    assert len(set(texts)) == 4
    assert all(a.source is None or a.source.startswith("http") for s in sites for a in s.articles)
