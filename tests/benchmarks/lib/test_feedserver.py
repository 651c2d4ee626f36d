from __future__ import annotations

from benchmarks.lib.feedserver import FeedSite, SiteConfig
from benchmarks.lib.textgen import generate_batch


def test_generations_are_distinct_and_carry_their_token() -> None:
    first = generate_batch(seed=1, feed=3, generation=0, count=2, words=50)
    second = generate_batch(seed=1, feed=3, generation=1, count=2, words=50)
    assert first[0].paragraphs != second[0].paragraphs
    assert first[1].token in " ".join(first[1].paragraphs)
    assert generate_batch(seed=1, feed=3, generation=0, count=2, words=50) == first


def test_full_mode_entries_carry_a_summary_and_pages_the_text() -> None:
    site = FeedSite(SiteConfig(feeds=3, entries=2, mode="full", words=60, page_kb=10))
    body, _ = site.render(0, 0)
    article = site.articles(0, 0)[0]
    assert article.paragraphs[2] not in body.decode()
    page = site.page(article).decode()
    assert article.paragraphs[2] in page
    assert "Recent Posts" in page
