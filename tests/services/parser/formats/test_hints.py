"""Format sniffing and poll-interval hints read from a document's head."""

import pytest

from services.parser.formats.hints import feed_ttl_seconds, sniff_format


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('<rss version="2.0">', "rss2.0"),
        ('<rss version="0.92">', "rss0.9x"),
        ('<rdf:RDF xmlns="http://purl.org/rss/1.0/">', "rss1.0"),
        ('<rdf:RDF xmlns="http://my.netscape.com/rdf/simple/0.9/">', "rss0.9x"),
        ('<feed xmlns="http://www.w3.org/2005/Atom">', "atom1.0"),
        ('<feed version="0.3" xmlns="http://purl.org/atom/ns#">', "atom0.3"),
        ('{"version": "https://jsonfeed.org/version/1.1"}', "json1.1"),
        ('{"version": "https://jsonfeed.org/version/1"}', "json1.0"),
        ("<html>", "unknown"),
    ],
)
def test_sniff_format(text, fmt):
    assert sniff_format('<?xml version="1.0"?>' + text if text.startswith("<") else text) == fmt


def test_syndication_period():
    text = "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
    assert feed_ttl_seconds(text) == 6 * 3600


def test_no_ttl_hint():
    assert feed_ttl_seconds("<rss></rss>") is None
