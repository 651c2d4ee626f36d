"""The feed registry in Redis: per-feed settings and health, and the schedule.

Layout (names in :mod:`shared.pipeline.streams`):

* ``feedpipe:feed:<id>`` hash: settings and state of one feed (fields of :class:`Feed`);
* ``feedpipe:feeds`` set of ids; ``feedpipe:feed-by-url`` hash url -> id;
* ``feedpipe:schedule`` zset id -> next poll time. Claiming a due feed moves its
  score forward by the lease, atomically (Lua), so no two pollers take the same
  feed and a crashed poller's feeds come due again when the lease runs out.

The Lua scripts live beside this module (``*.lua``), each with its KEYS and ARGV.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.feeds.model import HEALTHY, Feed, FeedStatus, decode_feed, encode_fields, feed_id_for
from shared.pipeline import streams
from shared.pipeline.events import FullContent
from shared.pipeline.redisconn import as_text


def _lua(name: str) -> str:
    return (Path(__file__).parent / f"{name}.lua").read_text()


class FeedRegistry:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim_feeds = redis.register_script(_lua("claim_feeds"))
        self._update_if_exists = redis.register_script(_lua("update_if_exists"))
        self._change_url = redis.register_script(_lua("change_url"))
        self._poll_result = redis.register_script(_lua("poll_result"))

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
                await self.redis.hset(streams.feed_key(feed_id), mapping=encode_fields(updates))  # type: ignore[arg-type]
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
        pipe.hset(streams.feed_key(feed.feed_id), mapping=encode_fields(feed.model_dump()))  # type: ignore[arg-type]
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
        return decode_feed(raw) if raw else None

    async def get_many(self, feed_ids: Sequence[str]) -> list[Feed]:
        if not feed_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for feed_id in feed_ids:
            pipe.hgetall(streams.feed_key(feed_id))
        return [decode_feed(raw) for raw in await pipe.execute() if raw]

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
        pipe.hset(key, mapping=encode_fields(fields))  # type: ignore[arg-type]
        exists, _ = await pipe.execute()
        if not exists:  # removed meanwhile: do not resurrect a partial hash
            await self.redis.delete(key)

    async def record_parse(
        self,
        feed_id: str,
        *,
        error: str | None,
        warning: str | None = None,
        entry_count: int = 0,
        publish_rate: float | None = None,
        feed_ttl: float | None = None,
        title: str | None = None,
        site_url: str | None = None,
    ) -> None:
        """What the parser learnt about a feed document (or why it could not parse it).

        ``error``: the document could not be read at all (``last_error``, a
        ``parse_error`` status). ``warning``: it was read, but with a problem
        worth the operator's attention; a document without one clears it.
        """
        key = streams.feed_key(feed_id)
        if not await self.redis.exists(key):
            return
        fields: dict[str, Any]
        if error is not None:
            fields = {"last_status": FeedStatus.PARSE_ERROR, "last_error": error}
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, mapping=encode_fields(fields))  # type: ignore[arg-type]
            pipe.hincrby(key, "error_count", 1)
            await pipe.execute()
            return
        fields = {
            "last_entry_count": entry_count,
            "publish_rate": publish_rate,
            "feed_ttl": feed_ttl,
            "warning": warning,
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

    # --- batched writes (the poller queues many feeds' results in one pipeline) --
    async def queue_update(self, pipe: Pipeline, feed_id: str, fields: dict[str, Any]) -> None:
        """Queue an update of a feed's fields that is skipped if the feed is gone."""
        flat: list[str] = []
        for key, value in encode_fields(fields).items():
            flat += [key, value]
        if flat:
            await self._update_if_exists(keys=[streams.feed_key(feed_id)], args=flat, client=pipe)

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
        for key, value in encode_fields(fields).items():
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
    async def claim_due_feeds(
        self, *, now: float, limit: int, lease: float
    ) -> list[tuple[Feed, float]]:
        """Atomically take up to ``limit`` due feeds, leased until ``now + lease``,
        with their hashes (one round trip). A claimed id whose hash is gone
        (removed meanwhile) is dropped from the schedule."""
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
            claimed.append((decode_feed(dict(zip(flat[::2], flat[1::2], strict=True))), until))
        if orphans:
            await self.redis.zrem(streams.SCHEDULE, *orphans)
        return claimed

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
