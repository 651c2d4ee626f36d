"""Refuse hostile XML before any parser sees it.

Neither parsing library is trusted to be safe on its own: fastfeedparser runs
lxml (entities unresolved, but ``huge_tree=True``) and feedparser runs expat
through SAX. defusedxml only wraps the stdlib parsers, so it cannot guard the
lxml path; instead we apply its default policy ourselves, to the decoded text,
once, for both paths: a document whose DTD declares any entity is rejected.
That rules out external entities / DTDs (XXE: ``SYSTEM``/``PUBLIC`` entities
and parameter entities) and entity-expansion bombs ("billion laughs"), whose
expansion is then bounded at zero. A plain ``<!DOCTYPE rss PUBLIC ...>`` (RSS
0.91) declares no entity and passes; its DTD is never fetched by either parser.
"""

from __future__ import annotations

import re
from typing import Final


class HostileDocumentError(ValueError):
    """The document tries to declare entities (XXE or expansion bomb)."""


_DOCTYPE: Final = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ENTITY: Final = re.compile(r"<!ENTITY\s+(%\s*)?([^\s>]+)[^>]*?(SYSTEM|PUBLIC)?", re.IGNORECASE)
# Where the root element starts: the DOCTYPE and its internal subset must come
# before it, so only that prefix is scanned (CDATA in an entry may quote XML).
_ROOT_START: Final = re.compile(r"<[A-Za-z_]")


def check_xml_safety(text: str) -> None:
    """Raise :class:`HostileDocumentError` if the prolog declares entities."""
    doctype = _DOCTYPE.search(text)
    if doctype is None:
        return
    root = _ROOT_START.search(text, doctype.end())
    prolog = text[doctype.start() : root.start() if root else len(text)]
    entity = _ENTITY.search(prolog)
    if entity is None:
        return
    external = " external" if re.search(r"\b(SYSTEM|PUBLIC)\b", prolog[entity.start() :]) else ""
    count = len(_ENTITY.findall(prolog))
    raise HostileDocumentError(
        f"document type declaration defines {count}{external} entit"
        f"{'y' if count == 1 else 'ies'} ({entity.group(2)[:40]!r}); entity declarations are"
        " refused (XXE / entity-expansion protection)"
    )
