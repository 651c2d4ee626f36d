"""Feed management over the API, with and without a bearer token."""

from __future__ import annotations

import httpx
import pytest

from tests.services.api.conftest import ClientFactory

pytestmark = pytest.mark.integration

FEED = "http://127.0.0.1:9/feed.xml"


async def test_added_feed_is_listed(client: httpx.AsyncClient) -> None:
    created = await client.post("/feeds", json={"url": FEED, "interval": 900})
    assert created.status_code == 201
    listed = (await client.get("/feeds")).json()
    assert [(f["url"], f["interval"]) for f in listed] == [(FEED, 900.0)]
    assert {"last_status", "last_error", "error_count", "next_poll_at"} <= set(listed[0])


async def test_adding_a_known_feed_is_200(client: httpx.AsyncClient) -> None:
    await client.post("/feeds", json={"url": FEED})
    again = await client.post("/feeds", json={"url": FEED})
    assert again.status_code == 200


async def test_deleted_feed_is_gone(client: httpx.AsyncClient) -> None:
    feed_id = (await client.post("/feeds", json={"url": FEED})).json()["id"]
    assert (await client.delete(f"/feeds/{feed_id}")).status_code == 204
    assert (await client.get("/feeds")).json() == []
    assert (await client.delete(f"/feeds/{feed_id}")).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"url": "not a url"}, {"url": "ftp://127.0.0.1/x"}, {"url": FEED, "interval": 1}, {}],
)
async def test_invalid_feed_is_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await client.post("/feeds", json=body)).status_code == 422


async def test_token_is_required_to_change_feeds(make_client: ClientFactory) -> None:
    async with make_client(api_token="s3cret") as client:
        assert (await client.post("/feeds", json={"url": FEED})).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post("/feeds", json={"url": FEED}, headers=wrong)).status_code == 401
        assert (await client.delete("/feeds/x", headers=wrong)).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert (await client.post("/feeds", json={"url": FEED}, headers=good)).status_code == 201
        assert (await client.get("/feeds")).status_code == 200
