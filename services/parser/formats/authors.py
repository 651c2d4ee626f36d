"""Every author of an entry, where the fast parser keeps only the first.

fastfeedparser reports one author per entry (the first ``atom:author`` or
``dc:creator``); co-written articles lost their other authors. Most feeds name
at most one author per entry, so a cheap count of author elements decides
whether a document needs this second, small lxml pass at all.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

_ATOM: Final = frozenset({"http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#"})
_DC: Final = "http://purl.org/dc/elements/1.1/"
_ENTRY: Final = frozenset(
    {
        ("http://www.w3.org/2005/Atom", "entry"),
        ("http://purl.org/atom/ns#", "entry"),
        ("", "item"),  # RSS 0.9x / 2.0
        ("http://purl.org/rss/1.0/", "item"),
        ("http://my.netscape.com/rdf/simple/0.9/", "item"),
    }
)
_MARKERS: Final = ("<author", "<atom:author", "<dc:creator")


def may_have_coauthors(text: str, entries: int) -> bool:
    """More author elements than entries, counted from the first entry on (a
    feed's own author comes before its entries)."""
    starts = [i for i in (text.find("<entry"), text.find("<item")) if i >= 0]
    if not starts:
        return False
    first = min(starts)
    return sum(text.count(marker, first) for marker in _MARKERS) > entries


def _parser() -> etree.XMLParser:
    # The document already passed the hostile-XML check; still resolve nothing.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
    )


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _name(element: etree._Element) -> str:
    namespace, local = _split(element.tag)
    if local == "author" and namespace in _ATOM:
        for child in element:
            if isinstance(child.tag, str) and _split(child.tag)[1] == "name":
                return (child.text or "").strip()
        return ""
    if local == "creator" and namespace == _DC:
        return (element.text or "").strip()
    return ""


def entry_authors(data: bytes) -> list[list[str]]:
    """Author names of each entry, in document order. Only the entry's own
    elements count: an Atom ``source`` copied from another feed does not."""
    root = etree.fromstring(data, _parser())
    if root is None:
        return []
    found: list[list[str]] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or _split(element.tag) not in _ENTRY:
            continue
        names: list[str] = []
        for child in element:
            if isinstance(child.tag, str):
                name = _name(child)
                if name and name not in names:
                    names.append(name)
        found.append(names)
    return found
