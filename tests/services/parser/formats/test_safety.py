import pytest

from services.parser.formats.safety import HostileDocumentError, check_xml_safety

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title></channel></rss>"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><title>&lol3;</title></channel></rss>"""

PARAMETER = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % dtd SYSTEM "http://127.0.0.1:1/evil.dtd"> %dtd;]>
<rss version="2.0"><channel><title>x</title></channel></rss>"""


def test_external_entity_is_refused():
    with pytest.raises(HostileDocumentError, match="external"):
        check_xml_safety(XXE)


def test_entity_expansion_bomb_is_refused():
    with pytest.raises(HostileDocumentError, match="3 entities"):
        check_xml_safety(LAUGHS)


def test_external_parameter_entity_is_refused():
    with pytest.raises(HostileDocumentError):
        check_xml_safety(PARAMETER)


def test_rss_091_public_doctype_is_allowed():
    check_xml_safety(
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        ' "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"></rss>'
    )


def test_entity_text_inside_entry_content_is_allowed():
    check_xml_safety(
        '<!DOCTYPE rss><rss><channel><item><description><![CDATA[<!ENTITY x "y">]]>'
        "</description></item></channel></rss>"
    )


def test_document_without_doctype_is_allowed():
    check_xml_safety("<rss><channel><title>t</title></channel></rss>")
