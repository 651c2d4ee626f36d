"""Which output queues each committed event goes to (pure: no Redis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.outputs.model import Output
from shared.outputs.routing import wants
from shared.pipeline.events import ArticleCommitted


@dataclass(slots=True)
class Skipped:
    """Events not queued for one output because its backlog was full."""

    count: int = 0
    first_cursor: str = ""


@dataclass(slots=True)
class RoutePlan:
    # Per event (in order), the ids of the outputs it is queued for.
    routes: list[list[str]] = field(default_factory=list)
    skipped: dict[str, Skipped] = field(default_factory=dict)


def plan_routes(
    events: Sequence[ArticleCommitted],
    outputs: Sequence[Output],
    *,
    backlog: Mapping[str, int],
    max_backlog: int,
) -> RoutePlan:
    """Route each event to every enabled output that wants it, unless that
    output already holds ``max_backlog`` undelivered events (``backlog``: the
    length of each output's queue before this batch)."""
    plan = RoutePlan()
    queued = {o.output_id: backlog.get(o.output_id, 0) for o in outputs}
    for event in events:
        targets: list[str] = []
        for output in outputs:
            if not output.enabled or not wants(output.filters, event):
                continue
            if queued[output.output_id] >= max_backlog:
                skip = plan.skipped.setdefault(output.output_id, Skipped(first_cursor=event.cursor))
                skip.count += 1
                continue
            queued[output.output_id] += 1
            targets.append(output.output_id)
        plan.routes.append(targets)
    return plan
