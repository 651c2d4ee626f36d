"""HTML-safe snippets with highlighted matches (pure functions).

Backends mark matches with two private-use characters; :func:`marks_to_html`
escapes everything else, so a snippet never carries markup from an article.
"""

from __future__ import annotations

import html

from shared.index.analysis import WORD_RE, analyzer_for

START = "\ue000"
STOP = "\ue001"
ELLIPSIS = "…"
SNIPPET_WORDS = 32
_LEAD_WORDS = 8
_SCAN_CHARS = 60_000


def marks_to_html(marked: str) -> str:
    out = html.escape(marked.replace(START, "\0s").replace(STOP, "\0e"), quote=True)
    return out.replace("\0s", "<mark>").replace("\0e", "</mark>")


def marked_snippet(text: str, language: str | None, query_words: list[str]) -> str:
    """A window of ``text`` around the first word that matches the query (after
    the same analysis as the index), with every matching word marked."""
    analyzer = analyzer_for(language)
    wanted = set(analyzer.terms(" ".join(query_words)))
    words = list(WORD_RE.finditer(text[:_SCAN_CHARS]))
    if not words:
        return text[:200]
    first = 0
    for i, match in enumerate(words):
        terms = analyzer.terms(match.group())
        if terms and terms[0] in wanted:
            first = i
            break
    start = max(0, first - _LEAD_WORDS)
    end = min(len(words), start + SNIPPET_WORDS)
    pieces: list[str] = [ELLIPSIS] if start > 0 else []
    pos = words[start].start()
    for match in words[start:end]:
        pieces.append(text[pos : match.start()])
        terms = analyzer.terms(match.group())
        if terms and terms[0] in wanted:
            pieces.append(f"{START}{match.group()}{STOP}")
        else:
            pieces.append(match.group())
        pos = match.end()
    if end < len(words):
        pieces.append(ELLIPSIS)
    else:
        pieces.append(text[pos : pos + 1] if pos < len(text) and not text[pos].isspace() else "")
    return "".join(pieces).strip()
