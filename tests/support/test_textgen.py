"""Synthetic texts (tests.support.textgen)."""

from __future__ import annotations

from tests.support.textgen import SyntheticText, generate_batch


def test_generations_are_distinct_and_carry_their_token() -> None:
    first = generate_batch(seed=1, feed=3, generation=0, count=2, words=50)
    second = generate_batch(seed=1, feed=3, generation=1, count=2, words=50)
    assert first[0].paragraphs != second[0].paragraphs
    assert "zq3g0n1" in " ".join(first[1].paragraphs)
    assert generate_batch(seed=1, feed=3, generation=0, count=2, words=50) == first


def test_synthetic_texts_differ_by_key_and_by_seed() -> None:
    one = SyntheticText(seed=1).texts("a", ["zqa"])[0]
    assert SyntheticText(seed=1).texts("b", ["zqa"])[0] != one
    assert SyntheticText(seed=2).texts("a", ["zqa"])[0] != one
    assert SyntheticText(seed=1).texts("a", ["zqa"])[0] == one
