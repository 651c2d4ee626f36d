"""Every Redis stream and key prefix of feedpipe, in one place (modules build
per-item keys from these prefixes, never from literals).

Data flow::

    poller --FETCHED--> parser --PARSED--> deduplicator --UNIQUE--> indexer --COMMITTED-->

Which service writes and which reads each stream, through which consumer group,
is declared in :mod:`shared.pipeline.stages`. Each consuming stage writes dead
letters to ``DLQ_PREFIX + stage``.
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

# Streams between the stages (the event each carries: shared.pipeline.stages).
FETCHED: Final = f"{PREFIX}:stream:fetched"
PARSED: Final = f"{PREFIX}:stream:parsed"
UNIQUE: Final = f"{PREFIX}:stream:unique"
# The public output: what the index committed, written by the indexer after its
# commit (shared.pipeline.events.ArticleCommitted; contract in docs/EVENTS.md).
COMMITTED: Final = f"{PREFIX}:stream:committed"

DLQ_PREFIX: Final = f"{PREFIX}:dlq:"

# Hash per consuming stage: entry id -> last error of an entry left pending for
# retry (read when the entry is reclaimed, to say why it was dead-lettered).
ERRORS_PREFIX: Final = f"{PREFIX}:errors:"


def dlq_stream(stage: str) -> str:
    return f"{DLQ_PREFIX}{stage}"


def errors_key(stage: str) -> str:
    return f"{ERRORS_PREFIX}{stage}"


# Field of a stream entry holding the JSON event (FastStream's data key).
DATA_FIELD: Final = "__data__"

# Keys of the feed registry and scheduler.
FEED_KEY_PREFIX: Final = f"{PREFIX}:feed:"  # hash per feed: settings and state
FEEDS_ALL: Final = f"{PREFIX}:feeds"  # set of all feed ids
FEED_BY_URL: Final = f"{PREFIX}:feed-by-url"  # hash: url -> feed id
# zset: feed id -> next poll (unix s); a claimed feed's score is its lease expiry.
SCHEDULE: Final = f"{PREFIX}:schedule"
HOST_PREFIX: Final = f"{PREFIX}:host:"  # per-host politeness state

# Deduplicator state (all with TTLs, see services.deduplicator).
DEDUP_PREFIX: Final = f"{PREFIX}:dedup:"

# One key per feed entry version the parser has published (with the dedup
# window as TTL), so a re-polled, unchanged entry is not parsed out again.
# ("page:" is the keys' historical name; renaming it would make every parser
# publish every current entry once more after an upgrade.)
ENTRY_SEEN_PREFIX: Final = f"{PREFIX}:page:"

# Article pages (services.parser.pages): per page URL, its validators, the
# extracted page and the URL its article was published under, with the dedup
# window as TTL, so a changed entry fetches its page again conditionally.
PAGE_STATE_PREFIX: Final = f"{PREFIX}:pagestate:"
# Deferred article pages to fetch again (services.parser.pagequeue): a zset
# "<feed id>:<page key>" -> due time (a claimed job's score is its lease
# expiry), and one job per member under the prefix, with a TTL.
PAGE_RETRY_QUEUE: Final = f"{PREFIX}:page-retry:due"
PAGE_RETRY_JOB_PREFIX: Final = f"{PREFIX}:page-retry:job:"

# Outputs of the deliverer (shared.outputs): one hash per output (its settings
# and delivery health), the set of their ids, a counter bumped on every change
# (deliverers reload their outputs when it moves), and per output a queue
# stream of the committed events routed to it, which that output alone drains.
OUTPUT_KEY_PREFIX: Final = f"{PREFIX}:output:"
OUTPUTS_ALL: Final = f"{PREFIX}:outputs"
OUTPUTS_VERSION: Final = f"{PREFIX}:outputs:version"
DELIVERY_QUEUE_PREFIX: Final = f"{PREFIX}:delivery:"
# Hash per output: queue entry id -> failed attempts and last error (survives
# a deliverer crash, so the attempt count of a batch is not reset by one).
DELIVERY_ATTEMPTS_PREFIX: Final = f"{PREFIX}:delivery-attempts:"


def output_key(output_id: str) -> str:
    return f"{OUTPUT_KEY_PREFIX}{output_id}"


def delivery_queue(output_id: str) -> str:
    return f"{DELIVERY_QUEUE_PREFIX}{output_id}"


def delivery_attempts_key(output_id: str) -> str:
    return f"{DELIVERY_ATTEMPTS_PREFIX}{output_id}"


# Running totals per stage ("<stage>:processed"), for `feedpipe status` rates.
STATS: Final = f"{PREFIX}:stats"

# Heartbeats of running services, for `feedpipe status`.
HEARTBEAT_PREFIX: Final = f"{PREFIX}:heartbeat:"


def feed_key(feed_id: str) -> str:
    return f"{FEED_KEY_PREFIX}{feed_id}"
