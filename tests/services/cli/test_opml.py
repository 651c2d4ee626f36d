"""OPML import/export: nested outlines are categories, and survive a round trip."""

from __future__ import annotations

import pytest

from services.cli.opml import OpmlError, OpmlFeed, parse_opml, render_opml
from shared.feeds import Feed

NESTED = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="News">
    <outline text="France">
      <outline type="rss" text="Le Monde" title="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"
               htmlUrl="https://www.lemonde.fr/"/>
    </outline>
    <outline type="rss" text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
  </outline>
  <outline type="rss" text="Loose" xmlUrl="https://loose.example/feed"/>
  <outline type="rss" text="Tagged" xmlUrl="https://tagged.example/feed" category="/Tech/AI,Misc"/>
  <outline type="rss" text="Again" xmlUrl="https://loose.example/feed"/>
</body></opml>"""


def test_nested_outlines_become_category_paths() -> None:
    feeds = {f.url: f for f in parse_opml(NESTED)}
    assert feeds["https://www.lemonde.fr/rss/une.xml"] == OpmlFeed(
        url="https://www.lemonde.fr/rss/une.xml",
        title="Le Monde",
        category="News/France",
        site_url="https://www.lemonde.fr/",
    )
    assert feeds["https://feeds.bbci.co.uk/news/rss.xml"].category == "News"
    assert feeds["https://loose.example/feed"].category is None


def test_category_attribute_is_used_outside_folders() -> None:
    feeds = {f.url: f for f in parse_opml(NESTED)}
    assert feeds["https://tagged.example/feed"].category == "Tech/AI"


def test_each_url_is_returned_once_in_document_order() -> None:
    urls = [f.url for f in parse_opml(NESTED)]
    assert urls == [
        "https://www.lemonde.fr/rss/une.xml",
        "https://feeds.bbci.co.uk/news/rss.xml",
        "https://loose.example/feed",
        "https://tagged.example/feed",
    ]


def test_entities_are_not_expanded() -> None:
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://a.example/feed"/></body></opml>"""
    (feed,) = parse_opml(doc)
    assert "root:" not in (feed.title or "")


def test_non_opml_is_rejected() -> None:
    with pytest.raises(OpmlError):
        parse_opml(b"<rss><channel/></rss>")


def test_export_round_trips_categories() -> None:
    feeds = [
        Feed(
            feed_id="1",
            url="https://a.example/feed",
            title="A",
            category="News/France",
            site_url="https://a.example/",
        ),
        Feed(feed_id="2", url="https://b.example/feed", title="B", category="News"),
        Feed(feed_id="3", url="https://c.example/feed"),
    ]
    back = {f.url: f for f in parse_opml(render_opml(feeds, title="feedpipe"))}
    assert back["https://a.example/feed"] == OpmlFeed(
        url="https://a.example/feed",
        title="A",
        category="News/France",
        site_url="https://a.example/",
    )
    assert back["https://b.example/feed"].category == "News"
    assert back["https://c.example/feed"].category is None


def test_export_nests_outlines() -> None:
    feeds = [Feed(feed_id="1", url="https://a.example/feed", title="A", category="News/France")]
    doc = render_opml(feeds, title="feedpipe")
    assert doc.startswith(b"<?xml")
    assert b'<outline text="News" title="News">' in doc
    assert b'<outline text="France" title="France">' in doc
    assert b"<title>feedpipe</title>" in doc
