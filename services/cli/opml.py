"""OPML import and export (``feedpipe feeds import/export``).

Parsed with lxml under a hardened parser (no DTD loading, no entity
expansion, no network) rather than listparser, because listparser drops each
feed's ``htmlUrl``. Nested outlines become a '/'-joined category path
("News/France") and are written back as nested outlines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from shared.feeds import Feed


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None = None
    category: str | None = None
    site_url: str | None = None


class OpmlError(ValueError):
    """The document is not OPML we can read."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,  # real-world exports are often slightly broken
    )


def _attr(el: etree._Element, *names: str) -> str | None:
    # OPML attribute names are case-sensitive in the spec but not in practice.
    lowered = {k.lower(): v for k, v in el.attrib.items() if isinstance(k, str)}
    for name in names:
        value = lowered.get(name.lower())
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _category_attr(el: etree._Element) -> str | None:
    """OPML 2.0 ``category``: comma-separated slash paths; the first is kept."""
    raw = _attr(el, "category")
    if not raw:
        return None
    first = raw.split(",", 1)[0].strip().strip("/")
    return first or None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Feeds of an OPML document, in document order, each URL once."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"not an OPML document: {exc}") from exc
    if root is None or not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise OpmlError("not an OPML document: the root element is not <opml>")
    body = next((c for c in root if isinstance(c.tag, str) and c.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError("not an OPML document: no <body>")
    found: dict[str, OpmlFeed] = {}
    _walk(body, [], found)
    return list(found.values())


def _walk(parent: etree._Element, path: list[str], found: dict[str, OpmlFeed]) -> None:
    for el in parent:
        if not isinstance(el.tag, str) or el.tag.lower() != "outline":
            continue
        url = _attr(el, "xmlUrl")
        label = _attr(el, "title", "text")
        if url:
            if url not in found:
                category = "/".join(path) if path else _category_attr(el)
                found[url] = OpmlFeed(
                    url=url, title=label, category=category, site_url=_attr(el, "htmlUrl")
                )
            continue
        _walk(el, [*path, label.replace("/", "-")] if label else path, found)


@dataclass
class _Folder:
    name: str
    folders: dict[str, _Folder] = field(default_factory=dict)
    feeds: list[Feed] = field(default_factory=list)


def render_opml(feeds: Sequence[Feed], *, title: str) -> bytes:
    """An OPML 2.0 document with one nested outline per category level."""
    root = _Folder("")
    for feed in feeds:
        folder = root
        for part in [p for p in (feed.category or "").split("/") if p.strip()]:
            folder = folder.folders.setdefault(part.strip(), _Folder(part.strip()))
        folder.feeds.append(feed)

    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = etree.SubElement(opml, "body")
    _render(root, body)
    return bytes(etree.tostring(opml, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _render(folder: _Folder, parent: etree._Element) -> None:
    for name in sorted(folder.folders, key=str.lower):
        child = folder.folders[name]
        outline = etree.SubElement(parent, "outline", text=name, title=name)
        _render(child, outline)
    for feed in sorted(folder.feeds, key=lambda f: ((f.title or f.url).lower(), f.url)):
        attrs = {"type": "rss", "text": feed.title or feed.url, "xmlUrl": feed.url}
        if feed.title:
            attrs["title"] = feed.title
        if feed.site_url:
            attrs["htmlUrl"] = feed.site_url
        etree.SubElement(parent, "outline", attrs)
