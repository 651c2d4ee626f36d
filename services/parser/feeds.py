"""Feed document -> :class:`ParsedFeed`: a wire-level view of every entry,
the same whatever the format.

Design (measured, see docs/benchmarks/parser.md): ``fastfeedparser`` is the
fast path (~100x feedparser); ``feedparser`` is the tolerant fallback for
documents the fast one rejects or reads as empty. Both see the same input:
text we decoded ourselves (:mod:`.encoding`), re-encoded as UTF-8, after the
hostile-XML check (:mod:`.safety`). Neither is ever handed a ``str`` that looks
like a URL: both libraries would fetch it.

JSON Feed is read by a small adapter of our own: the spec is a plain JSON
mapping, and fastfeedparser keeps only the first author and drops the
per-item ``language`` of JSON Feed 1.1.
"""

from __future__ import annotations

import html
import io
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import Any, Final

import fastfeedparser
import feedparser
import orjson
from dateutil import parser as dateparser

from services.parser.authors import entry_authors, may_have_coauthors
from services.parser.encoding import decode_document, to_utf8_xml
from services.parser.safety import HostileDocumentError, check_xml_safety


class FeedParseError(ValueError):
    """The document is not a feed we can read; ``reason`` is a metric label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class RawEnclosure:
    url: str
    type: str | None = None
    length: int | None = None


@dataclass(slots=True)
class RawEntry:
    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary_html: str = ""
    content_html: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    enclosures: list[RawEnclosure] = field(default_factory=list)
    image: str | None = None


@dataclass(slots=True)
class ParsedFeed:
    format: str  # rss2.0, rss1.0, rss0.9x, atom1.0, atom0.3, json1.0, json1.1, unknown
    parser: str  # fastfeedparser | feedparser | jsonfeed
    title: str = ""
    site_url: str | None = None
    language: str | None = None
    ttl_seconds: float | None = None
    encoding: str = "utf-8"
    entries: list[RawEntry] = field(default_factory=list)
    entry_errors: int = 0


# --- format sniffing ---------------------------------------------------------

_ROOT: Final = re.compile(r"<(?!\?|!)([A-Za-z_][\w.:-]*)([^>]*)>")
_RSS_VERSION: Final = re.compile(r"""version\s*=\s*["']\s*([\d.]+)""")
_JSON_VERSION: Final = re.compile(r"jsonfeed\.org/version/(1(?:\.1)?)")


def sniff_format(text: str) -> str:
    """A low-cardinality format label from the root element (metric label)."""
    head = text[:4096].lstrip()
    if head.startswith("{"):
        m = _JSON_VERSION.search(text[:2048])
        return f"json{m.group(1) if m and '.' in m.group(1) else '1.0'}" if m else "json1.0"
    root = _ROOT.search(head)
    if root is None:
        return "unknown"
    name = root.group(1).lower().split(":")[-1]
    attrs = root.group(2)
    if name == "rss":
        v = _RSS_VERSION.search(attrs)
        version = v.group(1) if v else "2.0"
        return "rss2.0" if version.startswith("2") else "rss0.9x"
    if name == "rdf":
        return "rss0.9x" if "my.netscape.com/rdf/simple/0.9" in attrs else "rss1.0"
    if name == "feed":
        return "atom0.3" if "purl.org/atom/ns#" in attrs else "atom1.0"
    return "unknown"


# --- dates -------------------------------------------------------------------


def to_utc(value: Any) -> datetime | None:
    """Parse a feed date to an aware UTC datetime; None when unusable.

    A date without a zone is taken as UTC (RFC 3339 requires one; feeds that
    omit it are most often UTC servers). Years outside 1970..2100 are junk.
    """
    if value is None or value == "":
        return None
    dt: datetime | None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, time.struct_time):
        dt = datetime(*value[:6], tzinfo=UTC)
    elif isinstance(value, str):
        raw = value.strip()
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = dateparser.parse(raw)
            except (ValueError, OverflowError, TypeError, dateparser.ParserError):
                return None
    else:
        return None
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if not 1970 <= dt.year <= 2100:
        return None
    return dt


# --- feed-level hints ----------------------------------------------------------

_TTL: Final = re.compile(r"<ttl>\s*(\d{1,7})\s*</ttl>", re.IGNORECASE)
_SY_PERIOD: Final = re.compile(
    r"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>", re.I
)
_SY_FREQ: Final = re.compile(r"<sy:updateFrequency>\s*(\d{1,5})\s*</sy:updateFrequency>", re.I)
# Present whenever _TTL or _SY_PERIOD can match.
_HINT_TAG: Final = re.compile(r"<(?:ttl|sy:updatePeriod)>", re.IGNORECASE)
_PERIOD_S: Final = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}
_HINT_SCAN: Final = 64 * 1024


_LANGUAGE: Final = re.compile(
    r"<(?:dc:)?language>\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)\s*</(?:dc:)?language>"
    r"|<[A-Za-z][^>]*?\sxml:lang\s*=\s*[\"']([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)[\"']",
    re.IGNORECASE,
)


def declared_language(text: str) -> str | None:
    """The channel's ``<language>`` / ``dc:language`` or the first ``xml:lang``
    (fastfeedparser does not report RSS ``<language>``)."""
    match = _LANGUAGE.search(text[:_HINT_SCAN])
    return (match.group(1) or match.group(2)) if match else None


def feed_ttl_seconds(text: str) -> float | None:
    """The poll interval the feed asks for: RSS ``<ttl>`` (minutes) or the
    syndication module's period / frequency. Neither parsing library exposes
    them both, and they sit in the channel head, so a bounded regex is enough."""
    head = text[:_HINT_SCAN]
    if _HINT_TAG.search(head) is None:  # one scan instead of two for most feeds
        return None
    ttl = _TTL.search(head)
    if ttl and int(ttl.group(1)) > 0:
        return int(ttl.group(1)) * 60.0
    period = _SY_PERIOD.search(head)
    if period:
        freq = _SY_FREQ.search(head)
        n = max(int(freq.group(1)), 1) if freq else 1
        return _PERIOD_S[period.group(1).lower()] / n
    return None


# --- adapters ------------------------------------------------------------------


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def _names(entry: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = _str(author.get("name") if isinstance(author, Mapping) else author).strip()
        if not name and isinstance(author, Mapping):
            name = _str(author.get("email")).strip()
        if name and name not in names:
            names.append(name)
    if not names:
        single = _str(entry.get("author")).strip()
        if single:
            names.append(single)
    return names


def _tags(entry: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for tag in entry.get("tags") or []:
        term = tag.get("label") or tag.get("term") if isinstance(tag, Mapping) else tag
        for part in [_str(term).strip()]:
            if part and part not in out:
                out.append(part)
    return out


def _int(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _enclosures(entry: Mapping[str, Any]) -> list[RawEnclosure]:
    found: dict[str, RawEnclosure] = {}
    sources: Iterable[Any] = [*(entry.get("enclosures") or []), *(entry.get("media_content") or [])]
    for enc in sources:
        if not isinstance(enc, Mapping):
            continue
        url = _str(enc.get("url") or enc.get("href")).strip()
        if not url or url in found:
            continue
        mime = _str(enc.get("type")).strip() or None
        if mime is None and enc.get("medium"):
            mime = _str(enc.get("medium"))
        found[url] = RawEnclosure(url=url, type=mime, length=_int(enc.get("length")))
    return list(found.values())


def _content(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The richest content block (content:encoded, atom:content) and its language."""
    best = ""
    language: str | None = None
    for block in entry.get("content") or []:
        if not isinstance(block, Mapping):
            continue
        value = _str(block.get("value"))
        if len(value) > len(best):
            best = value
            language = _str(block.get("language")) or None
            if _str(block.get("type")) == "text/plain":
                best = _escape_plain(value)
    return best, language


def _escape_plain(text: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())


def _link(entry: Mapping[str, Any]) -> str | None:
    link = _str(entry.get("link")).strip()
    if link:
        return link
    for candidate in entry.get("links") or []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            href = _str(candidate.get("href")).strip()
            if href:
                return href
    return None


def _raw(entry: Mapping[str, Any], key: str) -> Any:
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _entry_from_mapping(entry: Mapping[str, Any], *, parsed_dates: bool) -> RawEntry:
    """An entry of fastfeedparser or feedparser (same dict shape) -> RawEntry."""
    content, lang = _content(entry)
    if parsed_dates:
        # feedparser: *_parsed are UTC struct_time. dict.get bypasses its
        # deprecated updated->published key aliasing, so each keeps its meaning.
        published = to_utc(_raw(entry, "published_parsed")) or to_utc(_raw(entry, "created_parsed"))
        updated = to_utc(_raw(entry, "updated_parsed"))
    else:
        published = to_utc(entry.get("published"))
        updated = to_utc(entry.get("updated"))
    summary = _str(entry.get("summary") if parsed_dates else entry.get("description"))
    guid = _str(entry.get("id")).strip() or None
    title = entry.get("title")
    return RawEntry(
        guid=guid,
        link=_link(entry),
        title=_str(title),
        summary_html=summary if summary != content else "",
        content_html=content,
        authors=_names(entry),
        categories=_tags(entry),
        published=published,
        updated=updated,
        language=lang,
        enclosures=_enclosures(entry),
        image=entry["image"] if isinstance(entry.get("image"), str) else None,
    )


def _entries(raw: Iterable[Any], *, parsed_dates: bool) -> tuple[list[RawEntry], int]:
    """Adapt each entry on its own: one bad entry never loses the others."""
    out: list[RawEntry] = []
    errors = 0
    for entry in raw:
        try:
            out.append(_entry_from_mapping(entry, parsed_dates=parsed_dates))
        except Exception:  # a malformed entry of an otherwise fine feed
            errors += 1
    return out, errors


def _feed_link(feed: Mapping[str, Any]) -> str | None:
    link = _str(feed.get("link")).strip()
    if link:
        return link
    for candidate in feed.get("links") or []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            href = _str(candidate.get("href")).strip()
            if href:
                return href
    return None


def _parse_fast(data: bytes) -> tuple[dict[str, Any], list[RawEntry], int]:
    doc = fastfeedparser.parse(data)
    entries, errors = _entries(doc.get("entries") or [], parsed_dates=False)
    return dict(doc.get("feed") or {}), entries, errors


def _parse_tolerant(data: bytes) -> tuple[dict[str, Any], list[RawEntry], int, Any, str]:
    # sanitize_html/resolve_relative_uris off: we sanitise with nh3 and resolve
    # URLs ourselves, and both cost feedparser most of its time.
    doc = feedparser.parse(
        io.BytesIO(data),
        response_headers={"content-type": "application/xml; charset=utf-8"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries, errors = _entries(doc.get("entries") or [], parsed_dates=True)
    return (
        dict(doc.get("feed") or {}),
        entries,
        errors,
        doc.get("bozo_exception"),
        doc.get("version") or "",
    )


_ENTRY_TAG: Final = re.compile(r"<(?:\w+:)?(?:item|entry)[\s>]", re.IGNORECASE)
_FP_FORMATS: Final = {
    "rss20": "rss2.0",
    "rss10": "rss1.0",
    "rss090": "rss0.9x",
    "rss091u": "rss0.9x",
    "rss091n": "rss0.9x",
    "rss092": "rss0.9x",
    "rss093": "rss0.9x",
    "rss094": "rss0.9x",
    "atom10": "atom1.0",
    "atom03": "atom0.3",
}


# HTML named entities are undefined in XML (only the five below are), yet
# feeds use them; lxml then drops them. Rewritten as numeric references they
# mean the same in XML and, inside CDATA HTML, the same once unescaped.
_HTML_ENTITY: Final = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")


def _html_entity_to_numeric(match: re.Match[str]) -> str:
    codepoint = name2codepoint.get(match.group(1))
    return f"&#{codepoint};" if codepoint is not None else match.group(0)


def _fast_result_suspect(text: str, entries: list[RawEntry]) -> bool:
    """Cases where fastfeedparser is known to lose data the tolerant parser keeps."""
    if not entries:  # nothing read from a document that visibly has entries
        return _ENTRY_TAG.search(text) is not None
    # content:encoded of RSS 1.0 items is not read by fastfeedparser 0.6.
    return "content:encoded" in text and not any(e.content_html for e in entries)


def _parse_xml(text: str, fmt: str) -> ParsedFeed:
    check_xml_safety(text)
    if _HTML_ENTITY.search(text) is not None:
        text = _HTML_ENTITY.sub(_html_entity_to_numeric, text)
    data = to_utf8_xml(text)
    fast_error: str | None = None
    try:
        feed, entries, errors = _parse_fast(data)
        if not _fast_result_suspect(text, entries):
            if may_have_coauthors(text, len(entries)):
                _restore_coauthors(data, entries)
            return _feed(feed, entries, errors, fmt=fmt, parser="fastfeedparser", text=text)
    except Exception as exc:  # fastfeedparser raises ValueError and a few others
        fast_error = str(exc)
    feed, entries, errors, bozo, version = _parse_tolerant(data)
    if fmt == "unknown":
        fmt = _FP_FORMATS.get(version, "unknown")
    if not entries and not feed.get("title") and (bozo is not None or fmt == "unknown"):
        reason = "not_a_feed" if fmt == "unknown" else "malformed"
        detail = fast_error or (str(bozo) if bozo else "no feed element")
        raise FeedParseError(reason, f"not a readable feed: {detail[:300]}")
    return _feed(feed, entries, errors, fmt=fmt, parser="feedparser", text=text)


def _restore_coauthors(data: bytes, entries: list[RawEntry]) -> None:
    """Give entries back the authors after the first (see :mod:`.authors`); entries
    are matched by position, so only when both readings count the same entries."""
    found = entry_authors(data)
    if len(found) != len(entries):
        return
    for entry, names in zip(entries, found, strict=True):
        if len(names) > len(entry.authors):
            entry.authors = names


def _feed(
    feed: Mapping[str, Any],
    entries: list[RawEntry],
    errors: int,
    *,
    fmt: str,
    parser: str,
    text: str,
) -> ParsedFeed:
    return ParsedFeed(
        format=fmt,
        parser=parser,
        title=_str(feed.get("title")).strip(),
        site_url=_feed_link(feed),
        language=_str(feed.get("language")).strip() or declared_language(text),
        ttl_seconds=feed_ttl_seconds(text),
        entries=entries,
        entry_errors=errors,
    )


# --- JSON Feed (https://www.jsonfeed.org/version/1.1/) ---------------------------


def _json_authors(obj: Mapping[str, Any]) -> list[str]:
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), Mapping) else []
    names = [_str(a.get("name")).strip() for a in raw if isinstance(a, Mapping)]
    return [n for n in names if n]


def _json_entry(item: Mapping[str, Any], feed_authors: list[str]) -> RawEntry:
    content = _str(item.get("content_html"))
    if not content and item.get("content_text"):
        content = _escape_plain(_str(item.get("content_text")))
    enclosures = [
        RawEnclosure(
            url=_str(a.get("url")),
            type=_str(a.get("mime_type")) or None,
            length=_int(a.get("size_in_bytes")),
        )
        for a in item.get("attachments") or []
        if isinstance(a, Mapping) and a.get("url")
    ]
    tags = item.get("tags")
    return RawEntry(
        guid=_str(item.get("id")).strip() or None,
        link=_str(item.get("url")).strip() or _str(item.get("external_url")).strip() or None,
        title=_str(item.get("title")),
        summary_html=_str(item.get("summary")),
        content_html=content,
        authors=_json_authors(item) or feed_authors,
        categories=[_str(t).strip() for t in tags if _str(t).strip()]
        if isinstance(tags, list)
        else [],
        published=to_utc(item.get("date_published")),
        updated=to_utc(item.get("date_modified")),
        language=_str(item.get("language")).strip() or None,
        enclosures=enclosures,
        image=_str(item.get("image")) or None,
    )


def _parse_json(text: str, fmt: str) -> ParsedFeed:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FeedParseError("malformed", f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedParseError("not_a_feed", "JSON document without an 'items' list")
    feed_authors = _json_authors(doc)
    entries: list[RawEntry] = []
    errors = 0
    for item in doc["items"]:
        try:
            if not isinstance(item, Mapping):
                raise TypeError("item is not an object")
            entries.append(_json_entry(item, feed_authors))
        except Exception:
            errors += 1
    return ParsedFeed(
        format=fmt,
        parser="jsonfeed",
        title=_str(doc.get("title")).strip(),
        site_url=_str(doc.get("home_page_url")).strip() or None,
        language=_str(doc.get("language")).strip() or None,
        entries=entries,
        entry_errors=errors,
    )


# --- entry point -----------------------------------------------------------------


def parse_document(body: bytes, *, content_type: str | None = None) -> ParsedFeed:
    """Parse any supported feed document. Raises :class:`FeedParseError`
    (``reason`` in hostile, empty, not_a_feed, malformed)."""
    if not body or not body.strip():
        raise FeedParseError("empty", "empty document")
    decoded = decode_document(body, content_type)
    text = decoded.text.lstrip("\ufeff")
    fmt = sniff_format(text)
    try:
        parsed = _parse_json(text, fmt) if fmt.startswith("json") else _parse_xml(text, fmt)
    except HostileDocumentError as exc:
        raise FeedParseError("hostile", str(exc)) from exc
    parsed.encoding = decoded.encoding
    return parsed
