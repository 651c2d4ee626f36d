from __future__ import annotations

import io
import json
import random
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import index_throughput as bench
from benchmarks.index_throughput import RealCorpus, RealPage

WORDS = re.compile(r"\w+")

EN_1 = "First paragraph about rivers.\nSecond one on bridges.\nThird on roads.\nFourth, boats."
EN_2 = "Alpha talks of trains.\nBeta of planes.\nGamma of buses.\nDelta of trams."
FR_1 = "Le premier paragraphe.\nLe deuxième parle de ponts.\nLe troisième de routes."


def pages() -> list[RealPage]:
    return [
        RealPage(url="https://a.example/1", title="Rivers", text=EN_1, language="en"),
        RealPage(url="https://b.example/2", title="Trains", text=EN_2, language="en"),
        RealPage(url="https://c.example/3", title="Ponts", text=FR_1, language="fr"),
    ]


def test_first_pass_is_each_page_as_extracted() -> None:
    events = list(RealCorpus(pages()).events(3))
    assert [e.article.text for e in events] == [EN_1, EN_2, FR_1]
    assert [e.article.language for e in events] == ["en", "en", "fr"]


def test_every_article_has_its_own_id_and_url() -> None:
    events = list(RealCorpus(pages()).events(12))
    assert len({e.article.article_id for e in events}) == 12
    assert len({e.article.url for e in events}) == 12


def test_later_passes_only_reuse_words_of_pages_in_the_same_language() -> None:
    corpus = RealCorpus(pages())
    vocab = {
        lang: {w for p in pages() if p.language == lang for w in WORDS.findall(p.text)}
        for lang in ("en", "fr")
    }
    for event in corpus.events(30):
        words = set(WORDS.findall(event.article.text))
        assert words <= vocab[event.article.language or ""]


def test_articles_are_the_same_for_the_same_seed() -> None:
    first = [e.article.text for e in RealCorpus(pages()).events(9)]
    again = [e.article.text for e in RealCorpus(pages()).events(9)]
    assert first == again


def test_reshuffled_keeps_every_paragraph() -> None:
    out = bench.reshuffled(EN_1, random.Random(3))
    assert sorted(out.split("\n")) == sorted(EN_1.split("\n"))


def test_a_short_text_is_reshuffled_by_sentence() -> None:
    text = "One fish. Two fish. Red fish. Blue fish."
    out = bench.reshuffled(text, random.Random(1))
    assert Counter(WORDS.findall(out)) == Counter(WORDS.findall(text))


def test_spliced_joins_the_first_half_of_one_and_the_second_half_of_another() -> None:
    out = bench.spliced(EN_1, EN_2)
    assert out.split("\n") == [*EN_1.split("\n")[:2], *EN_2.split("\n")[2:]]


def test_corpus_stats_counts_words_and_distinct_words() -> None:
    corpus = RealCorpus(
        [RealPage(url="https://a.example/", title="t", text="a a b\nc", language="en")]
    )
    stats = bench.corpus_stats(list(corpus.events(1)))
    assert stats["mean_words"] == 4
    assert stats["mean_distinct_words"] == 3
    assert stats["corpus_distinct_words"] == 3
    assert stats["languages"] == {"en": 1}


def test_python_tsvector_weights_title_a_and_body_b_with_running_positions() -> None:
    literal = bench.python_tsvector("Cats", "cats running", "en")
    assert literal == "'cat':1A,2B 'run':3B"


PAGE = (
    "<html lang='en'><head><title>Harbour reopens after storm</title></head><body>"
    "<nav>Home | News | Sport</nav><article><h1>Harbour reopens after storm</h1>"
    + "".join(
        f"<p>The harbour master said on day {i} that the fishing boats could leave again, "
        "because the storm had passed and the damaged quay was repaired by the town.</p>"
        for i in range(6)
    )
    + "</article></body></html>"
)


def make_corpus(root: Path) -> Path:
    corpus = root / "extraction-eval"
    corpus.mkdir()
    data = PAGE.encode()
    with tarfile.open(corpus / "tests-html.tar.gz", "w:gz") as tar:
        member = tarfile.TarInfo("tests/eval/harbour.html")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    evaldata = {"https://news.example/harbour": {"file": "harbour.html", "with": []}}
    (corpus / "evaldata.json").write_text(json.dumps(evaldata))
    return corpus


def test_pages_are_extracted_from_the_tarball_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(tmp_path)
    cache = tmp_path / "cache"
    [page] = bench.load_pages(corpus, cache)
    assert page.url == "https://news.example/harbour"
    assert page.language == "en"
    assert "fishing boats" in page.text
    assert "Home | News" not in page.text

    def no_extraction(_: Path) -> list[RealPage]:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(bench, "extract_pages", no_extraction)
    assert bench.load_pages(corpus, cache) == [page]
