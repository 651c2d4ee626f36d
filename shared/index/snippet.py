"""HTML-safe snippets with highlighted matches (pure functions).

Backends mark matches with two private-use characters; :func:`marks_to_html`
escapes everything else, so a snippet never carries markup from an article.
"""

from __future__ import annotations

import html

START = "\ue000"
STOP = "\ue001"
ELLIPSIS = "…"


def marks_to_html(marked: str) -> str:
    out = html.escape(marked.replace(START, "\0s").replace(STOP, "\0e"), quote=True)
    return out.replace("\0s", "<mark>").replace("\0e", "</mark>")
