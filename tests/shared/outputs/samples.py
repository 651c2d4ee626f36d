"""Committed events and outputs for the outputs and deliverer tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from shared.outputs.model import Filters, Output, OutputKind, OutputSpec, new_output
from shared.pipeline.events import Article, ArticleCommitted, CommitKind

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def article(n: int = 1, *, lang: str | None = "en", feed: str = "feed1") -> Article:
    return Article(
        article_id=f"art{n}",
        feed_id=feed,
        feed_url=f"https://{feed}.example/rss",
        url=f"https://{feed}.example/{n}",
        title=f"Title {n}",
        language=lang,
        text=f"Text of article {n}.",
        fetched_at=NOW,
    )


def committed(
    n: int = 1,
    *,
    kind: CommitKind = CommitKind.NEW,
    version: int = 1,
    lang: str | None = "en",
    feed: str = "feed1",
    at: datetime = NOW,
) -> ArticleCommitted:
    return ArticleCommitted(
        kind=kind,
        cursor=f"c{n:06d}",
        article_id=f"art{n}",
        cluster_id=f"art{n}",
        version=version,
        committed_at=at,
        article=None if kind is CommitKind.DELETE else article(n, lang=lang, feed=feed),
    )


def make_output(
    *,
    kind: OutputKind,
    url: str,
    output_id: str = "o1",
    created_at: datetime = NOW,
    allow_private_networks: bool = False,
    secret: str | None = None,
    **spec: Any,
) -> Output:
    """``new_output`` of a spec with these fields (the secret as plain text)."""
    return new_output(
        OutputSpec(
            kind=kind, url=url, secret=SecretStr(secret) if secret is not None else None, **spec
        ),
        output_id=output_id,
        created_at=created_at,
        allow_private_networks=allow_private_networks,
    )


def webhook(
    url: str = "https://hooks.example/in", *, filters: list[str] | None = None, **kw: Any
) -> Output:
    return make_output(kind=OutputKind.WEBHOOK, url=url, filters=Filters.parse(filters or []), **kw)
