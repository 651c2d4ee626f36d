"""Read-only views of stream state (lag, pending, DLQ) for metrics and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.pipeline.redisconn import as_text

# Redis 6.2 (the embedded server) reports no `lag` in XINFO GROUPS; counting
# unread entries there is an XRANGE walk, so it stops at this many.
LAG_COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class GroupInfo:
    stream: str
    group: str
    length: int
    lag: int
    pending: int
    consumers: int


async def group_info(redis: Redis, stream: str, group: str) -> GroupInfo:
    try:
        length = int(await redis.xlen(stream))
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # the stream does not exist yet
        return GroupInfo(stream, group, 0, 0, 0, 0)
    for g in groups:
        name = as_text(g["name"])
        if name != group:
            continue
        lag = g.get("lag")
        if lag is None:
            last = as_text(g["last-delivered-id"])
            rest = await redis.xrange(stream, min=f"({last}", max="+", count=LAG_COUNT_CAP)
            lag = len(rest or [])
        return GroupInfo(stream, group, length, int(lag), int(g["pending"]), int(g["consumers"]))
    return GroupInfo(stream, group, length, length, 0, 0)
