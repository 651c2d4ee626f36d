"""Bytes of a feed document -> Unicode text, whatever the server claimed.

Precedence follows what real feeds need rather than RFC 7303 to the letter: a
byte-order mark is certain; then the document's own XML declaration (written
by the generator that produced the bytes); then the HTTP ``charset`` (often a
server default); then plain UTF-8; then statistical detection
(charset-normalizer). A declared charset that does not decode the bytes is
skipped, so a feed declaring UTF-8 while sending Latin-1 still comes out right.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Final

from charset_normalizer import from_bytes

_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PROLOG_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_DETECT_BYTES: Final = 64 * 1024
# charset-normalizer often finds several single-byte code pages equally good
# (cp1250, cp1252, cp1257 all read "café" without chaos); among such ties the
# one most used on the web wins.
_WEB_PREFERENCE: Final = ("cp1252", "cp1251", "koi8_r", "cp1250", "iso8859_15", "iso8859_2")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    source: str  # bom | prolog | http | utf-8 | detected | fallback


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    label = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    try:
        canonical = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    # WHATWG: documents labelled ISO-8859-1/ASCII are decoded as windows-1252,
    # which only differs in 0x80-0x9F where Latin-1 has unused C1 controls.
    if canonical in {"latin-1", "iso8859-1", "ascii"}:
        return "cp1252"
    return canonical


def _detect(sample: bytes) -> str | None:
    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    tied = {
        m.encoding
        for m in matches
        if m.chaos <= best.chaos + 0.1 and m.coherence >= best.coherence - 0.2
    }
    for preferred in _WEB_PREFERENCE:
        if preferred in tied:
            return _codec(preferred)
    return _codec(best.encoding)


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def _try(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        if encoding == "cp1252":  # five bytes are undefined in cp1252; Latin-1 has them
            return body.decode("latin-1")
        return None


def decode_document(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a feed document; never raises (the last resort is windows-1252)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            bom_text = body[len(bom) :].decode(encoding, errors="replace")
            return Decoded(bom_text, encoding, "bom")
    candidates: list[tuple[str, str | None]] = []
    match = _PROLOG_ENCODING.match(body[:300])
    if match:
        candidates.append(("prolog", _codec(match.group(1))))
    candidates.append(("http", _codec(charset_from_content_type(content_type))))
    candidates.append(("utf-8", "utf-8"))
    seen: set[str] = set()
    for source, label in candidates:
        if label is None or label in seen or label.startswith(("utf-16", "utf-32")):
            continue
        seen.add(label)
        decoded = _try(body, label)
        if decoded is not None:
            return Decoded(decoded, label, source)
    detected = _detect(body[:_DETECT_BYTES])
    if detected is not None:
        guessed = _try(body, detected)
        if guessed is not None:
            return Decoded(guessed, detected, "detected")
    return Decoded(body.decode("cp1252", errors="replace"), "cp1252", "fallback")


_PROLOG_TEXT = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([^"']*)(["'])""")


def to_utf8_xml(text: str) -> bytes:
    """UTF-8 bytes of decoded XML text whose declaration (if any) says UTF-8, so
    no downstream parser second-guesses the encoding we settled on."""
    text = _PROLOG_TEXT.sub(r"\g<1>utf-8\g<3>", text, count=1)
    return text.encode("utf-8", errors="surrogatepass")
