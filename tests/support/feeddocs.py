"""The documents a feed site serves: RSS 2.0, Atom and JSON Feed 1.1 documents
listing articles, and the article pages they link to, wrapped in the template of
a news site (navigation, cookie banner, teasers, reader comments, footer and,
to reach a given page size, an inline configuration script)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import format_datetime

from tests.support.articles import Article

KINDS = ("rss", "atom", "json")
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as a feed lists it."""

    article: Article
    link: str  # what the entry links to (tracking parameters included)
    id: str  # guid / id: the article's permalink
    body_html: str  # the entry's content: the article's HTML or a short summary


def paragraphs_html(article: Article) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)


def render_feed(kind: str, *, title: str, home: str, entries: Sequence[Entry]) -> tuple[bytes, str]:
    """The feed document of ``kind`` (rss, atom, json) and its content type."""
    esc = html.escape
    if kind == "rss":
        items = "".join(
            f"<item><title>{esc(e.article.title)}</title><link>{esc(e.link)}</link>"
            f"<guid>{esc(e.id)}</guid><pubDate>{format_datetime(e.article.published)}</pubDate>"
            f"<description>{esc(e.body_html)}</description></item>"
            for e in entries
        )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{esc(title)}</title><link>{esc(home)}</link>"
            f"<description>{esc(title)}</description>{items}</channel></rss>"
        )
        return doc.encode(), CONTENT_TYPES[kind]
    if kind == "atom":
        updated = max((e.article.published for e in entries), default=None)
        entries_xml = "".join(
            f"<entry><title>{esc(e.article.title)}</title><link href='{esc(e.link)}'/>"
            f"<id>{esc(e.id)}</id><updated>{e.article.published.isoformat()}</updated>"
            f"<content type='html'>{esc(e.body_html)}</content></entry>"
            for e in entries
        )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{esc(title)}</title><id>{esc(home)}</id>"
            f"<updated>{updated.isoformat() if updated else '1970-01-01T00:00:00+00:00'}</updated>"
            f"{entries_xml}</feed>"
        )
        return doc.encode(), CONTENT_TYPES[kind]
    if kind == "json":
        items_json = [
            {
                "id": e.id,
                "url": e.link,
                "title": e.article.title,
                "content_html": e.body_html,
                "date_published": e.article.published.isoformat(),
            }
            for e in entries
        ]
        data = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "home_page_url": home,
            "items": items_json,
        }
        return json.dumps(data).encode(), CONTENT_TYPES[kind]
    raise ValueError(f"unknown feed kind {kind!r}: one of {', '.join(KINDS)}")


class PageTemplate:
    """A news site's page around an article, about ``page_kb`` kilobytes (at
    least the ~13 kB the template itself takes)."""

    def __init__(self, site_name: str = "Test Daily", page_kb: int = 0) -> None:
        name = html.escape(site_name)
        nav = "".join(f"<li><a href='/section/{i}'>Section {i} news</a></li>" for i in range(60))
        teaser = (
            "<li class='teaser'><a href='/story/{0}'><img src='/img/{0}.jpg' alt=''>"
            "<span>Unrelated headline number {0} about the weekend</span></a></li>"
        )
        related = "".join(teaser.format(i) for i in range(40))
        comments = "".join(
            f"<div class='comment'><b>reader{i}</b><p>I have been saying this for years, "
            f"nobody listens to the people who actually live here. Comment {i}.</p></div>"
            for i in range(8)
        )
        footer = "".join(f"<a href='/about/{i}'>Corporate link {i}</a> " for i in range(50))
        self.name = name
        self.head = (
            "<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<meta property='og:site_name' content='{name}'>"
            # Most news pages date themselves; without it htmldate searches the whole page.
            "<meta property='article:published_time' content='{published}'>"
            "<link rel='stylesheet' href='/static/site.css'>"
        )
        self.before = (
            f"<body><header><div class='logo'>{name}</div><nav><ul>{nav}</ul></nav></header>"
            "<div class='cookie-banner'>We use cookies to improve your experience. Accept all</div>"
            "<div class='layout'><main>"
        )
        after = (
            "</main>"
            f"<aside><h3>Recent Posts</h3><ul>{related}</ul></aside>"
            f"<section class='comments'><h3>Comments</h3>{comments}</section>"
            f"</div><footer>{footer}<p>Copyright {name}. All rights reserved.</p></footer>"
        )
        size = len(self.head) + len(self.before) + len(after)
        pad = max(page_kb * 1024 - size - 4000, 0)  # the rest as an inline config script
        script = (
            "<script>window.__CONFIG__=" + json.dumps({"k": "x" * pad}) + ";</script>"
            if pad
            else ""
        )
        self.after = after.replace("</footer>", "</footer>" + script) + "</body></html>"

    def render(self, article: Article, *, canonical: str) -> bytes:
        title = html.escape(article.title)
        head = self.head.replace("{lang}", article.language or "en").replace(
            "{published}", article.published.isoformat()
        )
        return (
            f"{head}<title>{title} | {self.name}</title>"
            f"<link rel='canonical' href='{html.escape(canonical)}'></head>"
            f"{self.before}<article><h1>{title}</h1>"
            f"<p class='byline'>By Staff Reporter</p>{paragraphs_html(article)}</article>"
            f"{self.after}"
        ).encode()
