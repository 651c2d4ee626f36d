"""What the deduplicator decides and how strict it is: pure, no I/O.

Cluster rule: the first article of a story that reaches the deduplicator is
its canonical article (``kind=new``, ``cluster_id`` = its own id); every later
copy links to the cluster of the article it matched, and that article's record
already names the canonical one, so a copy of a copy joins the same cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from shared.pipeline.events import UniqueKind

DuplicateReason = Literal["url", "guid", "content", "near"]


class Decision(StrEnum):
    """One-letter codes shared with ``dedup.lua``."""

    NEW = "N"
    UPDATE = "U"
    DUP_GUID = "G"
    DUP_CONTENT = "C"
    DUP_NEAR = "R"
    DUP_URL = "L"  # same canonical URL from another feed: the index has it already
    UNCHANGED = "S"  # seen before, same content: nothing to do
    DUP_CHANGED = "X"  # a known duplicate's text changed: it stays a duplicate


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to emit (``kind`` None: nothing) and which counter to bump."""

    kind: UniqueKind | None
    reason: DuplicateReason | None


OUTCOMES: dict[Decision, Outcome] = {
    Decision.NEW: Outcome(UniqueKind.NEW, None),
    Decision.UPDATE: Outcome(UniqueKind.UPDATE, None),
    Decision.DUP_GUID: Outcome(UniqueKind.DUPLICATE, "guid"),
    Decision.DUP_CONTENT: Outcome(UniqueKind.DUPLICATE, "content"),
    Decision.DUP_NEAR: Outcome(UniqueKind.DUPLICATE, "near"),
    # The article id is the hash of the canonical URL, so a second feed carrying
    # the same URL names an article the index already holds under that very id:
    # a duplicate event would only list the URL as its own duplicate.
    Decision.DUP_URL: Outcome(None, "url"),
    Decision.UNCHANGED: Outcome(None, None),
    Decision.DUP_CHANGED: Outcome(None, None),
}


@dataclass(frozen=True, slots=True)
class Strictness:
    """How much text it takes to call two different texts the same story.

    Similarity is the estimated Jaccard similarity of the word 5-shingle sets of
    the two main texts or, when the smaller text has at least
    ``containment_ratio`` of the larger one's shingles, the estimated share of
    the smaller text found in the larger (a copy with a paragraph cut is
    contained in its original). The shorter text of the pair sets the tier,
    because a shared template sentence weighs most in a short text.
    """

    min_tokens: int = 8  # below: no content dedup at all ("Read more…", empty)
    exact_below: int = 50  # below: only the exact same normalised text
    strict_below: int = 150  # below: near duplicates need ``strict_similarity``
    strict_similarity: float = 0.6
    similarity: float = 0.5
    containment_ratio: float = 0.4


DEFAULT_STRICTNESS = Strictness()
