"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.feedsite import FeedSite


@pytest.fixture
async def site(request: pytest.FixtureRequest) -> AsyncIterator[FeedSite]:
    """The local feed site, seeded by the test module's ``FEED_SITE_SEED`` if it sets one."""
    seed = getattr(request.module, "FEED_SITE_SEED", None)
    feed_site = FeedSite() if seed is None else FeedSite(seed=seed)
    await feed_site.start()
    yield feed_site
    await feed_site.stop()
