"""What a feed site serves: article texts and the articles made of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Text:
    """An article's words, before a site gives it a place and a date."""

    title: str
    paragraphs: tuple[str, ...]
    language: str | None = None  # what the text is written in, when known
    source: str | None = None  # real texts: the URL of the page they were taken from


class TextSource(Protocol):
    """Hands out texts, each carrying the token it is given somewhere in its words."""

    def texts(self, key: str, tokens: Sequence[str]) -> list[Text]: ...


@dataclass(frozen=True, slots=True)
class Article:
    """One article of a feed site: entries link to ``/articles/<slug>``."""

    slug: str
    token: str  # a word found in this article only: what tests search for
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    language: str | None = None
    source: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def summary(self) -> str:
        """What a summary-only entry carries: the first 80 characters."""
        return self.paragraphs[0][:80]

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)
