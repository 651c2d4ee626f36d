"""What the index returns: search pages, hits and full article records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field


class QuerySyntaxError(ValueError):
    """A user query the index cannot run (empty, too long); the API answers 400."""


class SearchHit(BaseModel):
    id: str
    url: str | None
    title: str
    snippet: str = Field(
        description="HTML-safe excerpt: text is escaped, matched words are wrapped in <mark>."
    )
    language: str | None
    published_at: datetime | None
    feed_url: str
    duplicates: int = Field(description="Other sources of the same story.")


class SearchPage(BaseModel):
    total: int
    hits: list[SearchHit]


class ArticleRecord(BaseModel):
    id: str
    url: str | None
    title: str
    text: str
    language: str | None
    published_at: datetime | None
    feed_url: str
    feed_id: str
    duplicate_urls: list[str]
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    fetched_at: datetime | None = None
    indexed_at: datetime | None = None


@dataclass(slots=True)
class IndexStats:
    """What one :meth:`Index.apply` changed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # replays: same article, same content
    duplicates: int = 0
