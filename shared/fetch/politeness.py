"""Per-host politeness: a concurrency limit, a minimum delay between requests and
a ``Retry-After`` block, shared by every process through Redis (or kept in
memory when no Redis is given).

Redis layout (prefix :data:`shared.pipeline.streams.HOST_PREFIX`):

* ``…<host>:slots`` zset token -> expiry: requests in flight; a crashed
  process's slots expire instead of leaking;
* ``…<host>:next`` earliest time of the next request (per-host delay);
* ``…<host>:blocked`` time until which the host asked us to wait (429/503).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared.pipeline import streams
from shared.pipeline.redisconn import as_text


class Admission(StrEnum):
    GRANTED = "granted"
    BUSY = "busy"  # per-host concurrency limit reached
    WAIT = "wait"  # per-host delay not yet elapsed
    BLOCKED = "blocked"  # the host sent Retry-After


@dataclass(frozen=True, slots=True)
class GateDecision:
    admission: Admission
    wait: float = 0.0  # seconds until a retry may succeed (0 when unknown)


class HostGate(Protocol):
    async def try_acquire(self, host: str, token: str, *, now: float) -> GateDecision: ...
    async def release(self, host: str, token: str) -> None: ...
    async def block(self, host: str, *, until: float, now: float) -> None: ...
    async def blocked_until(self, host: str) -> float | None: ...
    async def aclose(self) -> None: ...


# The scripts live beside this module: host_acquire.lua checks and takes a slot
# atomically across processes; host_block.lua only ever extends a block.
_ACQUIRE_LUA = (Path(__file__).parent / "host_acquire.lua").read_text()
_BLOCK_LUA = (Path(__file__).parent / "host_block.lua").read_text()


def host_key(host: str, part: str) -> str:
    return f"{streams.HOST_PREFIX}{host.lower()}:{part}"


class RedisHostGate:
    """The host gate in Redis, with every call of one event-loop turn sent in a
    single pipeline.

    Written by hand because it sits on the hot path of every fetch: with 100
    fetches in flight, one round trip per acquire and per release cost more CPU
    than the HTTP request itself (see docs/benchmarks/poller.md). Releases are
    fire-and-forget (a lost one only holds a slot until its TTL).
    """

    def __init__(self, redis: Redis, *, limit: int, delay: float, slot_ttl: float) -> None:
        self.redis = redis
        self.limit = limit
        self.delay = delay
        self.slot_ttl = slot_ttl
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._block = redis.register_script(_BLOCK_LUA)
        self._loaded = False
        self._acquires: list[tuple[str, str, float, asyncio.Future[GateDecision]]] = []
        self._releases: list[tuple[str, str]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def try_acquire(self, host: str, token: str, *, now: float) -> GateDecision:
        future: asyncio.Future[GateDecision] = asyncio.get_running_loop().create_future()
        self._acquires.append((host, token, now, future))
        self._schedule_flush()
        return await future

    async def release(self, host: str, token: str) -> None:
        self._releases.append((host, token))
        self._schedule_flush()

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # gather the calls made in this turn of the loop
        while self._acquires or self._releases:
            acquires, self._acquires = self._acquires, []
            releases, self._releases = self._releases, []
            try:
                results = await self._run(acquires, releases)
            except Exception as exc:
                for *_, future in acquires:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), raw in zip(acquires, results, strict=False):
                if future.done():
                    continue
                if isinstance(raw, Exception):
                    future.set_exception(raw)
                else:
                    kind, wait = raw
                    future.set_result(GateDecision(Admission(as_text(kind)), float(as_text(wait))))

    async def _run(
        self,
        acquires: list[tuple[str, str, float, asyncio.Future[GateDecision]]],
        releases: list[tuple[str, str]],
    ) -> list[Any]:
        for attempt in range(2):
            if not self._loaded:
                await self.redis.script_load(_ACQUIRE_LUA)
                self._loaded = True
            pipe = self.redis.pipeline(transaction=False)
            for host, token, now, _ in acquires:
                keys = (host_key(host, "slots"), host_key(host, "next"), host_key(host, "blocked"))
                # EVALSHA directly: a Script object would add a SCRIPT EXISTS
                # round trip to every pipeline.
                pipe.evalsha(
                    self._acquire.sha,
                    3,
                    *keys,
                    repr(now),
                    token,
                    self.limit,
                    repr(self.delay),
                    repr(self.slot_ttl),
                )
            for host, token in releases:
                pipe.zrem(host_key(host, "slots"), token)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in results):
                self._loaded = False  # the server restarted or flushed its scripts
                releases = []
                continue
            return results[: len(acquires)]
        return results[: len(acquires)]

    async def block(self, host: str, *, until: float, now: float) -> None:
        await self._block(
            keys=[host_key(host, "blocked")], args=[repr(until), repr(max(until - now, 0.0))]
        )

    async def blocked_until(self, host: str) -> float | None:
        raw = await self.redis.get(host_key(host, "blocked"))
        if raw is None:
            return None
        value = float(as_text(raw))
        return value if value > time.time() else None

    async def aclose(self) -> None:
        """Send releases still queued."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        if self._releases:
            await self._flush()


@dataclass(slots=True)
class _HostState:
    slots: dict[str, float] = field(default_factory=dict)
    next_at: float = 0.0
    blocked_until: float = 0.0


class LocalHostGate:
    """The same rules for a single process (no Redis)."""

    def __init__(self, *, limit: int, delay: float, slot_ttl: float) -> None:
        self.limit = limit
        self.delay = delay
        self.slot_ttl = slot_ttl
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        return self._hosts.setdefault(host.lower(), _HostState())

    async def try_acquire(self, host: str, token: str, *, now: float) -> GateDecision:
        state = self._state(host)
        if state.blocked_until > now:
            return GateDecision(Admission.BLOCKED, state.blocked_until - now)
        state.slots = {t: exp for t, exp in state.slots.items() if exp > now}
        if len(state.slots) >= self.limit:
            return GateDecision(Admission.BUSY)
        if self.delay > 0:
            if state.next_at > now:
                return GateDecision(Admission.WAIT, state.next_at - now)
            state.next_at = now + self.delay
        state.slots[token] = now + self.slot_ttl
        return GateDecision(Admission.GRANTED)

    async def release(self, host: str, token: str) -> None:
        self._state(host).slots.pop(token, None)

    async def block(self, host: str, *, until: float, now: float) -> None:
        state = self._state(host)
        state.blocked_until = max(state.blocked_until, until)

    async def blocked_until(self, host: str) -> float | None:
        value = self._state(host).blocked_until
        return value if value > time.time() else None

    async def aclose(self) -> None:
        return None
