"""The outputs in Redis (names in :mod:`shared.pipeline.streams`):

* ``feedpipe:output:<id>`` hash: ``config`` (the JSON of the output's settings),
  ``secret`` (when set), ``enabled``, ``disabled_reason``, ``disabled_at`` and
  the delivery state the deliverers record (counters, last error, skips);
* ``feedpipe:outputs`` set of ids; ``feedpipe:outputs:version`` counter bumped
  by every change of settings or state that deliverers act on (they reload
  their outputs when it moves);
* ``feedpipe:delivery:<id>`` stream: the output's queue of committed events,
  read by the deliverers' consumer group, created with the output;
* ``feedpipe:delivery-attempts:<id>`` hash: failed attempts per queued entry.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.outputs.model import Output, OutputConfigError, OutputSpec, new_output
from shared.pipeline import stages, streams
from shared.pipeline.redisconn import as_text

_STATE_TEXT = ("disabled_reason", "last_error", "first_skipped_cursor")
_STATE_TIME = ("disabled_at", "last_delivered_at", "last_error_at")
_STATE_COUNT = ("delivered", "failures", "dead_lettered", "skipped")
# Longest error text kept on an output.
ERROR_CHARS = 500


def delivery_group() -> str:
    """The deliverers' consumer group on every output queue."""
    return stages.DELIVERER.group


def _time(value: str) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def decode_output(raw: dict[Any, Any]) -> Output | None:
    """An output from its hash; None for a hash without settings."""
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    if "config" not in fields:
        return None
    data: dict[str, Any] = orjson.loads(fields["config"])
    data["secret"] = fields.get("secret") or None
    data["enabled"] = fields.get("enabled", "1") == "1"
    for key in _STATE_TEXT:
        data[key] = fields.get(key) or None
    for key in _STATE_TIME:
        data[key] = _time(fields.get(key, ""))
    for key in _STATE_COUNT:
        data[key] = int(fields.get(key) or 0)
    return Output.model_validate(data)


def _config_json(output: Output) -> bytes:
    return orjson.dumps(
        output.model_dump(
            mode="json",
            include={
                "output_id",
                "kind",
                "url",
                "name",
                "exchange",
                "routing_key",
                "subject",
                "stream",
                "filters",
                "created_at",
            },
        )
    )


class OutputRegistry:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._record = redis.register_script((Path(__file__).parent / "record.lua").read_text())

    # --- settings --------------------------------------------------------------
    async def add(self, spec: OutputSpec, *, allow_private_networks: bool = False) -> Output:
        """Check and store a new output with its (empty) queue; raises
        OutputConfigError. It receives what is committed from now on."""
        output = new_output(
            spec,
            output_id=secrets.token_hex(4),
            created_at=datetime.now(UTC),
            allow_private_networks=allow_private_networks,
        )
        name = output.name
        if name is not None and any(o.name == name for o in await self.all()):
            raise OutputConfigError(f"an output is already named {name!r}")
        fields: dict[str, str | bytes] = {"config": _config_json(output), "enabled": "1"}
        if output.secret is not None:
            fields["secret"] = output.secret.get_secret_value()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(streams.output_key(output.output_id), mapping=fields)  # type: ignore[arg-type]
        pipe.sadd(streams.OUTPUTS_ALL, output.output_id)
        pipe.xgroup_create(
            streams.delivery_queue(output.output_id), delivery_group(), id="0", mkstream=True
        )
        pipe.incr(streams.OUTPUTS_VERSION)
        await pipe.execute()
        return output

    async def get(self, output_id: str) -> Output | None:
        raw = await self.redis.hgetall(streams.output_key(output_id))
        return decode_output(raw) if raw else None

    async def resolve(self, ref: str) -> Output | None:
        """An output by id or name."""
        if await self.redis.sismember(streams.OUTPUTS_ALL, ref):
            return await self.get(ref)
        return next((o for o in await self.all() if o.name == ref), None)

    async def all(self) -> list[Output]:
        ids = sorted(as_text(i) for i in await self.redis.smembers(streams.OUTPUTS_ALL))
        pipe = self.redis.pipeline(transaction=False)
        for output_id in ids:
            pipe.hgetall(streams.output_key(output_id))
        found = [decode_output(raw) for raw in await pipe.execute()]
        return sorted((o for o in found if o is not None), key=lambda o: o.created_at)

    async def remove(self, ref: str) -> Output | None:
        """Delete an output with its queue (undelivered events included) and
        attempt counts; its dead letters stay in the deliverer's DLQ."""
        output = await self.resolve(ref)
        if output is None:
            return None
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(
            streams.output_key(output.output_id),
            streams.delivery_queue(output.output_id),
            streams.delivery_attempts_key(output.output_id),
        )
        pipe.srem(streams.OUTPUTS_ALL, output.output_id)
        pipe.incr(streams.OUTPUTS_VERSION)
        await pipe.execute()
        return output

    async def set_enabled(
        self, output_id: str, enabled: bool, *, reason: str | None = None
    ) -> bool:
        """Enable or disable (with the reason recorded); False when it does not exist."""
        now = datetime.now(UTC).timestamp()
        values = (
            {"enabled": "1", "disabled_reason": "", "disabled_at": "", "failures": "0"}
            if enabled
            else {"enabled": "0", "disabled_reason": reason or "disabled", "disabled_at": str(now)}
        )
        done = await self._update(output_id, set_=values)
        if done:
            await self.redis.incr(streams.OUTPUTS_VERSION)
        return done

    async def public(self, outputs: list[Output]) -> list[dict[str, Any]]:
        """Each output's public view (:meth:`Output.public`) with ``lag``: the
        events queued for it and not yet acknowledged by its receiver."""
        pipe = self.redis.pipeline(transaction=False)
        for output in outputs:
            pipe.xlen(streams.delivery_queue(output.output_id))
        lengths = await pipe.execute()
        return [{**o.public(), "lag": int(n)} for o, n in zip(outputs, lengths, strict=True)]

    async def version(self) -> int:
        return int(await self.redis.get(streams.OUTPUTS_VERSION) or 0)

    # --- delivery state (written by deliverers) ----------------------------------
    async def record_delivered(self, output_id: str, count: int, *, at: datetime) -> None:
        await self._update(
            output_id,
            set_={"last_delivered_at": str(at.timestamp()), "failures": "0"},
            incr={"delivered": count},
        )

    async def record_failure(self, output_id: str, error: str, *, at: datetime) -> None:
        await self._update(
            output_id,
            set_={"last_error": error[:ERROR_CHARS], "last_error_at": str(at.timestamp())},
            incr={"failures": 1},
        )

    async def record_dead_lettered(self, output_id: str, count: int) -> None:
        await self._update(output_id, incr={"dead_lettered": count})

    async def record_skipped(self, output_id: str, count: int, *, first_cursor: str) -> None:
        await self._update(
            output_id, set_nx={"first_skipped_cursor": first_cursor}, incr={"skipped": count}
        )

    async def _update(
        self,
        output_id: str,
        *,
        set_: dict[str, str] | None = None,
        set_nx: dict[str, str] | None = None,
        incr: dict[str, int] | None = None,
    ) -> bool:
        set_, set_nx, incr = set_ or {}, set_nx or {}, incr or {}
        args: list[str | int] = [len(set_), len(set_nx)]
        for mapping in (set_, set_nx, incr):
            for key, value in mapping.items():
                args += [key, value]
        done = await self._record(keys=[streams.output_key(output_id)], args=args)
        return bool(done)


async def ensure_queue_group(redis: Redis, output_id: str) -> None:
    """The deliverers' group on an output's queue (created with the output;
    again here for queues that lost it, e.g. after a Redis restore)."""
    try:
        await redis.xgroup_create(
            streams.delivery_queue(output_id), delivery_group(), id="0", mkstream=True
        )
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
