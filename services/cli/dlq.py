"""Dead-letter streams: list, show, replay, purge (``feedpipe dlq …``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from shared.pipeline import stages, streams
from shared.pipeline.redisconn import as_text


def _stage(name: str) -> stages.Stage[Any]:
    """The stage called ``name``; exits with the choices when there is none."""
    try:
        return stages.named(stages.STAGES, name, kind="stage")
    except LookupError as exc:
        raise SystemExit(str(exc)) from exc


async def list_letters(
    redis: Redis, console: Console, stage: str | None, limit: int, as_json: bool
) -> None:
    rows: list[dict[str, str]] = []
    for declared in [_stage(stage)] if stage else stages.STAGES:
        letters: Any = await redis.xrevrange(streams.dlq_stream(declared.name), count=limit)
        for entry_id, fields in letters:
            row = {as_text(k): as_text(v) for k, v in fields.items()}
            row["dlq_id"] = as_text(entry_id)
            rows.append(row)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} dead letters", expand=True)
    for column in ("stage", "dlq id", "deliveries", "failed at", "error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.get("stage", ""),
            row["dlq_id"],
            row.get("deliveries", ""),
            row.get("failed_at", ""),
            row.get("error", "")[:300],
        )
    console.print(table)


async def show_letter(redis: Redis, console: Console, stage: str, entry_id: str) -> bool:
    dlq = streams.dlq_stream(_stage(stage).name)
    found: Any = await redis.xrange(dlq, min=entry_id, max=entry_id)
    if not found:
        console.print(f"[red]no dead letter {entry_id} in {stage}[/]")
        return False
    fields = {as_text(k): as_text(v) for k, v in found[0][1].items()}
    console.print_json(json.dumps(fields))
    return True


@dataclass(frozen=True, slots=True)
class Replayed:
    replayed: int
    # Letters left in place: they came from the queue of an output since removed.
    kept: int = 0


async def _replay_target(
    redis: Redis, declared: stages.Stage[Any], stream: str | None
) -> str | None:
    """Where a letter goes back to: the stream it was read from when that is an
    output's delivery queue (the deliverer's per-output letters: only that
    output gets them again) and the output still exists, else the stage's input."""
    if stream and stream.startswith(streams.DELIVERY_QUEUE_PREFIX):
        output_id = stream.removeprefix(streams.DELIVERY_QUEUE_PREFIX)
        return stream if await redis.exists(streams.output_key(output_id)) else None
    return declared.input.name


async def replay(redis: Redis, stage: str, entry_id: str | None) -> Replayed:
    """Re-add each payload to the stream it was read from (see
    :func:`_replay_target`) and delete the letter, in one transaction per
    letter so a crash can neither lose nor double it."""
    declared = _stage(stage)
    dlq = streams.dlq_stream(stage)
    letters: Any
    if entry_id:
        letters = await redis.xrange(dlq, min=entry_id, max=entry_id)
    else:
        letters = await redis.xrange(dlq)
    replayed = kept = 0
    for letter_id, fields in letters:
        stream = fields.get(b"stream")
        target = await _replay_target(redis, declared, as_text(stream) if stream else None)
        if target is None:
            kept += 1
            continue
        pipe = redis.pipeline(transaction=True)
        pipe.xadd(target, {streams.DATA_FIELD: fields[b"payload"]})
        pipe.xdel(dlq, letter_id)
        await pipe.execute()
        replayed += 1
    return Replayed(replayed, kept)


async def purge(redis: Redis, stage: str) -> int:
    dlq = streams.dlq_stream(_stage(stage).name)
    count = int(await redis.xlen(dlq))
    await redis.delete(dlq)
    return count
