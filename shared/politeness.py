"""Per-host politeness: a concurrency limit, a minimum delay between requests and
a ``Retry-After`` block, shared by every process through Redis (or kept in
memory when no Redis is given).

Redis layout (prefix :data:`shared.streams.HOST_PREFIX`):

* ``…<host>:slots`` zset token -> expiry: requests in flight; a crashed
  process's slots expire instead of leaking;
* ``…<host>:next`` earliest time of the next request (per-host delay);
* ``…<host>:blocked`` time until which the host asked us to wait (429/503).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from redis.asyncio import Redis

from shared import streams


class Admission(StrEnum):
    GRANTED = "granted"
    BUSY = "busy"  # per-host concurrency limit reached
    WAIT = "wait"  # per-host delay not yet elapsed
    BLOCKED = "blocked"  # the host sent Retry-After


@dataclass(frozen=True, slots=True)
class Decision:
    admission: Admission
    wait: float = 0.0  # seconds until a retry may succeed (0 when unknown)


class HostGate(Protocol):
    async def try_acquire(self, host: str, token: str, *, now: float) -> Decision: ...
    async def release(self, host: str, token: str) -> None: ...
    async def block(self, host: str, *, until: float, now: float) -> None: ...
    async def blocked_until(self, host: str) -> float | None: ...


def host_key(host: str, part: str) -> str:
    return f"{streams.HOST_PREFIX}{host.lower()}:{part}"


# KEYS: slots, next, blocked. ARGV: now, token, limit, delay, slot_ttl.
# One script so that checking and taking a slot is atomic across processes.
_ACQUIRE_LUA = """
local now = tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then return {'blocked', tostring(blocked - now)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {'busy', '0'} end
local delay = tonumber(ARGV[4])
if delay > 0 then
  local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
  if nxt > now then return {'wait', tostring(nxt - now)} end
  redis.call('SET', KEYS[2], tostring(now + delay), 'PX', math.ceil(delay * 1000) + 1000)
end
local ttl = tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return {'granted', '0'}
"""

# Only ever extend a block: a short Retry-After must not cut a longer one.
_BLOCK_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local untilts = tonumber(ARGV[1])
if untilts > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisHostGate:
    def __init__(self, redis: Redis, *, limit: int, delay: float, slot_ttl: float) -> None:
        self.redis = redis
        self.limit = limit
        self.delay = delay
        self.slot_ttl = slot_ttl
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._block = redis.register_script(_BLOCK_LUA)

    async def try_acquire(self, host: str, token: str, *, now: float) -> Decision:
        keys = [host_key(host, "slots"), host_key(host, "next"), host_key(host, "blocked")]
        kind, wait = await self._acquire(
            keys=keys, args=[repr(now), token, self.limit, repr(self.delay), repr(self.slot_ttl)]
        )
        return Decision(Admission(_text(kind)), float(_text(wait)))

    async def release(self, host: str, token: str) -> None:
        await self.redis.zrem(host_key(host, "slots"), token)

    async def block(self, host: str, *, until: float, now: float) -> None:
        await self._block(
            keys=[host_key(host, "blocked")], args=[repr(until), repr(max(until - now, 0.0))]
        )

    async def blocked_until(self, host: str) -> float | None:
        raw = await self.redis.get(host_key(host, "blocked"))
        if raw is None:
            return None
        value = float(_text(raw))
        return value if value > time.time() else None


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

    async def try_acquire(self, host: str, token: str, *, now: float) -> Decision:
        state = self._state(host)
        if state.blocked_until > now:
            return Decision(Admission.BLOCKED, state.blocked_until - now)
        state.slots = {t: exp for t, exp in state.slots.items() if exp > now}
        if len(state.slots) >= self.limit:
            return Decision(Admission.BUSY)
        if self.delay > 0:
            if state.next_at > now:
                return Decision(Admission.WAIT, state.next_at - now)
            state.next_at = now + self.delay
        state.slots[token] = now + self.slot_ttl
        return Decision(Admission.GRANTED)

    async def release(self, host: str, token: str) -> None:
        self._state(host).slots.pop(token, None)

    async def block(self, host: str, *, until: float, now: float) -> None:
        state = self._state(host)
        state.blocked_until = max(state.blocked_until, until)

    async def blocked_until(self, host: str) -> float | None:
        value = self._state(host).blocked_until
        return value if value > time.time() else None
