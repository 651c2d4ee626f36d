import codecs

from services.parser.formats.encoding import charset_from_content_type, decode_document, to_utf8_xml

FRENCH = "<rss><channel><title>Café crème à l'été, déjà vu</title></channel></rss>"
RUSSIAN = (
    "<rss><channel><title>Пример ленты</title><description>Тестовая лента: Привет мир! "
    "Ёжик, чай, Москва, Санкт-Петербург, новости дня и погода на завтра.</description>"
    "</channel></rss>"
)


def prolog(encoding: str, body: str) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n{body}'.encode(encoding)


def test_prolog_iso_8859_1():
    decoded = decode_document(prolog("ISO-8859-1", FRENCH))
    assert "Café crème à l'été" in decoded.text
    assert decoded.source == "prolog"


def test_prolog_windows_1252_smart_quotes():
    body = "<rss><title>“quoted” – dash €</title></rss>"
    assert "“quoted” – dash €" in decode_document(prolog("windows-1252", body)).text


def test_iso_8859_1_label_reads_windows_1252_bytes():
    # Servers label cp1252 text as ISO-8859-1; 0x93/0x94 are curly quotes there.
    raw = b'<?xml version="1.0" encoding="ISO-8859-1"?><t>\x93hi\x94</t>'
    assert "“hi”" in decode_document(raw).text


def test_prolog_koi8_r():
    decoded = decode_document(prolog("KOI8-R", RUSSIAN))
    assert "Пример ленты" in decoded.text
    assert decoded.encoding == "koi8-r"


def test_utf8_with_bom():
    raw = codecs.BOM_UTF8 + FRENCH.encode()
    decoded = decode_document(raw)
    assert decoded.text.startswith("<rss>")
    assert decoded.source == "bom"


def test_utf16_with_bom():
    raw = codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le")
    assert "Café" in decode_document(raw).text


def test_http_charset_only():
    decoded = decode_document(FRENCH.encode("latin-1"), "application/rss+xml; charset=ISO-8859-1")
    assert "Café crème" in decoded.text
    assert decoded.source == "http"


def test_http_koi8_r_charset_only():
    decoded = decode_document(RUSSIAN.encode("koi8-r"), 'text/xml; charset="koi8-r"')
    assert "Санкт-Петербург" in decoded.text


def test_no_declaration_utf8():
    decoded = decode_document(FRENCH.encode())
    assert "déjà vu" in decoded.text
    assert decoded.source == "utf-8"


def test_no_declaration_latin1_is_detected():
    decoded = decode_document(FRENCH.encode("latin-1"))
    assert "Café crème à l'été" in decoded.text
    assert decoded.source == "detected"


def test_no_declaration_koi8_r_is_detected():
    decoded = decode_document(RUSSIAN.encode("koi8-r"))
    assert "Санкт-Петербург" in decoded.text


def test_prolog_lying_utf8_falls_back_to_detection():
    raw = b'<?xml version="1.0" encoding="utf-8"?><t>Ana\xefs J\xfcrgen caf\xe9 cr\xe8me</t>'
    assert "Anaïs Jürgen café crème" in decode_document(raw).text


def test_prolog_beats_wrong_http_charset():
    raw = prolog("ISO-8859-1", FRENCH)
    assert "Café" in decode_document(raw, "text/xml; charset=utf-8").text


def test_unknown_charset_label_is_ignored():
    assert "Café" in decode_document(FRENCH.encode(), "text/xml; charset=x-bogus").text


def test_charset_param_parsing():
    assert charset_from_content_type('text/xml; Charset="KOI8-R"') == "KOI8-R"
    assert charset_from_content_type("application/json") is None
    assert charset_from_content_type(None) is None


def test_to_utf8_rewrites_declaration():
    out = to_utf8_xml('<?xml version="1.0" encoding="KOI8-R"?><t>ё</t>')
    assert out == '<?xml version="1.0" encoding="utf-8"?><t>ё</t>'.encode()
