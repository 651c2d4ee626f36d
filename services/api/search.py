"""GET /search and GET /articles/{id}: the JSON contract of the index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from services.api.deps import State
from shared.index import DEFAULT_LIMIT, MAX_LIMIT, ArticleRecord, QuerySyntaxError, SearchPage

router = APIRouter(tags=["search"])

MAX_OFFSET = 1000
LANG_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$"


class Problem(BaseModel):
    detail: str


class SearchParams(BaseModel):
    q: str
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    lang: str | None = None
    feed: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def run_search(state: State, params: SearchParams) -> SearchPage:
    """Shared by the JSON endpoint and the HTML page; raises 400 on a bad query."""
    since, until = _utc(params.since), _utc(params.until)
    if since and until and since >= until:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="since must be before until")
    try:
        return await state.index.search(
            params.q,
            limit=params.limit,
            offset=params.offset,
            lang=params.lang,
            feed=params.feed,
            since=since,
            until=until,
        )
    except QuerySyntaxError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"bad query: {exc}") from exc


@router.get(
    "/search",
    response_model=SearchPage,
    responses={400: {"model": Problem, "description": "Query that cannot run."}},
    summary="Full-text search, ranked by relevance with a recency boost.",
)
async def search(
    state: State,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            description='Words (all required), "a phrase", -excluded, a or b.',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    lang: Annotated[
        str | None, Query(pattern=LANG_PATTERN, description="ISO 639-1 code, e.g. fr.")
    ] = None,
    feed: Annotated[str | None, Query(max_length=2048, description="Feed id or URL.")] = None,
    since: Annotated[datetime | None, Query(description="Published from, ISO 8601.")] = None,
    until: Annotated[datetime | None, Query(description="Published before, ISO 8601.")] = None,
) -> SearchPage:
    params = SearchParams(
        q=q, limit=limit, offset=offset, lang=lang, feed=feed, since=since, until=until
    )
    return await run_search(state, params)


@router.get(
    "/articles/{article_id}",
    response_model=ArticleRecord,
    responses={404: {"model": Problem}},
    summary="The full indexed record of one article, with the URLs of its duplicates.",
)
async def get_article(state: State, article_id: str) -> ArticleRecord:
    record = await state.index.get(article_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"article {article_id} not found")
    return record
