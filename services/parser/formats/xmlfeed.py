"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 documents -> :class:`ParsedFeed`.

Design (measured, see docs/benchmarks/parser.md): ``fastfeedparser`` is the
fast path (~100x feedparser); ``feedparser`` is the tolerant fallback for
documents the fast one rejects, reads as empty, or is known to read with data
lost. Both see the same input: text decoded by :mod:`.encoding`, re-encoded as
UTF-8, after the hostile-XML check (:mod:`.safety`). Neither is ever handed a
``str`` that looks like a URL: both libraries would fetch it. Both return the
same dict shape per entry, so one adapter turns either into a ``RawEntry``.
Both also read a broken document (truncated, mismatched tags) in recovery
mode; :func:`not_well_formed` says so in ``ParsedFeed.recovered``.
"""

from __future__ import annotations

import io
import re
import xml.parsers.expat
from collections.abc import Iterable, Mapping
from html.entities import name2codepoint
from typing import Any, Final

import fastfeedparser
import feedparser

from services.parser.dates import to_utc
from services.parser.formats.authors import entry_authors, may_have_coauthors
from services.parser.formats.encoding import to_utf8_xml
from services.parser.formats.hints import declared_language, feed_ttl_seconds
from services.parser.formats.model import FeedParseError, ParsedFeed, RawEnclosure, RawEntry
from services.parser.formats.safety import check_xml_safety
from services.parser.formats.values import as_count, as_text, plain_text_html


def _alternate_link(obj: Mapping[str, Any]) -> str | None:
    """``link``, else the first ``links`` entry whose rel is alternate (the
    default when rel is absent): the same rule for a feed and for an entry."""
    link = as_text(obj.get("link")).strip()
    if link:
        return link
    for candidate in obj.get("links") or []:
        if isinstance(candidate, Mapping) and candidate.get("rel", "alternate") == "alternate":
            href = as_text(candidate.get("href")).strip()
            if href:
                return href
    return None


def _names(entry: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = as_text(author.get("name") if isinstance(author, Mapping) else author).strip()
        if not name and isinstance(author, Mapping):
            name = as_text(author.get("email")).strip()
        if name and name not in names:
            names.append(name)
    if not names:
        single = as_text(entry.get("author")).strip()
        if single:
            names.append(single)
    return names


def _tags(entry: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for tag in entry.get("tags") or []:
        term = tag.get("label") or tag.get("term") if isinstance(tag, Mapping) else tag
        part = as_text(term).strip()
        if part and part not in out:
            out.append(part)
    return out


def _enclosures(entry: Mapping[str, Any]) -> list[RawEnclosure]:
    found: dict[str, RawEnclosure] = {}
    sources: Iterable[Any] = [*(entry.get("enclosures") or []), *(entry.get("media_content") or [])]
    for enc in sources:
        if not isinstance(enc, Mapping):
            continue
        url = as_text(enc.get("url") or enc.get("href")).strip()
        if not url or url in found:
            continue
        mime = as_text(enc.get("type")).strip() or None
        if mime is None and enc.get("medium"):
            mime = as_text(enc.get("medium"))
        found[url] = RawEnclosure(url=url, type=mime, length=as_count(enc.get("length")))
    return list(found.values())


def _content(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The richest content block (content:encoded, atom:content) and its language."""
    best = ""
    language: str | None = None
    for block in entry.get("content") or []:
        if not isinstance(block, Mapping):
            continue
        value = as_text(block.get("value"))
        if len(value) > len(best):
            best = value
            language = as_text(block.get("language")) or None
            if as_text(block.get("type")) == "text/plain":
                best = plain_text_html(value)
    return best, language


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
    summary = as_text(entry.get("summary") if parsed_dates else entry.get("description"))
    return RawEntry(
        guid=as_text(entry.get("id")).strip() or None,
        link=_alternate_link(entry),
        title=as_text(entry.get("title")),
        summary_html=summary if summary != content else "",
        content_html=content,
        authors=_names(entry),
        categories=_tags(entry),
        published=published,
        updated=updated,
        language=lang,
        enclosures=_enclosures(entry),
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


def not_well_formed(data: bytes) -> str | None:
    """Why ``data`` (UTF-8 XML) is not well-formed, or None when it is.

    Both parsers read broken documents in recovery mode without saying so
    (fastfeedparser only ever uses lxml's recover parser), so the check is made
    on its own, with expat: it builds no tree, and over the 778 XML documents
    of the feeds corpus it cost about 4 % of the parse time (median of five
    runs, 3.6 to 7.5 %). Whitespace before the XML declaration
    is not counted as damage: every reader accepts it and nothing is lost.
    """
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data.lstrip(), True)
    except xml.parsers.expat.ExpatError as exc:
        return (
            f"{xml.parsers.expat.ErrorString(exc.code)} at line {exc.lineno},"
            f" column {exc.offset + 1}"
        )
    return None


def parse_xml(text: str, fmt: str) -> ParsedFeed:
    """An XML feed document (decoded text, ``fmt`` from the sniffer) -> ParsedFeed.
    Raises HostileDocumentError or FeedParseError."""
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
            parsed = _feed(feed, entries, errors, fmt=fmt, parser="fastfeedparser", text=text)
            parsed.recovered = not_well_formed(data)
            return parsed
    except Exception as exc:  # fastfeedparser raises ValueError and a few others
        fast_error = str(exc)
    feed, entries, errors, bozo, version = _parse_tolerant(data)
    if fmt == "unknown":
        fmt = _FP_FORMATS.get(version, "unknown")
    if not entries and not feed.get("title") and (bozo is not None or fmt == "unknown"):
        reason = "not_a_feed" if fmt == "unknown" else "malformed"
        detail = fast_error or (str(bozo) if bozo else "no feed element")
        raise FeedParseError(reason, f"not a readable feed: {detail[:300]}")
    parsed = _feed(feed, entries, errors, fmt=fmt, parser="feedparser", text=text)
    parsed.recovered = not_well_formed(data)
    return parsed


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
        title=as_text(feed.get("title")).strip(),
        site_url=_alternate_link(feed),
        language=as_text(feed.get("language")).strip() or declared_language(text),
        ttl_seconds=feed_ttl_seconds(text),
        entries=entries,
        entry_errors=errors,
    )
