"""RawEntry (+ optional extracted page) -> the canonical :class:`Article` (pure).

In order: :func:`entry_identity` (canonical URL and GUID, needed before
anything else to skip entries already published), :func:`entry_content` (the
feed's own content, sanitised, and its text), :func:`needs_page` (does that
text call for the article's page?), then :func:`build_article` once, with the
page when one was fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

import xxhash

from services.parser.extract import PageContent
from services.parser.formats import ParsedFeed, RawEntry
from services.parser.html import html_to_text, inline_text, sanitize_html, text_of_clean_html
from services.parser.language import choose_language
from services.parser.urls import article_id_for, canonicalize_url
from shared.fetch.domains import same_site
from shared.pipeline.events import Article, Enclosure

# Below this many characters of text an entry is a teaser: in ``auto`` mode
# its page is fetched for the full article.
SUBSTANTIAL_CHARS: Final = 300
SUMMARY_CHARS: Final = 1000
_SEPARATORS: Final = r"(?:\s+[-|–—·:»/]\s+|:\s+)"


@lru_cache(maxsize=4096)
def _site_patterns(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    escaped = re.escape(name)
    return (
        re.compile(rf"{_SEPARATORS}{escaped}\s*$", re.IGNORECASE),
        re.compile(rf"^\s*{escaped}{_SEPARATORS}", re.IGNORECASE),
    )


def clean_title(title: str, site_names: list[str | None]) -> str:
    """Drop a known site name glued to a title: "Story - Site", "Site | Story".

    Only names the feed or the page declared are removed, so a title that
    merely contains a dash stays whole.
    """
    title = " ".join(title.split())
    for name in site_names:
        if not name:
            continue
        name = " ".join(name.split())
        if not name or name.casefold() == title.casefold():
            continue
        if name.casefold() not in title.casefold():
            continue
        for pattern in _site_patterns(name):
            stripped = pattern.sub("", title)
            if stripped != title and stripped.strip():
                return stripped.strip()
    return title


def entry_identity(entry: RawEntry, *, base_url: str) -> tuple[str | None, str | None]:
    """(canonical URL, GUID) of an entry as the feed gives them."""
    url = canonicalize_url(entry.link, base=base_url)
    guid = entry.guid
    if url is None and guid and guid.startswith(("http://", "https://")):
        url = canonicalize_url(guid)  # RSS guid isPermaLink
    return url, guid


def article_url(
    entry_url: str | None, *, page: PageContent | None, pinned_url: str | None = None
) -> tuple[str | None, str | None]:
    """(the article's URL, a canonical URL the page claimed and was refused).

    * ``pinned_url``, the URL this entry's article was already published
      under, keeps it there: a later version (a changed entry, a page that
      arrived late) updates that article instead of starting another;
    * else the page's canonical URL (``<link rel=canonical>`` or ``og:url``,
      whichever trafilatura reports) replaces the entry's link only when it is
      on the same registrable domain as the URL the page was fetched from,
      after redirects. Any page can claim any URL: honouring a foreign one
      would let it take over another publisher's article (its id, its
      duplicates, its updates). A refused claim is returned for the record;
    * a canonical URL naming a site's home page while the entry links to an
      article is ignored (a common CMS misconfiguration that would merge every
      article of the site into one).
    """
    kept = pinned_url or entry_url
    if page is None or not page.canonical_url:
        return kept, None
    claimed = canonicalize_url(page.canonical_url, base=page.url)
    if claimed is None or claimed == entry_url:
        return kept, None
    if not same_site(claimed, page.url):
        return kept, claimed
    if pinned_url or (entry_url and _is_home(claimed) and not _is_home(entry_url)):
        return kept, None
    return claimed, None


def _is_home(url: str) -> bool:
    return urlsplit(url).path in ("", "/")


@dataclass(frozen=True, slots=True)
class EntryContent:
    """The feed's own content of an entry: sanitised HTML with relative links
    resolved against ``link_base``, and its plain text."""

    html: str
    text: str
    link_base: str


def entry_content(entry: RawEntry, *, link_base: str) -> EntryContent:
    """``content:encoded`` / ``atom:content`` when the feed has it, else the summary."""
    clean = sanitize_html(entry.content_html or entry.summary_html, base_url=link_base)
    return EntryContent(html=clean, text=text_of_clean_html(clean), link_base=link_base)


def needs_page(text: str) -> bool:
    """Whether the feed gives only a teaser (``auto`` mode then fetches the page)."""
    return len(text) < SUBSTANTIAL_CHARS


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def build_article(
    entry: RawEntry,
    *,
    feed: ParsedFeed,
    feed_id: str,
    feed_url: str,
    base_url: str,
    fetched_at: datetime,
    page: PageContent | None = None,
    identity: tuple[str | None, str | None] | None = None,
    content: EntryContent | None = None,
    pinned_url: str | None = None,
) -> Article:
    """One canonical article. Dates fall back published -> updated -> page and
    are never invented: without any, ``date_source`` says "missing".

    ``identity`` and ``content`` are what :func:`entry_identity` and
    :func:`entry_content` return, computed here when not given. ``content`` is
    made again only when the article's URL is not the entry's (a canonical URL
    from the page, a pinned URL), so that its relative links resolve against it.
    The article's URL follows :func:`article_url` (``pinned_url`` is explained there).
    """
    url, guid = identity or entry_identity(entry, base_url=base_url)
    url, refused_canonical = article_url(url, page=page, pinned_url=pinned_url)
    if url is None and not guid:
        # Neither link nor GUID: identify the entry by what it says, so a
        # re-poll of the same entry maps to the same article.
        guid = "content:" + xxhash.xxh3_64_hexdigest(
            f"{entry.title}\x00{entry.summary_html}\x00{entry.content_html}".encode()
        )
    article_id = article_id_for(url=url, feed_id=feed_id, guid=guid)
    link_base = url or base_url
    if content is None or content.link_base != link_base:
        content = entry_content(entry, link_base=link_base)

    if entry.content_html and entry.summary_html and entry.summary_html != entry.content_html:
        summary = _truncate(html_to_text(entry.summary_html), SUMMARY_CHARS)
    else:
        summary = _truncate(content.text, SUMMARY_CHARS)
    if page is not None:
        content_html = sanitize_html(page.html)
        text = page.text
        content_source = "page"
    else:
        content_html = content.html
        text = content.text
        content_source = "feed"

    title = inline_text(entry.title) if entry.title else ""
    if not title and page is not None and page.title:
        title = page.title
    title = clean_title(title, [page.site_name if page else None, feed.title])

    if entry.published is not None:
        published, date_source = entry.published, "published"
    elif entry.updated is not None:
        published, date_source = entry.updated, "updated"
    elif page is not None and page.published is not None:
        published, date_source = page.published, "page"
    else:
        published, date_source = None, "missing"

    language = choose_language(
        entry.language,
        feed.language,
        page.language if page else None,
        text=f"{title}\n{text or summary}",
    )
    authors = entry.authors or (page.authors if page else [])
    enclosures = [
        Enclosure(url=u, type=e.type, length=e.length)
        for e in entry.enclosures
        if (u := canonicalize_url(e.url, base=link_base)) is not None
    ]
    return Article(
        article_id=article_id,
        feed_id=feed_id,
        feed_url=feed_url,
        url=url,
        guid=guid,
        title=title,
        authors=authors,
        categories=entry.categories,
        published_at=published,
        updated_at=entry.updated,
        date_source=date_source,
        language=language,
        summary=summary,
        content_html=content_html,
        text=text,
        enclosures=enclosures,
        source_format=feed.format,
        fetched_at=fetched_at,
        content_source=content_source,
        claimed_canonical_url=refused_canonical,
    )
