"""The retry queue of deferred article pages, in Redis (keys in
:mod:`shared.pipeline.streams`).

* ``PAGE_RETRY_QUEUE``: zset member -> due time. Claiming (``page_claim.lua``)
  moves a due member's score to its lease expiry, like the feed schedule: any
  parser replica can take a job, none takes one another holds, and the jobs
  of a replica that died come due again when their lease runs out.
* ``PAGE_RETRY_JOB_PREFIX`` + member: the job (:class:`PageJob` JSON), with
  the dedup window as TTL, so nothing outlives the article it completes.

Jobs are written by the parser's stage handler in the same MULTI/EXEC as the
article they complete (:meth:`PageQueue.enqueue_op`), so a job never exists
for an article that was not published; a newer version of the entry replaces
or clears it the same way. A claimed job is settled by ``page_settle.lua``
only if it is still the job claimed, publishing the completed article,
remembering the page and removing the job in one atomic step.

The queue is bounded by ``FEEDPIPE_PAGE_RETRY_MAX_QUEUED`` (checked before a
document's jobs are added, so it can be passed by one document's worth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from services.parser.retry import PageJob
from shared.pipeline import streams
from shared.pipeline.redisconn import as_text
from shared.pipeline.stage import TxOp

_CLAIM_LUA = (Path(__file__).parent / "page_claim.lua").read_text()
_SETTLE_LUA = (Path(__file__).parent / "page_settle.lua").read_text()


def job_key(member: str) -> str:
    return f"{streams.PAGE_RETRY_JOB_PREFIX}{member}"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed member, its job as stored (compared when settling), and the job
    decoded (None when it is gone or unreadable: the member is then dropped)."""

    member: str
    raw: bytes
    job: PageJob | None


class PageQueue:
    def __init__(self, redis: Redis, *, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl
        self._claim = redis.register_script(_CLAIM_LUA)
        self._settle = redis.register_script(_SETTLE_LUA)

    # --- from the stage handler, inside its commit ------------------------------
    def enqueue_op(self, job: PageJob, *, due: float) -> TxOp:
        key, payload, member, ttl = job_key(job.member), job.model_dump_json(), job.member, self.ttl

        def op(pipe: Any) -> None:
            pipe.set(key, payload, ex=ttl)
            pipe.zadd(streams.PAGE_RETRY_QUEUE, {member: due})

        return op

    def clear_op(self, member: str) -> TxOp:
        """Forget a pending retry of this page for this feed (a newer version of
        the entry got its page, or needs none)."""
        key = job_key(member)

        def op(pipe: Any) -> None:
            pipe.delete(key)
            pipe.zrem(streams.PAGE_RETRY_QUEUE, member)

        return op

    async def size(self) -> int:
        return int(await self.redis.zcard(streams.PAGE_RETRY_QUEUE))

    # --- from the completer ---------------------------------------------------------
    async def claim(self, *, now: float, limit: int, lease_until: float) -> list[Claimed]:
        raw = await self._claim(
            keys=[streams.PAGE_RETRY_QUEUE],
            args=[repr(now), limit, repr(lease_until), streams.PAGE_RETRY_JOB_PREFIX],
        )
        claimed: list[Claimed] = []
        for member, data in zip(raw[::2], raw[1::2], strict=True):
            job: PageJob | None = None
            if data:
                try:
                    job = PageJob.model_validate_json(data)
                except ValidationError:
                    job = None
            claimed.append(Claimed(as_text(member), bytes(data or b""), job))
        return claimed

    async def again(self, claimed: Claimed, job: PageJob, *, due: float) -> bool:
        """Put the job back, due at ``due``; False when it changed meanwhile."""
        return await self._settle_call(
            claimed, "again", job.model_dump_json(), repr(due), str(self.ttl)
        )

    async def done(
        self,
        claimed: Claimed,
        *,
        event: bytes | None = None,
        state: tuple[str, bytes] | None = None,
    ) -> bool:
        """Remove the job, publishing ``event`` to the parsed stream and storing
        the page ``state`` (key, value) with it; False when it changed meanwhile."""
        state_key, state_value = state or (streams.PAGE_STATE_PREFIX, b"")
        return await self._settle_call(
            claimed,
            "done",
            event or b"",
            streams.DATA_FIELD,
            state_value,
            str(self.ttl),
            state_key=state_key,
        )

    async def _settle_call(
        self, claimed: Claimed, mode: str, *args: str | bytes, state_key: str = ""
    ) -> bool:
        keys = [
            streams.PAGE_RETRY_QUEUE,
            job_key(claimed.member),
            streams.PARSED,
            state_key or streams.PAGE_STATE_PREFIX,
        ]
        result = await self._settle(keys=keys, args=[claimed.member, claimed.raw, mode, *args])
        return bool(result)
