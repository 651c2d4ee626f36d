"""GET /search and GET /articles/{id}: the contract, filters and 4xx errors."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

HIT_KEYS = {"id", "url", "title", "snippet", "language", "published_at", "feed_url", "duplicates"}


async def test_search_answers_with_the_contract_fields(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "storm coast"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"total", "hits"}
    assert body["total"] == 1
    hit = body["hits"][0]
    assert set(hit) == HIT_KEYS
    assert (hit["id"], hit["language"], hit["duplicates"]) == ("storm", "en", 1)


async def test_search_finds_french_plural_from_singular(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "telecommunication", "lang": "fr"})
    assert [h["id"] for h in response.json()["hits"]] == ["tgv"]


async def test_search_snippet_highlights_the_match(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "power"})
    assert "<mark>power</mark>" in response.json()["hits"][0]["snippet"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "storm", "limit": "0"},
        {"q": "storm", "limit": "1000"},
        {"q": "storm", "offset": "-1"},
        {"q": "storm", "lang": "french!"},
        {"q": "storm", "since": "yesterday"},
        {"q": "x" * 501},
    ],
)
async def test_bad_parameters_are_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/search", params=params)
    assert response.status_code == 422


@pytest.mark.parametrize("q", ["((", '"', "-storm", "!!!"])
async def test_malformed_query_is_400_with_a_reason(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/search", params={"q": q})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("bad query:")


async def test_since_after_until_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/search", params={"q": "storm", "since": "2026-02-01", "until": "2026-01-01"}
    )
    assert response.status_code == 400


async def test_date_only_filters_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "storm", "until": "2000-01-01"})
    assert response.status_code == 200
    assert response.json()["total"] == 0


async def test_feed_filter(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "grève", "feed": "f-fr"})
    assert response.json()["total"] == 1


async def test_article_record_has_duplicate_urls(client: httpx.AsyncClient) -> None:
    response = await client.get("/articles/storm")
    assert response.status_code == 200
    body = response.json()
    assert body["duplicate_urls"] == ["http://127.0.0.1/other/storm"]
    assert {"id", "url", "title", "text", "language", "published_at", "feed_url"} <= set(body)


async def test_unknown_article_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/articles/nope")).status_code == 404


async def test_search_requests_are_counted_by_status(client: httpx.AsyncClient) -> None:
    await client.get("/search", params={"q": "(("})
    text = (await client.get("/metrics/")).text
    assert 'feedpipe_search_requests_total{status="400"}' in text
    assert "feedpipe_search_duration_seconds_count" in text


async def test_openapi_documents_search(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/search" in schema["paths"]
    assert "/feeds" in schema["paths"]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"index": True, "redis": True}
