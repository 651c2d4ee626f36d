"""parse_document: what any document that is not a readable feed gets."""

import pytest

from services.parser.formats import FeedParseError, parse_document, xmlfeed


def test_html_page_is_not_a_feed():
    with pytest.raises(FeedParseError) as exc:
        parse_document(b"<!doctype html><html><body><p>Hello</p></body></html>")
    assert exc.value.reason == "not_a_feed"


def test_empty_document():
    with pytest.raises(FeedParseError) as exc:
        parse_document(b"  \n")
    assert exc.value.reason == "empty"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>
<link>http://x.org/1</link></item></channel></rss>"""


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss version="2.0"><channel><title>&d;</title><item><title>&d;</title></item></channel></rss>"""


@pytest.mark.parametrize("doc", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_documents_are_rejected(doc):
    with pytest.raises(FeedParseError) as exc:
        parse_document(doc)
    assert exc.value.reason == "hostile"
    assert "entit" in str(exc.value)


@pytest.mark.parametrize("doc", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_documents_are_rejected_on_the_fallback_path_too(monkeypatch, doc):
    monkeypatch.setattr(xmlfeed, "_parse_fast", lambda data: (_ for _ in ()).throw(ValueError()))
    with pytest.raises(FeedParseError, match="entit"):
        parse_document(doc)
