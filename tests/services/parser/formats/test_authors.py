"""Co-authors that the fast parser drops are read back (services/parser/authors.py)."""

from services.parser.formats import parse_document
from services.parser.formats.authors import entry_authors, may_have_coauthors

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Gazette</title><id>urn:g</id><author><name>Desk</name></author>
  <entry><id>urn:1</id><title>Ferry</title><link href="https://g.example/1"/>
    <author><name>Ann Lee</name></author><author><name>Bo Chen</name></author>
    <content type="html">text</content></entry>
  <entry><id>urn:2</id><title>Port</title><link href="https://g.example/2"/>
    <author><name>Cy Diaz</name></author>
    <source><id>urn:other</id><author><name>Other Feed Desk</name></author></source>
    <content type="html">text</content></entry>
</feed>"""

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
  <title>Gazette</title><link>https://g.example/</link>
  <item><title>Ferry</title><link>https://g.example/1</link>
    <dc:creator>Ann Lee</dc:creator><dc:creator>Bo Chen</dc:creator></item>
  <item><title>Port</title><link>https://g.example/2</link><dc:creator>Cy Diaz</dc:creator></item>
</channel></rss>"""

SINGLE = b"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>G</title><item><title>A</title><link>https://g.example/a</link>
<dc:creator>Ann Lee</dc:creator></item></channel></rss>"""


def test_atom_entry_keeps_every_author() -> None:
    feed = parse_document(ATOM, content_type="application/atom+xml")
    assert [e.authors for e in feed.entries] == [["Ann Lee", "Bo Chen"], ["Cy Diaz"]]


def test_rss_item_keeps_every_dc_creator() -> None:
    feed = parse_document(RSS, content_type="application/rss+xml")
    assert [e.authors for e in feed.entries] == [["Ann Lee", "Bo Chen"], ["Cy Diaz"]]


def test_authors_of_a_copied_source_are_not_the_entrys() -> None:
    assert entry_authors(ATOM)[1] == ["Cy Diaz"]


def test_one_author_per_entry_needs_no_second_pass() -> None:
    assert may_have_coauthors(SINGLE.decode(), entries=1) is False
    assert may_have_coauthors(RSS.decode(), entries=2) is True
