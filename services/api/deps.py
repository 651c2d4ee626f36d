"""What the routes share: the open index, the feed and output registries, the token check."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from shared.feeds import FeedRegistry
from shared.index import Index
from shared.outputs import OutputRegistry
from shared.settings import Settings


@dataclass(slots=True)
class ApiState:
    settings: Settings
    index: Index
    redis: Redis
    registry: FeedRegistry
    outputs: OutputRegistry


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="Required when FEEDPIPE_API_TOKEN is set.")


def require_token(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = state.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is required for this request",
            headers={"WWW-Authenticate": "Bearer"},
        )
