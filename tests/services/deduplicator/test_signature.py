"""Fingerprints: normalisation, exact hashes, similarity estimates."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.deduplicator.signature import (
    _GROUP_CODEPOINTS,
    BANDS,
    MAX_CODEPOINTS,
    fingerprint,
    fingerprint_many,
    shingle_hashes,
    token_hashes,
)
from tests.services.deduplicator.samples import WORDS, story, syndicated, text


def test_case_punctuation_and_spacing_do_not_change_the_content_hash() -> None:
    a = fingerprint("L'été   est CHAUD, à Paris!")
    b = fingerprint("l’été est chaud — à paris")
    assert a.content_hash == b.content_hash


def test_unicode_composition_does_not_change_the_content_hash() -> None:
    composed = "café résumé"
    decomposed = "cafe\u0301 re\u0301sume\u0301"
    assert fingerprint(composed).content_hash == fingerprint(decomposed).content_hash


def test_different_words_change_the_content_hash() -> None:
    assert fingerprint("the river rose").content_hash != fingerprint("the river fell").content_hash


def test_equal_words_hash_equally_wherever_they_stand() -> None:
    hashes = token_hashes("river bridge river")
    assert hashes.size == 3
    assert hashes[0] == hashes[2]
    assert hashes[0] != hashes[1]


def test_text_without_words_has_no_tokens() -> None:
    assert fingerprint("  — … !! ").tokens == 0


def test_short_text_is_one_shingle() -> None:
    assert shingle_hashes(token_hashes("two words")).size == 1


def test_shingles_cover_every_run_of_five_words() -> None:
    assert shingle_hashes(token_hashes("a b c d e f g")).size == 3


def test_identical_texts_share_every_band_and_the_whole_sketch() -> None:
    body = text(story(1))
    a, b = fingerprint(body), fingerprint(body)
    assert a.bands == b.bands
    assert a.sketch == b.sketch
    assert len(a.bands) == BANDS


# How similar two sketches are is estimated by dedup.lua: see test_store.py.


def test_syndicated_copy_shares_a_band() -> None:
    paragraphs = story(2)
    a = fingerprint(text(paragraphs))
    b = fingerprint(syndicated(paragraphs))
    assert set(a.bands) & set(b.bands)


def test_different_stories_share_no_band() -> None:
    a = fingerprint(text(story(3)))
    b = fingerprint(text(story(4)))
    assert not set(a.bands) & set(b.bands)


def test_content_hash_does_not_depend_on_the_process() -> None:
    # Workers compare hashes made in other processes: no per-process seed may
    # leak in (the value was computed once, under another PYTHONHASHSEED).
    assert fingerprint("the same text every time").content_hash.hex() == "2b400a9464c6749e"


# fingerprint_many must give exactly fingerprint()'s bytes: stored records and
# band keys written by either path are compared with each other in Redis.

EDGE_TEXTS = [
    "",
    "  — … !! ",  # no word characters
    "river",  # shorter than a shingle: one shingle of all its words
    "two words",
    "a b c d",
    "a b c d e",  # exactly one shingle
    "L'été   est CHAUD, à Paris!",
    "cafe\u0301 re\u0301sume\u0301",  # not NFKC
    "ﬁne ＦＵＬＬ ① Straße İstanbul",  # NFKC changes the length; casefold of ß is two letters
    "\U00030000\U0003134a plane three \U000e0041 \U0010fffd",  # above the fold table
    "lone \ud800 surrogate \udfff",
    "\x00NUL\x00 separated\x00",  # the batch's own separator inside a text
]


def test_fingerprint_many_matches_fingerprint_on_edge_cases() -> None:
    texts = [*EDGE_TEXTS, text(story(5)), *reversed(EDGE_TEXTS)]
    assert fingerprint_many(texts) == [fingerprint(t) for t in texts]


def test_fingerprint_many_of_nothing_is_empty() -> None:
    assert fingerprint_many([]) == []


def test_fingerprint_many_cuts_each_long_text_on_its_own() -> None:
    word = "ﬁeld "  # NFKC turns the ligature into two letters before the cut
    long = (word * (MAX_CODEPOINTS // 4))[: MAX_CODEPOINTS + 7]
    texts = ["short text here", long, long[:MAX_CODEPOINTS], "x" * MAX_CODEPOINTS, "tail"]
    assert fingerprint_many(texts) == [fingerprint(t) for t in texts]


# Characters that exercise each branch: ASCII words and separators, letters
# that NFKC or case folding rewrite, combining marks, code points past the
# fold table, lone surrogates and NUL.
_CHARS = st.one_of(
    st.sampled_from("abcdefghij  \n.,'-"),
    st.sampled_from(["É", "e\u0301", "ﬁ", "Ａ", "①", "ß", "İ", "Σ", "ς", "日本", "—", "\u00a0"]),
    st.characters(min_codepoint=0x2FFF0, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
    st.sampled_from(["\ud800", "\udc00", "\x00"]),
    st.characters(codec="utf-8"),
)
_TEXTS = st.one_of(
    st.lists(_CHARS, max_size=60).map("".join),
    st.lists(st.sampled_from(WORDS), max_size=400).map(" ".join),
    # Lengths around a group of fingerprint_many and around the per-text cut.
    st.tuples(
        st.sampled_from(["rivers ", "été ", "ﬁx "]),
        st.sampled_from([_GROUP_CODEPOINTS - 1, _GROUP_CODEPOINTS, 90_000, MAX_CODEPOINTS + 3]),
    ).map(lambda p: (p[0] * (p[1] // len(p[0]) + 1))[: p[1]]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(_TEXTS, max_size=12))
def test_fingerprint_many_equals_fingerprint_per_text(texts: list[str]) -> None:
    assert fingerprint_many(texts) == [fingerprint(t) for t in texts]
