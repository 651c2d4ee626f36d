"""Article page HTML -> main text and page metadata (trafilatura).

trafilatura is the accuracy reference for news pages; ``fast=True`` skips its
second-chance fallbacks (readability/justext), ``include_comments=False``
keeps reader comments out, and ``favor_precision=True`` drops borderline
blocks (teasers, bios, newsletter boxes) rather than risk them reaching the
index — measured in benchmarks/extraction_quality.py.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trafilatura import bare_extraction
from trafilatura.settings import Document

from services.parser.dates import to_utc


@dataclass(frozen=True, slots=True)
class PageContent:
    """What an article page gave: its main text and metadata, and ``url``, the
    URL it was fetched from (after redirects), against which its claimed
    ``canonical_url`` (rel=canonical or og:url) is judged."""

    text: str
    html: str
    canonical_url: str | None
    title: str | None
    site_name: str | None
    published: datetime | None
    language: str | None
    authors: list[str]
    url: str


def text_to_html(text: str) -> str:
    """Paragraph markup for extracted text: one ``<p>`` per line."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line.strip())


# htmldate returns a date only ("%Y-%m-%d") unless asked for more: the page's
# publication time of day was lost. With this format a page stating only a day
# still yields midnight without a zone, read as UTC as before.
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def _date_params() -> dict[str, Any]:
    """trafilatura's own date settings (original date, extensive search, no
    date after today) plus an output format that keeps the time."""
    return {
        "original_date": True,
        "extensive_search": True,
        "max_date": datetime.now().astimezone().strftime("%Y-%m-%d"),
        "outputformat": _DATE_FORMAT,
    }


def _extract(page: bytes | str, url: str, favor_precision: bool) -> Document | None:
    doc = bare_extraction(
        page,
        url=url,
        fast=True,
        include_comments=False,
        include_tables=True,
        favor_precision=favor_precision,
        with_metadata=True,
        date_extraction_params=_date_params(),
    )
    if doc is None or isinstance(doc, dict) or not (doc.text or "").strip():
        return None
    return doc


def extract_page(
    page: bytes | str, *, url: str, favor_precision: bool = True
) -> PageContent | None:
    """Main content of the article page fetched from ``url`` (after
    redirects), or None when nothing usable was found.

    With ``favor_precision`` a page where the strict pass keeps nothing is
    extracted once more without it (about 2 % of the evaluation pages), rather
    than falling back to the feed's teaser.
    """
    doc = _extract(page, url, favor_precision)
    if doc is None and favor_precision:
        doc = _extract(page, url, False)
    if doc is None:
        return None
    text = (doc.text or "").strip()
    # trafilatura reports <link rel=canonical> / og:url here, else the URL we gave.
    canonical = doc.url if doc.url and doc.url != url else None
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return PageContent(
        text=text,
        html=text_to_html(text),
        canonical_url=canonical,
        title=(doc.title or "").strip() or None,
        site_name=(doc.sitename or "").strip() or None,
        published=to_utc(doc.date) if doc.date else None,
        language=doc.language or None,
        authors=authors,
        url=url,
    )
