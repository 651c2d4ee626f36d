"""The feed registry in Redis: per-feed settings and health, and the schedule.

Layout (names in :mod:`shared.streams`):

* ``feedpipe:feed:<id>`` hash: settings and state of one feed (fields of :class:`Feed`);
* ``feedpipe:feeds`` set of ids; ``feedpipe:feed-by-url`` hash url -> id;
* ``feedpipe:schedule`` zset id -> next poll time. Claiming a due feed moves its
  score forward by the lease, atomically (Lua), so no two pollers take the same
  feed and a crashed poller's feeds come due again when the lease runs out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import xxhash
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared import streams
from shared.events import FullContent
from shared.redisconn import as_text


class FeedStatus(StrEnum):
    NEW = "new"  # never polled
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    NETWORK_ERROR = "network_error"
    TOO_LARGE = "too_large"
    NOT_A_FEED = "not_a_feed"
    REFUSED = "refused"  # SSRF guard
    PARSE_ERROR = "parse_error"
    GONE = "gone"  # HTTP 410: disabled


HEALTHY = {FeedStatus.NEW, FeedStatus.OK, FeedStatus.NOT_MODIFIED}


def feed_id_for(url: str) -> str:
    """Stable id from the URL a feed was registered with (kept across redirects)."""
    return xxhash.xxh64_hexdigest(url.strip().encode())


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


class Feed(BaseModel):
    feed_id: str
    url: str
    title: str | None = None
    category: str | None = Field(default=None, description="OPML outline path, '/'-joined.")
    site_url: str | None = None
    interval: float | None = Field(default=None, description="Fixed interval (s); None adapts.")
    full_content: FullContent = FullContent.AUTO
    enabled: bool = True
    added_at: float = 0.0
    # state
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: FeedStatus = FeedStatus.NEW
    http_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    last_polled_at: float | None = None
    next_poll_at: float | None = None
    last_ok_at: float | None = None
    publish_rate: float | None = Field(default=None, description="Observed entries per day.")
    feed_ttl: float | None = Field(
        default=None, description="Interval the feed asks for (<ttl>, sy:updatePeriod), seconds."
    )
    last_entry_count: int | None = None
    suggested_feed: str | None = None

    @property
    def healthy(self) -> bool:
        return self.last_error is None and self.last_status in HEALTHY

    def public(self) -> dict[str, Any]:
        """The contract of ``feedpipe feeds list --json`` and ``GET /feeds``."""
        return {
            "id": self.feed_id,
            "url": self.url,
            "title": self.title,
            "category": self.category,
            "enabled": self.enabled,
            "full_content": self.full_content.value,
            "interval": self.interval,
            "last_status": self.last_status.value,
            "http_status": self.http_status,
            "last_error": self.last_error,
            "error_count": self.error_count,
            "last_polled_at": _iso(self.last_polled_at),
            "next_poll_at": _iso(self.next_poll_at),
            "publish_rate_per_day": self.publish_rate,
            "suggested_feed": self.suggested_feed,
        }


def _iso(value: float | None) -> str | None:
    ts = _ts(value)
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def _encode(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, StrEnum):
            out[key] = value.value
        else:
            out[key] = str(value)
    return out


_NULLABLE = {
    name for name, f in Feed.model_fields.items() if not f.is_required() and f.default is None
}


def _decode(raw: Any) -> Feed:
    data: dict[str, Any] = {}
    for k, v in raw.items():
        key, value = as_text(k), as_text(v)
        if value == "" and key in _NULLABLE:
            data[key] = None
        elif key == "enabled":
            data[key] = value == "1"
        else:
            data[key] = value
    return Feed.model_validate(data)


# Claim up to ARGV[2] feeds due at ARGV[1] by pushing their score to ARGV[3]
# (now + lease). ZRANGEBYSCORE + ZADD inside one script is atomic, so two
# pollers never receive the same feed.
_CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
end
return due
"""

# The same claim, also returning each claimed feed's hash ({id, fields, ...}),
# so a poller needs one round trip per batch instead of two. KEYS[1] schedule;
# ARGV: now, limit, lease_until, feed key prefix.
_CLAIM_FEEDS_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[4] .. id)
end
return out
"""

# Reschedule only if the caller still holds the lease (score == ARGV[2]); a
# poller whose lease expired and was re-claimed must not overwrite the new one.
_RELEASE_LUA = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


# HSET only when the feed hash still exists: a feed removed while it was being
# polled must not come back as a partial hash.
_UPDATE_IF_EXISTS_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
  return 1
end
return 0
"""

# Move a feed to a new URL unless that URL already belongs to another feed.
# KEYS: feed-by-url, feed hash. ARGV: feed id, old url, new url.
_CHANGE_URL_LUA = """
local other = redis.call('HGET', KEYS[1], ARGV[3])
if other and other ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'url', ARGV[3])
return 1
"""


# One poll's outcome in one atomic call:
# 1. if the feed still exists: publish the fetched document (XADD) and write
#    the state fields -- together, so the parser can never record a parse error
#    for the new document before the poller marks it fetched;
# 2. with keep_parse_error, a feed the parser marked broken keeps its status
#    and error (a 304 / same-hash body is still the broken document);
# 3. move the schedule entry if the caller still holds the lease.
# KEYS: feed hash, schedule, fetched stream.
# ARGV: feed id, lease_until, next_poll_at, keep_parse_error (0/1), payload
# ('' = nothing to publish), data field name, then field/value pairs.
_POLL_RESULT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[5] ~= '' then
    redis.call('XADD', KEYS[3], '*', ARGV[6], ARGV[5])
  end
  local keep = ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'last_status') == 'parse_error'
  local fields = {}
  for i = 7, #ARGV, 2 do
    local k = ARGV[i]
    if not (keep and (k == 'last_status' or k == 'last_error' or k == 'error_count'
                      or k == 'last_ok_at')) then
      fields[#fields + 1] = k
      fields[#fields + 1] = ARGV[i + 1]
    end
  end
  if #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


class FeedRegistry:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM_LUA)
        self._claim_feeds = redis.register_script(_CLAIM_FEEDS_LUA)
        self._release = redis.register_script(_RELEASE_LUA)
        self._update_if_exists = redis.register_script(_UPDATE_IF_EXISTS_LUA)
        self._change_url = redis.register_script(_CHANGE_URL_LUA)
        self._poll_result = redis.register_script(_POLL_RESULT_LUA)

    async def add(
        self,
        url: str,
        *,
        interval: float | None = None,
        full_content: FullContent = FullContent.AUTO,
        title: str | None = None,
        category: str | None = None,
        site_url: str | None = None,
        now: float | None = None,
    ) -> tuple[Feed, bool]:
        """Register ``url``; returns (feed, created). Adding a known URL updates
        its settings only where a value is given."""
        url = url.strip()
        existing = await self.redis.hget(streams.FEED_BY_URL, url)
        if existing:
            feed_id = as_text(existing)
            updates = {
                k: v
                for k, v in {
                    "interval": interval,
                    "title": title,
                    "category": category,
                    "site_url": site_url,
                }.items()
                if v is not None
            }
            if full_content is not FullContent.AUTO:
                updates["full_content"] = full_content
            if updates:
                await self.redis.hset(streams.feed_key(feed_id), mapping=_encode(updates))  # type: ignore[arg-type]
            feed = await self.get(feed_id)
            assert feed is not None
            return feed, False
        now = time.time() if now is None else now
        feed = Feed(
            feed_id=feed_id_for(url),
            url=url,
            title=title,
            category=category,
            site_url=site_url,
            interval=interval,
            full_content=full_content,
            added_at=now,
            next_poll_at=now,
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(streams.feed_key(feed.feed_id), mapping=_encode(feed.model_dump()))  # type: ignore[arg-type]
        pipe.sadd(streams.FEEDS_ALL, feed.feed_id)
        pipe.hset(streams.FEED_BY_URL, url, feed.feed_id)
        pipe.zadd(streams.SCHEDULE, {feed.feed_id: now})
        await pipe.execute()
        return feed, True

    async def resolve(self, ref: str) -> str | None:
        """A feed id from an id or a URL."""
        if await self.redis.sismember(streams.FEEDS_ALL, ref):
            return ref
        found = await self.redis.hget(streams.FEED_BY_URL, ref.strip())
        return as_text(found) if found else None

    async def remove(self, ref: str) -> bool:
        feed_id = await self.resolve(ref)
        if feed_id is None:
            return False
        feed = await self.get(feed_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(streams.feed_key(feed_id))
        pipe.srem(streams.FEEDS_ALL, feed_id)
        pipe.zrem(streams.SCHEDULE, feed_id)
        if feed is not None:
            pipe.hdel(streams.FEED_BY_URL, feed.url)
        await pipe.execute()
        return True

    async def get(self, feed_id: str) -> Feed | None:
        raw = await self.redis.hgetall(streams.feed_key(feed_id))
        return _decode(raw) if raw else None

    async def get_many(self, feed_ids: Sequence[str]) -> list[Feed]:
        if not feed_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for feed_id in feed_ids:
            pipe.hgetall(streams.feed_key(feed_id))
        return [_decode(raw) for raw in await pipe.execute() if raw]

    async def ids(self) -> list[str]:
        return sorted(as_text(m) for m in await self.redis.smembers(streams.FEEDS_ALL))

    async def all(self) -> list[Feed]:
        feeds = await self.get_many(await self.ids())
        return sorted(feeds, key=lambda f: (f.category or "", f.title or "", f.url))

    async def update(self, feed_id: str, **fields: Any) -> None:
        """Write state fields of a feed that still exists."""
        key = streams.feed_key(feed_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.exists(key)
        pipe.hset(key, mapping=_encode(fields))  # type: ignore[arg-type]
        exists, _ = await pipe.execute()
        if not exists:  # removed meanwhile: do not resurrect a partial hash
            await self.redis.delete(key)

    async def record_parse(
        self,
        feed_id: str,
        *,
        error: str | None,
        entry_count: int = 0,
        publish_rate: float | None = None,
        feed_ttl: float | None = None,
        title: str | None = None,
        site_url: str | None = None,
    ) -> None:
        """What the parser learnt about a feed document (or why it could not parse it)."""
        key = streams.feed_key(feed_id)
        if not await self.redis.exists(key):
            return
        fields: dict[str, Any]
        if error is not None:
            fields = {"last_status": FeedStatus.PARSE_ERROR, "last_error": error}
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, mapping=_encode(fields))  # type: ignore[arg-type]
            pipe.hincrby(key, "error_count", 1)
            await pipe.execute()
            return
        fields = {
            "last_entry_count": entry_count,
            "publish_rate": publish_rate,
            "feed_ttl": feed_ttl,
        }
        current = await self.get(feed_id)
        if current is not None:
            if current.last_status is FeedStatus.PARSE_ERROR:
                fields |= {"last_status": FeedStatus.OK, "last_error": None, "error_count": 0}
            if not current.title and title:
                fields["title"] = title
            if not current.site_url and site_url:
                fields["site_url"] = site_url
        await self.update(feed_id, **fields)

    async def set_enabled(self, feed_id: str, enabled: bool, *, now: float | None = None) -> None:
        await self.update(feed_id, enabled=enabled)
        if enabled:
            await self.redis.zadd(streams.SCHEDULE, {feed_id: time.time() if now is None else now})
        else:
            await self.redis.zrem(streams.SCHEDULE, feed_id)

    async def change_url(self, feed_id: str, old_url: str, new_url: str) -> bool:
        """A permanent redirect moved the feed: keep its id, follow the new URL.
        False (nothing changed) when the new URL is another registered feed."""
        done = await self._change_url(
            keys=[streams.FEED_BY_URL, streams.feed_key(feed_id)],
            args=[feed_id, old_url, new_url],
        )
        return bool(done)

    # --- batched writes (the poller queues many feeds' results in one pipeline) --
    async def queue_update(self, pipe: Pipeline, feed_id: str, fields: dict[str, Any]) -> None:
        """Queue an update of a feed's fields that is skipped if the feed is gone."""
        flat: list[str] = []
        for key, value in _encode(fields).items():
            flat += [key, value]
        if flat:
            await self._update_if_exists(keys=[streams.feed_key(feed_id)], args=flat, client=pipe)

    async def queue_reschedule(
        self, pipe: Pipeline, feed_id: str, *, lease_until: float, next_poll_at: float
    ) -> None:
        await self._release(
            keys=[streams.SCHEDULE], args=[feed_id, lease_until, next_poll_at], client=pipe
        )

    async def queue_poll_result(
        self,
        pipe: Pipeline,
        feed_id: str,
        fields: dict[str, Any],
        *,
        lease_until: float,
        next_poll_at: float,
        publish: str | bytes | None = None,
        keep_parse_error: bool = False,
    ) -> None:
        """Queue one poll's outcome as one atomic script call: ``publish`` (an
        event's JSON) goes to :data:`streams.FETCHED` together with the state
        ``fields``, then the lease-checked reschedule. With ``keep_parse_error``
        the status fields are not written over a ``parse_error``."""
        args: list[Any] = [
            feed_id,
            lease_until,
            next_poll_at,
            "1" if keep_parse_error else "0",
            publish if publish is not None else "",
            streams.DATA_FIELD,
        ]
        for key, value in _encode(fields).items():
            args += [key, value]
        await self._poll_result(
            keys=[streams.feed_key(feed_id), streams.SCHEDULE, streams.FETCHED],
            args=args,
            client=pipe,
        )

    async def queue_change_url(
        self, pipe: Pipeline, feed_id: str, old_url: str, new_url: str
    ) -> None:
        await self._change_url(
            keys=[streams.FEED_BY_URL, streams.feed_key(feed_id)],
            args=[feed_id, old_url, new_url],
            client=pipe,
        )

    async def queue_unschedule(self, pipe: Pipeline, feed_id: str) -> None:
        pipe.zrem(streams.SCHEDULE, feed_id)

    async def state_counts(self, *, failing_after: int = 3) -> dict[str, int]:
        """Feeds by health: ok, error, disabled (for the ``feedpipe_feeds`` gauge),
        plus ``failing``: enabled feeds that failed ``failing_after`` polls in a row
        (for ``feedpipe_feeds_failing``)."""
        ids = await self.ids()
        counts = {"ok": 0, "error": 0, "disabled": 0, "failing": 0}
        pipe = self.redis.pipeline(transaction=False)
        for feed_id in ids:
            pipe.hmget(
                streams.feed_key(feed_id), ["enabled", "last_status", "last_error", "error_count"]
            )
        for enabled, status, error, error_count in await pipe.execute():
            if enabled is None:
                continue
            if as_text(enabled) != "1":
                counts["disabled"] += 1
            elif (error and as_text(error)) or as_text(status or b"new") not in HEALTHY:
                counts["error"] += 1
                if int(as_text(error_count or b"0") or 0) >= failing_after:
                    counts["failing"] += 1
            else:
                counts["ok"] += 1
        return counts

    # --- schedule ------------------------------------------------------------
    async def claim_due(self, *, now: float, limit: int, lease: float) -> list[tuple[str, float]]:
        """Atomically take up to ``limit`` due feeds; returns (feed_id, lease_until)."""
        until = now + lease
        due = await self._claim(keys=[streams.SCHEDULE], args=[now, limit, until])
        return [(as_text(d), until) for d in due]

    async def claim_due_feeds(
        self, *, now: float, limit: int, lease: float
    ) -> list[tuple[Feed, float]]:
        """:meth:`claim_due` returning the feeds themselves (one round trip).
        A claimed id whose hash is gone (removed meanwhile) is dropped from the
        schedule."""
        until = now + lease
        raw = await self._claim_feeds(
            keys=[streams.SCHEDULE], args=[now, limit, until, streams.FEED_KEY_PREFIX]
        )
        claimed: list[tuple[Feed, float]] = []
        orphans: list[str] = []
        for feed_id, flat in zip(raw[::2], raw[1::2], strict=True):
            if not flat:
                orphans.append(as_text(feed_id))
                continue
            claimed.append((_decode(dict(zip(flat[::2], flat[1::2], strict=True))), until))
        if orphans:
            await self.redis.zrem(streams.SCHEDULE, *orphans)
        return claimed

    async def reschedule(self, feed_id: str, *, lease_until: float, next_poll_at: float) -> bool:
        """Set the next poll time if our lease is still ours."""
        done = await self._release(
            keys=[streams.SCHEDULE], args=[feed_id, lease_until, next_poll_at]
        )
        return bool(done)

    async def next_due_at(self) -> float | None:
        """When the earliest scheduled feed is due (None with an empty schedule)."""
        first = await self.redis.zrange(streams.SCHEDULE, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def oldest_due(self, now: float) -> float | None:
        """Seconds the most overdue feed is late (None when nothing is due)."""
        first = await self.redis.zrangebyscore(
            streams.SCHEDULE, "-inf", now, start=0, num=1, withscores=True
        )
        return now - float(first[0][1]) if first else None

    async def poll_now(self, feed_ids: Iterable[str], *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        mapping = {feed_id: now for feed_id in feed_ids}
        if mapping:
            await self.redis.zadd(streams.SCHEDULE, mapping)
