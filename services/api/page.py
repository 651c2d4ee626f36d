"""The search page at ``/``: server-rendered HTML, no JavaScript, no build step.

Jinja2 autoescapes every value; the only markup let through is the snippet,
which the index already escaped (see :mod:`shared.index.snippet`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from services.api.deps import State
from services.api.search import LANG_PATTERN, MAX_OFFSET, SearchParams, run_search
from shared.index import SearchHit
from shared.index.analysis import LANGUAGES

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE_SIZE = 10


def _safe_link(url: str | None) -> str | None:
    """Only http(s) links: an article URL is untrusted input (``javascript:``)."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def _source(hit: SearchHit) -> str:
    for url in (hit.url, hit.feed_url):
        host = urlsplit(url).hostname if url else None
        if host:
            return host.removeprefix("www.")
    return hit.feed_url


def _view(hit: SearchHit) -> dict[str, Any]:
    return {
        "title": hit.title or hit.url or hit.id,
        "link": _safe_link(hit.url),
        "source": _source(hit),
        "feed_url": hit.feed_url,
        "date": hit.published_at.strftime("%Y-%m-%d %H:%M UTC") if hit.published_at else None,
        "language": hit.language,
        "snippet": Markup(hit.snippet),  # noqa: S704 - escaped by the index, marks only
        "sources": hit.duplicates + 1,
    }


@router.get("/", response_class=HTMLResponse)
async def search_page(
    request: Request,
    state: State,
    q: Annotated[str, Query(max_length=500)] = "",
    lang: Annotated[str, Query(max_length=16)] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "q": q,
        "lang": lang,
        "languages": sorted(LANGUAGES),
        "hits": [],
        "total": None,
        "error": None,
        "prev_link": None,
        "next_link": None,
    }
    status_code = 200
    if q.strip():
        language = lang if re.fullmatch(LANG_PATTERN, lang) else None
        try:
            page = await run_search(
                state, SearchParams(q=q, lang=language, limit=PAGE_SIZE, offset=offset)
            )
        except HTTPException as exc:
            context["error"] = exc.detail
            status_code = exc.status_code
        else:
            context["total"] = page.total
            context["hits"] = [_view(h) for h in page.hits]
            context["first"] = offset + 1
            context["last"] = offset + len(page.hits)

            def link(to: int) -> str:
                return "/?" + urlencode({"q": q, "lang": lang, "offset": to})

            if offset > 0:
                context["prev_link"] = link(max(0, offset - PAGE_SIZE))
            if offset + PAGE_SIZE < min(page.total, MAX_OFFSET + PAGE_SIZE):
                context["next_link"] = link(offset + PAGE_SIZE)
    return templates.TemplateResponse(request, "search.html", context, status_code=status_code)
