"""Events exchanged over the streams named in :mod:`shared.pipeline.streams`.

Every event carries ``schema_version``; a consumer refuses (dead-letters) a
version it does not know instead of guessing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1


def new_event_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class FullContent(StrEnum):
    """When the parser fetches an entry's page for its full text."""

    AUTO = "auto"  # only when the entry carries no substantial content
    ALWAYS = "always"
    NEVER = "never"


class _Event(BaseModel):
    model_config = ConfigDict(
        extra="forbid", ser_json_bytes="base64", val_json_bytes="base64", frozen=True
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id)


class FeedFetched(_Event):
    """poller -> parser: a feed document that changed since the last poll."""

    feed_id: str
    feed_url: str
    final_url: str = Field(description="URL after redirects; base for relative links.")
    fetched_at: datetime
    content_type: str | None = None
    body: bytes
    full_content: FullContent = FullContent.AUTO


class Enclosure(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    type: str | None = None
    length: int | None = None


class Article(BaseModel):
    """The canonical article, whatever feed format it came from."""

    model_config = ConfigDict(frozen=True)

    article_id: str = Field(description="Stable id derived from the canonical URL (or GUID).")
    feed_id: str
    feed_url: str
    url: str | None = Field(description="Canonical URL of the article page.")
    guid: str | None = None
    title: str = ""
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    published_at: datetime | None = Field(
        default=None, description="UTC; None when the feed gave no usable date."
    )
    updated_at: datetime | None = None
    date_source: Literal["published", "updated", "page", "missing"] = "missing"
    language: str | None = None
    summary: str = Field(default="", description="Plain-text summary from the feed.")
    content_html: str = Field(default="", description="Sanitised HTML.")
    text: str = Field(default="", description="Clean main text for indexing.")
    enclosures: list[Enclosure] = Field(default_factory=list)
    source_format: str = ""
    fetched_at: datetime
    content_source: Literal["feed", "page"] = "feed"
    claimed_canonical_url: str | None = Field(
        default=None,
        description="A canonical URL (rel=canonical or og:url) the article page declared on"
        " another registrable domain than the one it was fetched from: recorded, not honoured"
        " (the article keeps its feed link and the id derived from it).",
    )


class ArticleParsed(_Event):
    """parser -> deduplicator: one entry of a feed, normalised."""

    article: Article


class UniqueKind(StrEnum):
    NEW = "new"  # first time this story is seen
    UPDATE = "update"  # same article, changed content: replace the indexed text
    DUPLICATE = "duplicate"  # another source of an already indexed story


class ArticleUnique(_Event):
    """deduplicator -> indexer."""

    kind: UniqueKind
    article: Article
    cluster_id: str = Field(description="article_id of the story's canonical article.")
    duplicate_reason: Literal["url", "guid", "content", "near"] | None = None


class CommitKind(StrEnum):
    """What a commit did to the index (the public output contract, docs/EVENTS.md)."""

    NEW = "new"  # a story the index did not hold
    UPDATE = "update"  # an indexed article whose content changed
    DUPLICATE = "duplicate"  # another source of an indexed story, joined to its cluster
    DELETE = "delete"  # removed from the index (retention)


class ArticleCommitted(_Event):
    """indexer -> the committed stream, after the index commit: the public
    output contract that deliverers and external consumer groups read.

    Delivery is at least once: a receiver drops repeats by ``delivery_key``.
    """

    kind: CommitKind
    cursor: str = Field(
        description="Opaque position in the index's commit order; GET /articles?since=<cursor>"
        " continues right after it, and it is the SSE event id of GET /stream."
    )
    article_id: str
    cluster_id: str = Field(
        description="Id of the cluster's representative article at commit time"
        " (equal to article_id for a representative)."
    )
    version: int = Field(
        ge=1, description="Increments each time what the index holds for this article changes."
    )
    committed_at: datetime
    article: Article | None = Field(description="The article as indexed; None for delete.")

    @property
    def delivery_key(self) -> str:
        """The idempotency key of this delivery: article id and version."""
        return f"{self.article_id}:{self.version}"


class DeadLetter(BaseModel):
    """What a dead-letter stream entry holds besides the original payload."""

    stage: str
    stream: str
    entry_id: str
    error: str
    deliveries: int
    failed_at: datetime = Field(default_factory=utcnow)
    payload: str = Field(description="The original entry's data field, as text.")
