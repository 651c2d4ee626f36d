"""Loose values of parsed documents -> typed ones (pure), shared by the adapters.

Both parsing libraries and JSON Feed documents hand over plain mappings whose
values may be missing, of the wrong type, or numbers where text was expected;
these helpers never raise on such values.
"""

from __future__ import annotations

import html
from typing import Any


def as_text(value: Any) -> str:
    """A string value as is, a number as its text, anything else as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def as_count(value: Any) -> int | None:
    """A non-negative integer (sizes, lengths), else None."""
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def plain_text_html(text: str) -> str:
    """Paragraph markup for plain-text content: one ``<p>`` per blank-line block."""
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
