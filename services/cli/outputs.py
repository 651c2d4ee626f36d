"""``feedpipe outputs add|list|remove|enable|disable|test``: the deliverer's outputs."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.outputs import Attempt, Output, OutputRegistry, Verdict


def _state(row: dict[str, Any]) -> str:
    if row["enabled"]:
        return "enabled"
    return f"disabled: {row['disabled_reason'] or 'by an operator'}"


def _health(row: dict[str, Any]) -> str:
    parts = [f"{row['delivered']} delivered"]
    if row["failures"]:
        parts.append(f"{row['failures']} failed attempts in a row: {row['last_error']}")
    if row["dead_lettered"]:
        parts.append(f"{row['dead_lettered']} dead-lettered")
    if row["skipped"]:
        parts.append(
            f"{row['skipped']} skipped (backlog full) from cursor {row['first_skipped_cursor']}"
        )
    return "; ".join(parts)


async def list_outputs(redis: Redis, console: Console, *, as_json: bool) -> None:
    registry = OutputRegistry(redis)
    rows = await registry.public(await registry.all())
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} outputs", expand=True)
    for column in ("id", "name", "kind", "target", "filters", "secret", "state", "lag", "health"):
        table.add_column(column, overflow="fold")
    for row in rows:
        target = row["url"]
        if row["exchange"]:
            target += f" exchange={row['exchange']} key={row['routing_key']}"
        if row["subject"]:
            target += f" subject={row['subject']} stream={row['stream']}"
        table.add_row(
            row["id"],
            row["name"] or "",
            row["kind"],
            escape(target),
            escape(" ".join(row["filters"]) or "all"),
            row["secret"],
            escape(_state(row)),
            str(row["lag"]),
            escape(_health(row)),
            style=None if row["enabled"] and not row["failures"] else "red",
        )
    console.print(table)


def print_attempt(console: Console, output: Output, attempt: Attempt) -> None:
    colour = "green" if attempt.verdict is Verdict.OK else "red"
    console.print(
        f"[{colour}]{attempt.verdict.value}[/]: {escape(attempt.detail)}"
        f" from output {output.output_id} ({escape(output.target)})"
    )
    if attempt.answer:
        console.print(escape(attempt.answer))
