"""Deterministic article texts and events for the deduplicator tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.parser.urls import article_id_for
from shared.pipeline.events import Article, ArticleParsed

VOCABULARY = """
the council city river bridge minister report budget school police market energy storm village
court election farmers hospital strike vote union museum festival railway airport harbour mayor
judge trial season team coach league prices housing tenants rent water drought flood wildfire
forest mountain valley coast island fishing ferry tunnel highway protest students teachers nurses
doctors patients vaccine research university science climate carbon solar wind turbine factory
workers wages jobs exports imports bank loans inflation rates growth recession tourism hotel
restaurant chef wine harvest cattle grain
"""
WORDS = VOCABULARY.split()


def paragraph(rng: random.Random, words: int) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    return body[0].upper() + body[1:] + "."


def story(seed: int, *, paragraphs: int = 8, words: int = 45) -> list[str]:
    rng = random.Random(seed)
    return [paragraph(rng, words) for _ in range(paragraphs)]


def text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def syndicated(paragraphs: list[str], *, drop: int = 3) -> str:
    """A copy as another site runs it: one paragraph cut, a credit line added."""
    kept = [p for i, p in enumerate(paragraphs) if i != drop]
    return text([*kept, "This story was first published by the Example Wire agency."])


def parsed(
    body: str,
    *,
    url: str | None = "https://news.example.org/a/1",
    feed_id: str = "feed-1",
    guid: str | None = None,
    title: str = "A story",
    html: str = "",
) -> ArticleParsed:
    return ArticleParsed(
        article=Article(
            article_id=article_id_for(url=url, feed_id=feed_id, guid=guid),
            feed_id=feed_id,
            feed_url=f"https://{feed_id}.example.org/feed.xml",
            url=url,
            guid=guid,
            title=title,
            text=body,
            content_html=html,
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
