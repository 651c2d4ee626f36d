"""The feed registry: what a feed is (:mod:`.model`) and where feeds, their
health and their schedule live in Redis (:mod:`.registry`, Lua beside it)."""

from __future__ import annotations

from shared.feeds.model import HEALTHY, Feed, FeedStatus, feed_id_for
from shared.feeds.registry import FeedRegistry

__all__ = ["HEALTHY", "Feed", "FeedRegistry", "FeedStatus", "feed_id_for"]
