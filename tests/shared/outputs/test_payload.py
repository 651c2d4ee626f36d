"""Items and webhook bodies."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shared.outputs.payload import encode_item, sample_event, split_by_size, webhook_body
from shared.pipeline.events import CommitKind
from tests.shared.outputs.samples import committed


def test_an_item_is_the_committed_event_with_its_idempotency_key_and_no_event_id() -> None:
    event = committed(7, version=3)
    item = json.loads(encode_item(event))
    assert item["idempotency_key"] == "art7:3"
    assert item["schema_version"] == 1
    assert "event_id" not in item
    assert item["article"]["article_id"] == "art7"
    assert list(item)[:2] == ["schema_version", "idempotency_key"]


def test_a_delete_item_has_no_article() -> None:
    assert json.loads(encode_item(committed(kind=CommitKind.DELETE)))["article"] is None


def test_a_webhook_body_is_json_with_the_delivery_id_and_every_item() -> None:
    items = [encode_item(committed(n)) for n in range(3)]
    body = json.loads(webhook_body(items, delivery_id="dlv_1", output_id="o1"))
    assert body["delivery_id"] == "dlv_1"
    assert body["output_id"] == "o1"
    assert body["test"] is False
    assert [i["idempotency_key"] for i in body["items"]] == ["art0:1", "art1:1", "art2:1"]


def test_an_empty_webhook_body_is_valid_json() -> None:
    assert json.loads(webhook_body([], delivery_id="d", output_id="o"))["items"] == []


def test_the_sample_event_is_marked_as_a_test() -> None:
    body = webhook_body([encode_item(sample_event())], delivery_id="d", output_id="o", test=True)
    assert json.loads(body)["test"] is True


@given(st.lists(st.integers(min_value=1, max_value=500), max_size=40), st.integers(50, 2000))
def test_size_runs_cover_every_item_once_in_order_within_the_limit(
    sizes: list[int], limit: int
) -> None:
    runs = split_by_size(sizes, max_bytes=limit)
    assert [i for run in runs for i in run] == list(range(len(sizes)))
    for run in runs:
        assert len(run) == 1 or sum(sizes[i] + 1 for i in run) <= limit
