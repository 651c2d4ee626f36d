"""JSON Feed 1.0 and 1.1 through the JSON Feed adapter."""

import json
from datetime import UTC, datetime

import pytest

from services.parser.formats import FeedParseError, parse_document

JSON11 = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON Site",
        "home_page_url": "https://json.example.net/",
        "language": "en",
        "authors": [{"name": "Feed Author"}],
        "items": [
            {
                "id": "1",
                "url": "https://json.example.net/1",
                "title": "JSON one",
                "content_html": "<p>Hi</p>",
                "summary": "Sum",
                "date_published": "2025-03-01T10:00:00+02:00",
                "authors": [{"name": "X"}, {"name": "Y"}],
                "tags": ["a", "b"],
                "language": "fr",
                "attachments": [
                    {"url": "https://json.example.net/1.mp3", "mime_type": "audio/mpeg"}
                ],
            },
            {"id": "2", "content_text": "Plain\n\ntext", "url": "https://json.example.net/2"},
        ],
    }
).encode()


JSON10 = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1",
        "title": "J1",
        "author": {"name": "Solo"},
        "items": [{"id": "a", "url": "https://j1.example/a", "content_text": "x"}],
    }
).encode()


def test_json_feed_11():
    feed = parse_document(JSON11, content_type="application/feed+json")
    assert (feed.format, feed.parser) == ("json1.1", "jsonfeed")
    first, second = feed.entries
    assert first.authors == ["X", "Y"]
    assert first.language == "fr"
    assert first.categories == ["a", "b"]
    assert first.published == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert first.enclosures[0].url == "https://json.example.net/1.mp3"
    assert second.authors == ["Feed Author"]
    assert second.content_html == "<p>Plain</p><p>text</p>"


def test_json_feed_10_singular_author():
    feed = parse_document(JSON10)
    assert feed.format == "json1.0"
    assert feed.entries[0].authors == ["Solo"]


def test_json_feed_bad_item_keeps_good_ones():
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [7, {"id": "ok"}]})
    feed = parse_document(doc.encode())
    assert [e.guid for e in feed.entries] == ["ok"]
    assert feed.entry_errors == 1


def test_invalid_json():
    with pytest.raises(FeedParseError) as exc:
        parse_document(b'{"items": [')
    assert exc.value.reason == "malformed"
