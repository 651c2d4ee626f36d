"""Every Redis stream, consumer group and key prefix of feedpipe, in one place.

Data flow::

    poller --FETCHED--> parser --PARSED--> deduplicator --UNIQUE--> indexer

Each stage reads its input stream through its own consumer group and writes
dead letters to ``DLQ_PREFIX + stage``.
"""

from __future__ import annotations

import os
from typing import Final


def key_prefix(redis_url: str | None) -> str:
    """``{feedpipe}`` on a Redis Cluster, else ``feedpipe``.

    On a Cluster the braces are a hash tag: every key then hashes to one slot,
    so the MULTI/EXEC of a stage (outputs + XACK + DLQ + stats) and the Lua
    scripts that touch several keys (feed registry, politeness, dedup) stay
    legal. It also puts all of feedpipe on one shard; docs/SCALING.md says when
    that matters and how to partition.
    """
    scheme = (redis_url or "").partition("://")[0]
    return "{feedpipe}" if scheme.endswith("+cluster") else "feedpipe"


# Fixed at import from the environment (every service, CLI and tool reads the
# same FEEDPIPE_REDIS_URL), so key names are plain constants everywhere.
PREFIX: Final = key_prefix(os.environ.get("FEEDPIPE_REDIS_URL"))

# Streams: the event model carried by each is named beside it.
FETCHED: Final = f"{PREFIX}:stream:fetched"  # shared.events.FeedFetched
PARSED: Final = f"{PREFIX}:stream:parsed"  # shared.events.ArticleParsed
UNIQUE: Final = f"{PREFIX}:stream:unique"  # shared.events.ArticleUnique

# Consumer groups, one per consuming stage.
GROUP_PARSER: Final = "parser"
GROUP_DEDUPLICATOR: Final = "deduplicator"
GROUP_INDEXER: Final = "indexer"

STAGE_INPUTS: Final[dict[str, tuple[str, str]]] = {
    "parser": (FETCHED, GROUP_PARSER),
    "deduplicator": (PARSED, GROUP_DEDUPLICATOR),
    "indexer": (UNIQUE, GROUP_INDEXER),
}

DLQ_PREFIX: Final = f"{PREFIX}:dlq:"


def dlq_stream(stage: str) -> str:
    return f"{DLQ_PREFIX}{stage}"


# Field of a stream entry holding the JSON event (FastStream's data key).
DATA_FIELD: Final = "__data__"

# Keys of the feed registry and scheduler.
FEED_KEY_PREFIX: Final = f"{PREFIX}:feed:"  # hash per feed: settings and state
FEEDS_ALL: Final = f"{PREFIX}:feeds"  # set of all feed ids
FEED_BY_URL: Final = f"{PREFIX}:feed-by-url"  # hash: url -> feed id
SCHEDULE: Final = f"{PREFIX}:schedule"  # zset: feed id -> next poll (unix s)
LEASES: Final = f"{PREFIX}:leases"  # zset: feed id -> lease expiry (unix s)
HOST_PREFIX: Final = f"{PREFIX}:host:"  # per-host politeness state

# Deduplicator state (all with TTLs, see services.deduplicator).
DEDUP_PREFIX: Final = f"{PREFIX}:dedup:"

# Article pages already fetched by the parser (full-content mode).
PAGE_SEEN_PREFIX: Final = f"{PREFIX}:page:"

# Running totals per stage ("<stage>:processed"), for `feedpipe status` rates.
STATS: Final = f"{PREFIX}:stats"

# Heartbeats of running services, for `feedpipe status`.
HEARTBEAT_PREFIX: Final = f"{PREFIX}:heartbeat:"


def feed_key(feed_id: str) -> str:
    return f"{FEED_KEY_PREFIX}{feed_id}"
