"""RSS and Atom through the XML adapter: fast path, tolerant fallback, entities."""

from datetime import UTC, datetime

from services.parser.formats import parse_document, xmlfeed

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel>
  <title>Example News</title><link>https://news.example.com/</link>
  <language>en-GB</language><ttl>45</ttl>
  <item>
    <title>First &amp; foremost</title>
    <link>https://news.example.com/a/1?utm_source=rss</link>
    <guid isPermaLink="false">post-1</guid>
    <description>&lt;p&gt;Teaser&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full <b>body</b> of the first story.</p>]]></content:encoded>
    <dc:creator>Jane Doe</dc:creator>
    <category>Politics</category><category>Europe</category>
    <pubDate>Tue, 03 Jun 2025 09:39:21 +0200</pubDate>
    <enclosure url="https://cdn.example.com/a.mp3" type="audio/mpeg" length="1234"/>
    <media:content url="https://cdn.example.com/a.jpg" medium="image"/>
  </item>
  <item>
    <title>Second</title><link>/a/2</link>
    <dc:date>2025-06-02T10:00:00Z</dc:date>
  </item>
</channel></rss>"""


RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://old.example.com/</link>
<item><title>Caf\xe9</title><link>http://old.example.com/1</link>
<description>Old school</description></item></channel></rss>"""


RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="http://rdf.example.com/"><title>RDF site</title>
  <link>http://rdf.example.com/</link><dc:language>fr</dc:language></channel>
 <item rdf:about="http://rdf.example.com/x">
  <title>Article RDF</title><link>http://rdf.example.com/x</link>
  <description>Un article</description>
  <dc:creator>Marie Curie</dc:creator><dc:date>2024-01-15T08:30:00+01:00</dc:date>
  <dc:subject>Science</dc:subject>
 </item>
</rdf:RDF>"""


ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
  <title>Atom Blog</title><link href="https://atom.example.org/" rel="alternate"/>
  <id>urn:uuid:feed</id><updated>2025-01-02T00:00:00Z</updated>
  <entry>
    <title type="html">Hello &lt;em&gt;world&lt;/em&gt;</title>
    <link rel="alternate" href="https://atom.example.org/hello"/>
    <id>urn:uuid:1</id>
    <published>2025-01-01T12:00:00-05:00</published>
    <updated>2025-01-02T12:00:00Z</updated>
    <author><name>A. Author</name></author><author><name>B. Author</name></author>
    <category term="tech"/>
    <summary>Short</summary>
    <content type="html">&lt;p&gt;Long content&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Only updated</title><id>urn:uuid:2</id>
    <link href="https://atom.example.org/two"/>
    <updated>2025-01-03T00:00:00Z</updated>
  </entry>
</feed>"""


ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Old Atom</title><link rel="alternate" type="text/html" href="http://a03.example.com/"/>
  <modified>2005-01-01T00:00:00Z</modified>
  <entry>
    <title>Atom 0.3 entry</title>
    <link rel="alternate" type="text/html" href="http://a03.example.com/1"/>
    <id>tag:a03.example.com,2005:1</id>
    <issued>2005-01-01T10:00:00Z</issued><modified>2005-01-01T11:00:00Z</modified>
    <author><name>Old Timer</name></author>
    <content type="text/html" mode="escaped">&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
</feed>"""


def test_rss20_entry_fields():
    feed = parse_document(RSS20)
    assert (feed.format, feed.parser) == ("rss2.0", "fastfeedparser")
    assert feed.title == "Example News"
    assert feed.site_url == "https://news.example.com/"
    assert feed.language == "en-GB"
    first = feed.entries[0]
    assert first.title == "First & foremost"
    assert first.guid == "post-1"
    assert "Full <b>body</b>" in first.content_html
    assert first.authors == ["Jane Doe"]
    assert first.categories == ["Politics", "Europe"]
    assert first.published == datetime(2025, 6, 3, 7, 39, 21, tzinfo=UTC)
    urls = {e.url: e for e in first.enclosures}
    assert urls["https://cdn.example.com/a.mp3"].type == "audio/mpeg"
    assert urls["https://cdn.example.com/a.mp3"].length == 1234
    assert "https://cdn.example.com/a.jpg" in urls


def test_rss20_dc_date():
    assert parse_document(RSS20).entries[1].published == datetime(2025, 6, 2, 10, tzinfo=UTC)


def test_rss20_ttl_is_reported_in_seconds():
    assert parse_document(RSS20).ttl_seconds == 45 * 60


def test_rss091_with_public_doctype_and_latin1():
    feed = parse_document(RSS091)
    assert feed.format == "rss0.9x"
    assert feed.entries[0].title == "Café"


def test_rss10_rdf():
    feed = parse_document(RSS10)
    assert feed.format == "rss1.0"
    entry = feed.entries[0]
    assert entry.title == "Article RDF"
    assert entry.link == "http://rdf.example.com/x"
    assert entry.authors == ["Marie Curie"]
    assert entry.published == datetime(2024, 1, 15, 7, 30, tzinfo=UTC)
    assert entry.categories == ["Science"]
    assert feed.language == "fr"


def test_atom10():
    feed = parse_document(ATOM10)
    assert feed.format == "atom1.0"
    entry = feed.entries[0]
    assert entry.link == "https://atom.example.org/hello"
    assert entry.published == datetime(2025, 1, 1, 17, tzinfo=UTC)
    assert entry.updated == datetime(2025, 1, 2, 12, tzinfo=UTC)
    # fastfeedparser keeps the first Atom author only (feedparser keeps all).
    assert entry.authors[0] == "A. Author"
    assert entry.categories == ["tech"]
    assert "Long content" in entry.content_html
    assert feed.language == "de"


def test_atom10_entry_with_only_updated_keeps_that_date():
    entry = parse_document(ATOM10).entries[1]
    # fastfeedparser reports <updated> as the published date when that is all there is.
    assert entry.updated == datetime(2025, 1, 3, tzinfo=UTC)
    assert entry.published in (None, entry.updated)


def test_tolerant_path_keeps_published_and_updated_apart(monkeypatch):
    monkeypatch.setattr(xmlfeed, "_parse_fast", lambda data: ({}, [], 0))
    entry = parse_document(ATOM10).entries[1]
    assert entry.published is None
    assert entry.updated == datetime(2025, 1, 3, tzinfo=UTC)


def test_atom03():
    feed = parse_document(ATOM03)
    assert feed.format == "atom0.3"
    entry = feed.entries[0]
    assert entry.link == "http://a03.example.com/1"
    assert entry.published == datetime(2005, 1, 1, 10, tzinfo=UTC)
    assert "Body" in entry.content_html


def test_bad_entry_keeps_good_ones(monkeypatch):
    real = xmlfeed._entry_from_mapping

    def flaky(entry, *, parsed_dates):
        if entry.get("title") == "Second":
            raise ValueError("boom")
        return real(entry, parsed_dates=parsed_dates)

    monkeypatch.setattr(xmlfeed, "_entry_from_mapping", flaky)
    feed = parse_document(RSS20)
    assert [e.title for e in feed.entries] == ["First & foremost"]
    assert feed.entry_errors == 1


def test_tolerant_fallback_when_fast_parser_fails(monkeypatch):
    def broken(data):
        raise ValueError("fast parser gave up")

    monkeypatch.setattr(xmlfeed, "_parse_fast", broken)
    feed = parse_document(RSS20)
    assert feed.parser == "feedparser"
    assert [e.title for e in feed.entries] == ["First & foremost", "Second"]
    assert feed.entries[0].published == datetime(2025, 6, 3, 7, 39, 21, tzinfo=UTC)


def test_tolerant_fallback_when_fast_parser_finds_nothing(monkeypatch):
    monkeypatch.setattr(xmlfeed, "_parse_fast", lambda data: ({}, [], 0))
    assert parse_document(ATOM10).parser == "feedparser"


def test_malformed_rss_is_still_read():
    broken = RSS20.replace(b"</channel></rss>", b"").replace(b"<p>Full", b"<p>Full & co")
    feed = parse_document(broken)
    assert len(feed.entries) == 2


def test_well_formed_document_is_not_flagged():
    assert parse_document(RSS20).recovered is None
    assert parse_document(ATOM10).recovered is None
    assert parse_document(b"\n\n  " + RSS20).recovered is None  # blank lines before the prolog


def test_truncated_document_keeps_its_entries_and_is_flagged():
    cut = RSS20[: RSS20.index(b"<dc:date>")]
    feed = parse_document(cut)
    assert [e.title for e in feed.entries] == ["First & foremost", "Second"]
    assert feed.recovered is not None
    assert feed.recovered.startswith("no element found at line")


def test_mismatched_tags_are_flagged_with_their_place():
    broken = RSS20.replace(b"<title>Second</title>", b"<title>Second</titel>")
    feed = parse_document(broken)
    assert feed.recovered == "mismatched tag at line 21, column 20"


def test_document_read_by_the_tolerant_parser_is_flagged_too(monkeypatch):
    def broken_fast(data):
        raise ValueError("fast parser gave up")

    monkeypatch.setattr(xmlfeed, "_parse_fast", broken_fast)
    feed = parse_document(RSS20.replace(b"First &amp; foremost", b"First & foremost"))
    assert feed.parser == "feedparser"
    assert feed.recovered == "not well-formed (invalid token) at line 9, column 19"


def _xxe_reading(path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>x&xxe;</title>'
        "<description>&xxe;</description><link>http://x.org/1</link></item></channel></rss>"
    ).encode()


def test_fast_parser_alone_never_resolves_external_entities(tmp_path):
    # Defence in depth: even without our guard, the library does not read the file.
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-1234")
    _, entries, _ = xmlfeed._parse_fast(_xxe_reading(secret))
    assert all("TOPSECRET" not in e.title + e.summary_html for e in entries)


def test_tolerant_parser_alone_never_resolves_external_entities(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-1234")
    _, entries, *_ = xmlfeed._parse_tolerant(_xxe_reading(secret))
    assert all("TOPSECRET" not in e.title + e.summary_html for e in entries)


def test_html_named_entities_in_xml_are_decoded():
    doc = b"<rss version='2.0'><channel><title>caf&eacute; &amp; cr&egrave;me</title>" + (
        b"<item><title>&laquo;Quote&raquo;&nbsp;x</title><link>http://x.org/1</link></item>"
        b"</channel></rss>"
    )
    feed = parse_document(doc)
    assert feed.title == "café & crème"
    assert feed.entries[0].title == "«Quote»\u00a0x"


def test_rss10_content_encoded_is_not_lost():
    doc = RSS10.replace(
        b"<description>Un article</description>",
        b"<content:encoded>&lt;p&gt;Texte complet&lt;/p&gt;</content:encoded>",
    ).replace(b"xmlns:dc=", b'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc=')
    entry = parse_document(doc).entries[0]
    assert "Texte complet" in entry.content_html
