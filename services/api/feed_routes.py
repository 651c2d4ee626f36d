"""Feed management: GET /feeds, POST /feeds, DELETE /feeds/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field, HttpUrl

from services.api.deps import State, require_token
from shared.pipeline.events import FullContent

router = APIRouter(prefix="/feeds", tags=["feeds"])


class NewFeed(BaseModel):
    url: HttpUrl
    interval: float | None = Field(default=None, gt=0, description="Fixed poll interval (s).")
    full_content: FullContent = FullContent.AUTO


@router.get("", summary="Every registered feed with its health.")
async def list_feeds(state: State) -> list[dict[str, Any]]:
    return [feed.public() for feed in await state.registry.all()]


@router.post(
    "",
    dependencies=[Depends(require_token)],
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Already registered; settings updated."}},
    summary="Register a feed (bearer token required when FEEDPIPE_API_TOKEN is set).",
)
async def add_feed(state: State, body: NewFeed, response: Response) -> dict[str, Any]:
    interval = body.interval
    if interval is not None and interval < state.settings.min_interval:
        raise HTTPException(
            422,
            detail=f"interval {interval:g}s is below the minimum of"
            f" {state.settings.min_interval:g}s (FEEDPIPE_MIN_INTERVAL)",
        )
    feed, created = await state.registry.add(
        str(body.url), interval=interval, full_content=body.full_content
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return feed.public()


@router.delete(
    "/{feed_ref:path}",
    dependencies=[Depends(require_token)],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a feed by id or URL (bearer token required when set).",
)
async def remove_feed(state: State, feed_ref: Annotated[str, "feed id or URL"]) -> Response:
    if not await state.registry.remove(feed_ref):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"feed {feed_ref} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
