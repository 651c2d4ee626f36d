"""Deterministic article texts for the benchmark feed server.

Every article is generated from ``(seed, feed, generation, index)`` so the
server never stores them, the baseline and feedpipe see the same bytes, and
every article is distinct (random word sequences never share the 5-word
shingles a near-duplicate detector looks at) and carries a unique token.
Function words are frequent so language detection sees English.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True, slots=True)
class GenArticle:
    feed: int
    generation: int
    index: int
    title: str
    paragraphs: tuple[str, ...]

    @property
    def token(self) -> str:
        return token_for(self.feed, self.generation, self.index)

    @property
    def slug(self) -> str:
        return f"{self.feed}/{self.generation}/{self.index}"

    @property
    def summary(self) -> str:
        return self.paragraphs[0][:80]


def token_for(feed: int, generation: int, index: int) -> str:
    return f"zq{feed}g{generation}n{index}"


def generate_batch(
    *, seed: int, feed: int, generation: int, count: int, words: int, paragraphs: int = 5
) -> list[GenArticle]:
    """The ``count`` articles of one feed generation (one RNG for all: seeding
    costs more than drawing)."""
    rng = np.random.default_rng((seed, feed, generation))
    picks = VOCAB[rng.integers(0, len(VOCAB), size=(count, words + 6))].tolist()
    out = []
    for index, row in enumerate(picks):
        title_words, body = row[:6], row[6:]
        token = token_for(feed, generation, index)
        body.insert(len(body) // 3, token)
        per = max(len(body) // paragraphs, 1)
        paras = tuple(
            " ".join(body[i : i + per]).capitalize() + "." for i in range(0, len(body), per)
        )
        title = " ".join(title_words).capitalize() + f" {token}"
        out.append(GenArticle(feed, generation, index, title, paras))
    return out
