"""Outputs over the API: add, list, change, test, remove; secrets write-only."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.services.api.conftest import ClientFactory
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.integration

HOOK = {"kind": "webhook", "url": "https://hooks.example/in", "secret": "api-secret-value"}


async def test_an_added_output_is_listed_with_its_secret_hidden(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/outputs", json={**HOOK, "filters": ["lang=fr"]})
    assert created.status_code == 201
    listed = await client.get("/outputs")
    assert "api-secret-value" not in created.text + listed.text
    [row] = listed.json()
    assert (row["id"], row["secret"], row["filters"], row["lag"]) == (
        created.json()["id"], "set", ["lang=fr"], 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "webhook", "url": "ftp://x/"},
        {"kind": "rabbitmq", "url": "amqp://h/"},
        {**HOOK, "filters": ["colour=red"]},
        {"kind": "fax", "url": "https://x/"},
    ],
)
async def test_an_output_that_cannot_work_is_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert (await client.post("/outputs", json=body)).status_code == 422


async def test_an_output_can_be_disabled_and_enabled(client: httpx.AsyncClient) -> None:
    output_id = (await client.post("/outputs", json=HOOK)).json()["id"]
    off = await client.patch(f"/outputs/{output_id}", json={"enabled": False})
    assert (off.json()["enabled"], off.json()["disabled_reason"]) == (
        False, "disabled through the API",
    )  # fmt: skip
    on = await client.patch(f"/outputs/{output_id}", json={"enabled": True})
    assert on.json()["enabled"] is True


async def test_a_removed_output_is_gone(client: httpx.AsyncClient) -> None:
    output_id = (await client.post("/outputs", json=HOOK)).json()["id"]
    assert (await client.delete(f"/outputs/{output_id}")).status_code == 204
    assert (await client.get("/outputs")).json() == []
    assert (await client.delete(f"/outputs/{output_id}")).status_code == 404


async def test_the_test_route_sends_a_signed_sample_and_returns_the_answer(
    make_client: ClientFactory,
) -> None:
    async with (
        WebhookReceiver(secret=b"api-secret-value") as receiver,
        make_client(allow_private_networks=True) as client,
    ):
        output_id = (await client.post("/outputs", json={**HOOK, "url": receiver.url})).json()["id"]
        answer = (await client.post(f"/outputs/{output_id}/test")).json()
    assert (answer["result"], answer["status"]) == ("ok", 200)
    assert json.loads(answer["answer"]) == {"accepted": True}
    assert receiver.accepted[0].body["test"] is True


async def test_every_output_route_needs_the_token_when_one_is_set(
    make_client: ClientFactory,
) -> None:
    async with make_client(api_token="tok") as client:
        assert (await client.get("/outputs")).status_code == 401
        assert (await client.post("/outputs", json=HOOK)).status_code == 401
        good = {"Authorization": "Bearer tok"}
        assert (await client.get("/outputs", headers=good)).status_code == 200
