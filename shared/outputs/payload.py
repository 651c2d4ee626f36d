"""What receivers get: one JSON item per committed event, and webhook bodies
that batch items (pure; no I/O).

An item is the :class:`~shared.pipeline.events.ArticleCommitted` event with its
idempotency key in front and without the event id (which differs on every
re-publication of the same commit, unlike the key)::

    {"schema_version": 1, "idempotency_key": "<article_id>:<version>",
     "kind": "new", "cursor": "...", "article_id": "...", "cluster_id": "...",
     "version": 1, "committed_at": "2026-11-01T12:00:00Z", "article": {...}}

A webhook body carries a batch of items::

    {"delivery_id": "...", "output_id": "...", "test": false, "items": [item, ...]}

RabbitMQ and NATS messages carry one item each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from shared.pipeline.events import Article, ArticleCommitted, CommitKind

_NOT_IN_ITEM = {"event_id"}


def encode_item(event: ArticleCommitted) -> bytes:
    data = event.model_dump(mode="json", exclude=_NOT_IN_ITEM)
    return orjson.dumps(
        {"schema_version": data.pop("schema_version"), "idempotency_key": event.delivery_key} | data
    )


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


def webhook_body(
    items: Sequence[bytes], *, delivery_id: str, output_id: str, test: bool = False
) -> bytes:
    """The body of one POST. Items are spliced in as the bytes
    :func:`encode_item` made (each is measured once for :func:`split_by_size`
    and never encoded again)."""
    head = orjson.dumps({"delivery_id": delivery_id, "output_id": output_id, "test": test})
    return head[:-1] + b',"items":[' + b",".join(items) + b"]}"


def split_by_size(sizes: Sequence[int], *, max_bytes: int) -> list[range]:
    """Consecutive runs of items whose bodies stay within ``max_bytes``
    (an item larger than that goes alone)."""
    runs: list[range] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        cost = size + 1  # the comma
        if index > start and total + cost > max_bytes:
            runs.append(range(start, index))
            start, total = index, 0
        total += cost
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


def sample_event(now: datetime | None = None) -> ArticleCommitted:
    """The event ``feedpipe outputs test`` sends (its body says ``"test": true``)."""
    now = now or datetime.now(UTC)
    article = Article(
        article_id="feedpipe-test",
        feed_id="feedpipe-test",
        feed_url="https://example.org/feed.xml",
        url="https://example.org/feedpipe-test",
        title="feedpipe test delivery",
        language="en",
        summary="A sample article sent by `feedpipe outputs test`.",
        text="A sample article sent by `feedpipe outputs test`.",
        published_at=now,
        fetched_at=now,
    )
    return ArticleCommitted(
        kind=CommitKind.NEW,
        cursor="test",
        article_id=article.article_id,
        cluster_id=article.article_id,
        version=1,
        committed_at=now,
        article=article,
    )
