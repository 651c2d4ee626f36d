"""The search page in a real headless chromium (Debian's package, driven by
Playwright), against the API served by uvicorn on a free local port.

``FEEDPIPE_UPDATE_SCREENSHOT=1`` rewrites docs/search-page.png. Without
/usr/bin/chromium the test skips, except under CI where it fails.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from services.api.app import create_app
from shared.index import Index
from shared.pipeline.events import ArticleUnique, UniqueKind
from shared.settings import Settings
from tests.shared.index.conftest import make_event
from tests.support.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "search-page.png"


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


def more_events() -> list[ArticleUnique]:
    """A few more stories (example.* hosts are data only, never contacted)."""
    return [
        make_event(
            "rail",
            title="Storm Ciarán: rail services suspended across the south",
            text="Operators suspended rail services as the storm brought gusts of 100 mph"
            " and flooding to coastal towns; engineers are clearing fallen trees.",
            url="https://news.example.org/uk/storm-rail",
            feed_url="https://news.example.org/rss.xml",
            age=timedelta(hours=5),
        ),
        *[
            make_event(
                f"rail-{n}",
                kind=UniqueKind.DUPLICATE,
                cluster_id="rail",
                url=f"https://syndication{n}.example.com/storm-rail",
            )
            for n in range(3)
        ],
        make_event(
            "tempete",
            title="Tempête Ciarán : 1,2 million de foyers privés d'électricité",
            text="La tempête a balayé la Bretagne et la Normandie ; Enedis mobilise 3 000"
            " techniciens pour rétablir le courant.",
            language="fr",
            url="https://actu.example.fr/tempete-ciaran",
            feed_url="https://actu.example.fr/feed",
            age=timedelta(days=2),
        ),
    ]


@pytest.fixture
async def filled(index: Index) -> None:
    await index.apply(more_events())


@pytest.fixture
def api_url(filled: None, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """uvicorn in a thread, serving the app over the index file the ``index``
    fixture filled (the app opens its own connection to it)."""
    port = free_port()
    settings = Settings(
        redis_url=redis_url,
        index_url=f"sqlite:///{tmp_path / 'index.sqlite3'}",
        api_port=port,
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("API server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


async def test_person_types_a_query_and_sees_results(chromium: Path, api_url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 640})
            await page.goto(api_url + "/")
            await page.fill("input[name=q]", "storm OR tempête")
            await page.press("input[name=q]", "Enter")
            await page.wait_for_selector("#results li.hit")
            titles = await page.locator("li.hit h2").all_inner_texts()
            summary = await page.locator("#summary").inner_text()
            sources = await page.locator(".sources").all_inner_texts()
            marks = await page.locator(".snippet mark").count()
            if os.environ.get("FEEDPIPE_UPDATE_SCREENSHOT"):
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()
    assert sorted(titles) == [
        "Storm <script>alert(1)</script> hits the coast",
        "Storm Ciarán: rail services suspended across the south",
        "Tempête Ciarán : 1,2 million de foyers privés d'électricité",
    ]
    assert "of 3" in summary
    assert sorted(sources) == ["2 sources", "4 sources"]
    assert marks >= 3
