from datetime import UTC, datetime
from typing import Any

import pytest

from services.parser.extract import PageContent
from services.parser.formats import ParsedFeed, RawEntry
from services.parser.normalize import build_article, clean_title, entry_content, needs_page
from services.parser.urls import article_id_for

FETCHED = datetime(2025, 6, 10, tzinfo=UTC)
FEED = ParsedFeed(format="rss2.0", parser="fastfeedparser", title="Example News", language="en")


def build(entry: RawEntry, *, feed: ParsedFeed = FEED, page: PageContent | None = None):
    return build_article(
        entry,
        feed=feed,
        feed_id="feed1",
        feed_url="https://news.example.com/rss",
        base_url="https://news.example.com/rss",
        fetched_at=FETCHED,
        page=page,
    )


def page(**kw) -> PageContent:
    values: dict[str, Any] = dict(
        text="Full article text.\nSecond paragraph.",
        html="<p>Full article text.</p><p>Second paragraph.</p>",
        canonical_url=None,
        title=None,
        site_name=None,
        published=None,
        language=None,
        authors=[],
        url="https://x.org/a/1",
    )
    values.update(kw)
    return PageContent(**values)


def test_url_is_canonical_and_resolved():
    article = build(RawEntry(link="/a/1?utm_source=rss#top", title="t"))
    assert article.url == "https://news.example.com/a/1"


def test_article_id_from_canonical_url():
    article = build(RawEntry(link="https://News.example.com/a/1?fbclid=x", guid="g"))
    assert article.article_id == article_id_for(
        url="https://news.example.com/a/1", feed_id="x", guid=None
    )


def test_article_id_from_guid_without_link():
    article = build(RawEntry(guid="tag:example.com,2025:1", title="t"))
    assert article.url is None
    assert article.article_id == article_id_for(
        url=None, feed_id="feed1", guid="tag:example.com,2025:1"
    )


def test_permalink_guid_is_used_as_url():
    article = build(RawEntry(guid="https://news.example.com/p/9", title="t"))
    assert article.url == "https://news.example.com/p/9"


def test_entry_without_link_or_guid_gets_stable_id():
    entry = RawEntry(title="Same", summary_html="words")
    assert build(entry).article_id == build(RawEntry(title="Same", summary_html="words")).article_id


def test_published_date_first():
    article = build(
        RawEntry(
            link="https://x.org/1",
            published=datetime(2025, 1, 1, tzinfo=UTC),
            updated=datetime(2025, 1, 2, tzinfo=UTC),
        )
    )
    assert article.published_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert article.date_source == "published"


def test_updated_date_when_no_published():
    article = build(RawEntry(link="https://x.org/1", updated=datetime(2025, 1, 2, tzinfo=UTC)))
    assert article.published_at == datetime(2025, 1, 2, tzinfo=UTC)
    assert article.date_source == "updated"


def test_page_date_when_feed_has_none():
    when = datetime(2024, 5, 5, tzinfo=UTC)
    article = build(RawEntry(link="https://x.org/1"), page=page(published=when))
    assert article.published_at == when
    assert article.date_source == "page"


def test_missing_date_is_not_invented():
    article = build(RawEntry(link="https://x.org/1"))
    assert article.published_at is None
    assert article.date_source == "missing"


def test_content_is_sanitised_and_text_extracted():
    article = build(
        RawEntry(
            link="https://x.org/1",
            content_html='<p>Body <script>x()</script><a href="/rel">link</a></p><p>Two</p>',
            summary_html="<p>Teaser &amp; more</p>",
        )
    )
    assert "<script" not in article.content_html
    assert 'href="https://x.org/rel"' in article.content_html
    assert article.text == "Body link\nTwo"
    assert article.summary == "Teaser & more"
    assert article.content_source == "feed"


def test_page_content_replaces_feed_teaser():
    article = build(
        RawEntry(link="https://x.org/1", summary_html="Teaser"),
        page=page(canonical_url="https://x.org/canonical?utm_medium=x"),
    )
    assert article.content_source == "page"
    assert article.text.startswith("Full article text.")
    assert article.url == "https://x.org/canonical"
    assert article.summary == "Teaser"


def test_title_markup_removed():
    assert build(RawEntry(link="https://x.org/1", title="Hello <em>world</em>")).title == (
        "Hello world"
    )


def test_language_declared_by_feed():
    assert build(RawEntry(link="https://x.org/1", title="t")).language == "en"


def test_language_of_entry_beats_feed():
    assert build(RawEntry(link="https://x.org/1", language="fr-CA")).language == "fr"


def test_language_detected_when_undeclared():
    feed = ParsedFeed(format="rss2.0", parser="fastfeedparser")
    entry = RawEntry(
        link="https://x.org/1",
        title="La réforme des retraites",
        content_html="<p>Le gouvernement a présenté mercredi un projet de loi sur la retraite.</p>",
    )
    assert build(entry, feed=feed).language == "fr"


def test_enclosures_resolved():
    from services.parser.formats import RawEnclosure

    article = build(
        RawEntry(link="https://x.org/a/1", enclosures=[RawEnclosure(url="../m.mp3", type="audio")])
    )
    assert article.enclosures[0].url == "https://x.org/m.mp3"


@pytest.mark.parametrize(
    ("title", "sites", "expected"),
    [
        ("Big story - Example News", ["Example News"], "Big story"),
        ("Big story | Example News", ["Example News"], "Big story"),
        ("Big story — example news", ["Example News"], "Big story"),
        ("Example News: Big story", ["Example News"], "Big story"),
        ("Big story - Other Site", ["Example News"], "Big story - Other Site"),
        ("Spider-Man returns - a review", ["Example News"], "Spider-Man returns - a review"),
        ("Example News", ["Example News"], "Example News"),
        ("Big story | Le Monde", [None, "Le Monde"], "Big story"),
    ],
)
def test_clean_title(title, sites, expected):
    assert clean_title(title, sites) == expected


def test_site_suffix_removed_using_page_site_name():
    entry = RawEntry(link="https://x.org/1", title="Story | The Daily")
    article = build(entry, page=page(site_name="The Daily"))
    assert article.title == "Story"


def test_needs_page_for_short_text_only():
    assert needs_page("short teaser")
    assert not needs_page("word " * 100)


def test_canonical_pointing_at_home_page_is_ignored():
    article = build(
        RawEntry(link="https://x.org/2025/story", summary_html="Teaser"),
        page=page(canonical_url="https://x.org/"),
    )
    assert article.url == "https://x.org/2025/story"


def test_content_made_before_the_page_gives_the_same_article_when_the_page_moves_it():
    # Escaped markup stays text, and its href is still resolved against the
    # article URL: a canonical URL from the page changes the summary's text.
    entry = RawEntry(
        link="https://x.org/a/1", summary_html='See &lt;a href="/more"&gt;this&lt;/a&gt; story.'
    )
    moved = page(canonical_url="https://www.x.org/b/2")
    early = entry_content(entry, link_base="https://x.org/a/1")
    article = build_article(
        entry,
        feed=FEED,
        feed_id="feed1",
        feed_url="https://news.example.com/rss",
        base_url="https://news.example.com/rss",
        fetched_at=FETCHED,
        page=moved,
        content=early,
    )
    assert article == build(entry, page=moved)
    assert "https://www.x.org/more" in article.summary


def test_canonical_on_another_site_is_refused_and_recorded():
    article = build(
        RawEntry(link="https://x.org/2025/story", summary_html="Teaser"),
        page=page(url="https://x.org/2025/story", canonical_url="https://y.org/their/story"),
    )
    assert article.url == "https://x.org/2025/story"
    assert article.article_id == article_id_for(url=article.url, feed_id="", guid=None)
    assert article.claimed_canonical_url == "https://y.org/their/story"
    assert article.content_source == "page"


def test_canonical_on_another_host_of_the_same_site_is_honoured():
    article = build(
        RawEntry(link="https://x.org/2025/story?utm_source=rss"),
        page=page(url="https://x.org/2025/story", canonical_url="https://www.x.org/2025/story"),
    )
    assert article.url == "https://www.x.org/2025/story"
    assert article.claimed_canonical_url is None


def test_canonical_is_judged_against_the_url_the_page_was_fetched_from():
    # The feed links through a redirector; the fetch ended on the publisher's
    # site, whose page names itself.
    article = build(
        RawEntry(link="https://feeds.redirector.example/~r/x/123"),
        page=page(url="https://www.x.org/2025/story", canonical_url="https://x.org/2025/story"),
    )
    assert article.url == "https://x.org/2025/story"


def test_canonical_on_a_sibling_private_suffix_site_is_refused():
    article = build(
        RawEntry(link="https://alice.github.io/post"),
        page=page(url="https://alice.github.io/post", canonical_url="https://bob.github.io/post"),
    )
    assert article.url == "https://alice.github.io/post"
    assert article.claimed_canonical_url == "https://bob.github.io/post"


def test_pinned_url_keeps_the_article_where_it_was_published():
    article = build_article(
        RawEntry(link="https://x.org/2025/story", summary_html="Teaser"),
        feed=FEED,
        feed_id="feed1",
        feed_url="https://news.example.com/rss",
        base_url="https://news.example.com/rss",
        fetched_at=FETCHED,
        page=page(url="https://x.org/2025/story", canonical_url="https://x.org/2025/moved"),
        pinned_url="https://x.org/2025/story",
    )
    assert article.url == "https://x.org/2025/story"
    assert article.content_source == "page"


@pytest.mark.parametrize(
    "head",
    [
        '<link rel="canonical" href="https://other.example/taken">',
        '<meta property="og:url" content="https://other.example/taken">',
    ],
)
def test_foreign_canonical_of_a_real_page_is_refused(head):
    from services.parser.extract import extract_page
    from tests.services.parser.pages import article_page

    html = article_page(canonical="https://gazette.example/2025/lighthouse").replace(
        '<link rel="canonical" href="https://gazette.example/2025/lighthouse">', head
    )
    extracted = extract_page(html, url="https://gazette.example/2025/lighthouse")
    assert extracted is not None
    article = build(RawEntry(link="https://gazette.example/2025/lighthouse"), page=extracted)
    assert article.url == "https://gazette.example/2025/lighthouse"
    assert article.claimed_canonical_url == "https://other.example/taken"
