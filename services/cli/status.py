"""``feedpipe status``: a live terminal view of the pipeline read from Redis."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shared.feeds import FeedRegistry
from shared.outputs import OutputRegistry
from shared.pipeline import stages, streams
from shared.pipeline.redisconn import as_text
from shared.pipeline.streaminfo import group_info


@dataclass(frozen=True, slots=True)
class StageRow:
    stage: str
    stream: str
    processed: int
    lag: int
    pending: int
    consumers: int
    dlq: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    stages: list[StageRow]
    feeds_total: int
    feeds_error: int
    feeds_disabled: int
    overdue_s: float | None
    fetched_len: int
    errored: list[tuple[str, str]]
    outputs: list[dict[str, Any]]


async def snapshot(redis: Redis) -> Snapshot:
    stats: dict[Any, Any] = await redis.hgetall(streams.STATS)
    counts = {as_text(k): int(v) for k, v in stats.items()}
    rows = []
    for stage in stages.STAGES:
        info = await group_info(redis, stage.input.name, stage.group)
        rows.append(
            StageRow(
                stage=stage.name,
                stream=stage.input.name,
                processed=counts.get(f"{stage.name}:processed", 0),
                lag=info.lag,
                pending=info.pending,
                consumers=info.consumers,
                dlq=int(await redis.xlen(streams.dlq_stream(stage.name))),
            )
        )
    outputs = OutputRegistry(redis)
    registry = FeedRegistry(redis)
    feeds = await registry.all()
    now = time.time()
    errored = [(f.url, f.last_error or f.last_status.value) for f in feeds if not f.healthy]
    return Snapshot(
        at=now,
        stages=rows,
        feeds_total=len(feeds),
        feeds_error=len(errored),
        feeds_disabled=sum(1 for f in feeds if not f.enabled),
        overdue_s=await registry.oldest_due(now),
        fetched_len=int(await redis.xlen(streams.FETCHED)),
        errored=errored[:10],
        outputs=await outputs.public(await outputs.all()),
    )


def render(current: Snapshot, previous: Snapshot | None) -> Group:
    table = Table(title="feedpipe pipeline", expand=True)
    for column in (
        "stage",
        "input stream",
        "processed",
        "rate/s",
        "lag",
        "pending",
        "consumers",
        "DLQ",
    ):
        table.add_column(
            column, justify="right" if column not in {"stage", "input stream"} else "left"
        )
    before = {r.stage: r for r in previous.stages} if previous else {}
    for row in current.stages:
        rate = "-"
        if previous and row.stage in before and current.at > previous.at:
            rate = (
                f"{(row.processed - before[row.stage].processed) / (current.at - previous.at):.1f}"
            )
        table.add_row(
            row.stage,
            row.stream,
            str(row.processed),
            rate,
            str(row.lag),
            str(row.pending),
            str(row.consumers),
            Text(str(row.dlq), style="red" if row.dlq else ""),
        )
    overdue = "on time" if not current.overdue_s else f"{current.overdue_s:.0f}s behind"
    feeds = Text(
        f"feeds: {current.feeds_total} registered, {current.feeds_error} in error,"
        f" {current.feeds_disabled} disabled; schedule {overdue}",
        style="red" if current.feeds_error else "",
    )
    parts: list[Table | Text] = [table, feeds]
    for url, error in current.errored:
        parts.append(Text(f"  ✗ {url}: {error}", style="red"))
    for out in current.outputs:
        state = "enabled" if out["enabled"] else f"disabled ({out['disabled_reason']})"
        line = f"output {out['id']} {out['kind']} {out['url']}: {state}, lag {out['lag']}"
        if out["failures"]:
            line += f", {out['failures']} failed attempts: {out['last_error']}"
        bad = not out["enabled"] or out["failures"] or out["skipped"]
        parts.append(Text(line, style="red" if bad else ""))
    return Group(*parts)


async def show_status(redis: Redis, console: Console, *, watch: bool, interval: float) -> None:
    previous = await snapshot(redis)
    if not watch:
        console.print(render(previous, None))
        return
    with Live(render(previous, None), console=console, refresh_per_second=4) as live:
        try:
            while True:
                await asyncio.sleep(interval)
                current = await snapshot(redis)
                live.update(render(current, previous))
                previous = current
        except (KeyboardInterrupt, asyncio.CancelledError):
            return
