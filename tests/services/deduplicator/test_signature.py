"""Fingerprints: normalisation, exact hashes, similarity estimates."""

from __future__ import annotations

from services.deduplicator.signature import (
    BANDS,
    fingerprint,
    shingle_hashes,
    sketch_similarity,
    token_hashes,
)
from tests.services.deduplicator.samples import story, syndicated, text


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
    assert sketch_similarity(a.sketch, b.sketch) == 1.0
    assert len(a.bands) == BANDS


def test_syndicated_copy_estimates_high_similarity() -> None:
    paragraphs = story(2)
    a = fingerprint(text(paragraphs))
    b = fingerprint(syndicated(paragraphs))
    assert sketch_similarity(a.sketch, b.sketch) > 0.6
    assert set(a.bands) & set(b.bands)


def test_different_stories_estimate_low_similarity() -> None:
    a = fingerprint(text(story(3)))
    b = fingerprint(text(story(4)))
    assert sketch_similarity(a.sketch, b.sketch) < 0.3
    assert not set(a.bands) & set(b.bands)


def test_content_hash_does_not_depend_on_the_process() -> None:
    # Workers compare hashes made in other processes: no per-process seed may
    # leak in (the value was computed once, under another PYTHONHASHSEED).
    assert fingerprint("the same text every time").content_hash.hex() == "2b400a9464c6749e"
