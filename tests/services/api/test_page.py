"""The server-rendered search page (HTML checks; the browser test drives it)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_empty_page_has_a_search_box(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert 'type="search" name="q"' in response.text


async def test_results_show_source_date_language_and_sources(client: httpx.AsyncClient) -> None:
    html = (await client.get("/", params={"q": "storm"})).text
    assert "2 sources" in html
    assert '<span class="lang">en</span>' in html
    assert "<time>" in html
    assert "<mark>storm</mark>" in html


async def test_article_markup_is_escaped(client: httpx.AsyncClient) -> None:
    html = (await client.get("/", params={"q": "storm"})).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


async def test_non_http_links_are_not_rendered(client: httpx.AsyncClient) -> None:
    html = (await client.get("/", params={"q": "storm"})).text
    assert "javascript:" not in html


async def test_bad_query_is_shown_as_an_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/", params={"q": "(("})
    assert response.status_code == 400
    assert 'role="alert"' in response.text
