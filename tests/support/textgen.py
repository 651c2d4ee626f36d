"""Synthetic article texts from a seeded vocabulary.

Every text is generated from an RNG key (for the load site: ``(seed, feed,
generation)``) so a site never stores them, the baseline and feedpipe see the
same bytes, and every text is distinct (random word sequences never share the
5-word shingles a near-duplicate detector looks at) and carries the unique
token it is given. Function words are frequent so language detection sees
English.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tests.support.articles import Text

FUNCTION_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "who",
    "will",
    "more",
    "no",
    "if",
    "out",
    "so",
    "said",
    "what",
    "up",
    "its",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "new",
]
CONTENT_WORDS = [
    "river",
    "market",
    "council",
    "harbour",
    "winter",
    "budget",
    "school",
    "railway",
    "festival",
    "museum",
    "election",
    "forest",
    "energy",
    "bridge",
    "vaccine",
    "theatre",
    "drought",
    "satellite",
    "archive",
    "ferry",
    "orchard",
    "glacier",
    "tariff",
    "library",
    "stadium",
    "reactor",
    "vineyard",
    "canal",
    "parliament",
    "summit",
    "lighthouse",
    "startup",
    "mining",
    "coastline",
    "refinery",
    "pension",
    "monsoon",
    "carnival",
    "bakery",
    "telescope",
    "cathedral",
    "pipeline",
    "airport",
    "quarry",
    "highway",
    "laboratory",
    "factory",
    "garden",
    "minister",
    "report",
    "village",
    "police",
    "court",
    "weather",
    "company",
    "price",
    "union",
    "hospital",
    "water",
    "street",
    "children",
    "teacher",
    "farmer",
    "island",
]
_SYLLABLES = ("ka", "lo", "mer", "tin", "sa", "ven", "dor", "pi", "rus", "ol", "mar", "ter")


def _vocabulary() -> np.ndarray:
    coined = ["".join(p) for p in itertools.product(_SYLLABLES, repeat=3)]  # 1,728 rare words
    # Weighted by repetition: function words ~40 %, content words ~30 %, coined ~30 %.
    words = FUNCTION_WORDS * 25 + CONTENT_WORDS * 12 + coined
    return np.array(words, dtype=object)


VOCAB = _vocabulary()


def token_for(feed: int, generation: int, index: int) -> str:
    """The token of article ``index`` of a load-site feed generation."""
    return f"zq{feed}g{generation}n{index}"


def generate_texts(
    key: Sequence[int], tokens: Sequence[str], *, words: int, paragraphs: int = 5
) -> list[Text]:
    """One text per token, drawn from one RNG seeded with ``key`` (seeding costs
    more than drawing): a 6-word title ending in the token, ``words`` words in
    ``paragraphs`` paragraphs with the token a third of the way in."""
    rng = np.random.default_rng(tuple(key))
    picks = VOCAB[rng.integers(0, len(VOCAB), size=(len(tokens), words + 6))].tolist()
    out = []
    for token, row in zip(tokens, picks, strict=True):
        title_words, body = row[:6], row[6:]
        body.insert(len(body) // 3, token)
        per = max(len(body) // paragraphs, 1)
        paras = tuple(
            " ".join(body[i : i + per]).capitalize() + "." for i in range(0, len(body), per)
        )
        title = " ".join(title_words).capitalize() + f" {token}"
        out.append(Text(title, paras, language="en"))
    return out


def generate_batch(
    *, seed: int, feed: int, generation: int, count: int, words: int, paragraphs: int = 5
) -> list[Text]:
    """The ``count`` texts of one load-site feed generation."""
    tokens = [token_for(feed, generation, index) for index in range(count)]
    return generate_texts((seed, feed, generation), tokens, words=words, paragraphs=paragraphs)


@dataclass(frozen=True, slots=True)
class SyntheticText:
    """The default text source of a feed site: ``words`` words in ``paragraphs``
    paragraphs per article, a different text for every (seed, key, token)."""

    seed: int = 7
    words: int = 130
    paragraphs: int = 4

    def texts(self, key: str, tokens: Sequence[str]) -> list[Text]:
        rng_key = (self.seed, zlib.crc32(key.encode()))
        return generate_texts(rng_key, tokens, words=self.words, paragraphs=self.paragraphs)
