"""Routing committed events to output queues (pure)."""

from __future__ import annotations

from services.deliverer.plan import plan_routes
from tests.shared.outputs.samples import committed, webhook


def test_each_event_goes_to_every_output_that_wants_it() -> None:
    french = webhook(output_id="fr", filters=["lang=fr"])
    everything = webhook(output_id="all")
    plan = plan_routes(
        [committed(1, lang="fr"), committed(2, lang="en")],
        [french, everything],
        backlog={},
        max_backlog=10,
    )
    assert plan.routes == [["fr", "all"], ["all"]]
    assert plan.skipped == {}


def test_a_disabled_output_gets_nothing() -> None:
    off = webhook(output_id="off").model_copy(update={"enabled": False})
    assert plan_routes([committed(1)], [off], backlog={}, max_backlog=10).routes == [[]]


def test_an_output_at_its_backlog_limit_skips_events_and_remembers_the_first_cursor() -> None:
    full = webhook(output_id="full")
    other = webhook(output_id="other")
    plan = plan_routes(
        [committed(1), committed(2), committed(3)],
        [full, other],
        backlog={"full": 8},
        max_backlog=10,
    )
    assert plan.routes == [["full", "other"], ["full", "other"], ["other"]]
    assert plan.skipped["full"].count == 1
    assert plan.skipped["full"].first_cursor == "c000003"
