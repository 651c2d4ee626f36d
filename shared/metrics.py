"""Every feedpipe metric, defined once so names and labels stay consistent.

Names use the ``feedpipe_`` namespace; labels are low-cardinality (never a URL
or an article id). Each service process exports the ones it observes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# --- stream runtime (every consuming stage) ---
EVENTS_PROCESSED = Counter(
    "feedpipe_events_processed_total", "Stream entries handled and acknowledged.", ["stage"]
)
EVENTS_PUBLISHED = Counter(
    "feedpipe_events_published_total", "Events written to the next stream.", ["stage"]
)
DEAD_LETTERS = Counter(
    "feedpipe_dead_letters_total", "Entries moved to a dead-letter stream.", ["stage"]
)
HANDLER_ERRORS = Counter(
    "feedpipe_handler_errors_total", "Entries whose handling raised (left for retry).", ["stage"]
)
BATCH_SECONDS = Histogram(
    "feedpipe_batch_seconds", "Time to handle one stream batch.", ["stage"], buckets=FAST_BUCKETS
)
STREAM_LENGTH = Gauge("feedpipe_stream_length", "Entries in a stream.", ["stream"])
STREAM_LAG = Gauge(
    "feedpipe_stream_lag", "Entries not yet delivered to a consumer group.", ["stream", "group"]
)
STREAM_PENDING = Gauge(
    "feedpipe_stream_pending", "Delivered but unacknowledged entries.", ["stream", "group"]
)
DLQ_LENGTH = Gauge("feedpipe_dlq_length", "Entries in a dead-letter stream.", ["stage"])
REDIS_UP = Gauge("feedpipe_redis_up", "1 when the last Redis call of this process succeeded.")

# --- poller ---
FEED_FETCHES = Counter(
    "feedpipe_feed_fetches_total",
    "Feed fetches by result (ok, not_modified, http_error, network_error, too_large,"
    " not_a_feed, refused).",
    ["result"],
)
FEED_FETCH_SECONDS = Histogram(
    "feedpipe_feed_fetch_duration_seconds", "Duration of one feed fetch.", buckets=FAST_BUCKETS
)
FEEDS = Gauge("feedpipe_feeds", "Registered feeds by state (ok, error, disabled).", ["state"])
# A feed counts as failing once this many polls in a row have failed.
FEED_FAILING_AFTER_ERRORS = 3
FEEDS_FAILING = Gauge(
    "feedpipe_feeds_failing",
    "Enabled feeds whose last FEED_FAILING_AFTER_ERRORS or more polls failed (error_count >= 3).",
)
SCHEDULE_LAG = Gauge(
    "feedpipe_schedule_lag_seconds", "How late the most overdue due feed is (0 when on time)."
)
FETCH_BYTES = Counter("feedpipe_fetch_bytes_total", "Bytes received from feeds and pages.")

# --- parser ---
ENTRIES_PARSED = Counter(
    "feedpipe_entries_parsed_total", "Feed entries turned into articles.", ["format"]
)
PARSE_ERRORS = Counter("feedpipe_parse_errors_total", "Feeds or entries rejected.", ["reason"])
PARSE_WARNINGS = Counter(
    "feedpipe_parse_warnings_total",
    "Feed documents read despite a problem, by reason (recovered: not well-formed XML read in"
    " recovery mode, its surviving entries kept).",
    ["reason"],
)
ARTICLE_FETCHES = Counter(
    "feedpipe_article_fetches_total", "Article page fetches by result.", ["result"]
)
ARTICLE_PAGES = Counter(
    "feedpipe_article_pages_total",
    "Article pages that could not be had when their entry was parsed: deferred (queued for a"
    " later fetch), completed (fetched later, the article updated), abandoned (given up).",
    ["result"],
)
PAGE_RETRY_QUEUED = Gauge(
    "feedpipe_page_retry_queued", "Deferred article pages waiting for a later fetch."
)
EXTRACTION_SECONDS = Histogram(
    "feedpipe_extraction_duration_seconds",
    "Main-text extraction time per page.",
    buckets=FAST_BUCKETS,
)
ARTICLE_LANGUAGES = Counter(
    "feedpipe_article_languages_total", "Articles by language.", ["language"]
)

# --- deduplicator ---
ARTICLES_SEEN = Counter("feedpipe_articles_seen_total", "Articles examined by the deduplicator.")
DUPLICATES = Counter(
    "feedpipe_duplicates_total", "Duplicates found by kind (url, guid, content, near).", ["kind"]
)
UPDATES = Counter("feedpipe_updates_total", "Known articles whose content changed.")
DEDUP_STATE_KEYS = Gauge("feedpipe_dedup_state_keys", "Keys of deduplicator state in Redis.")

# --- indexer ---
ARTICLES_INDEXED = Counter(
    "feedpipe_articles_indexed_total",
    "Index writes by operation (insert, update, duplicate).",
    ["op"],
)
INDEX_BATCH_SECONDS = Histogram(
    "feedpipe_index_batch_seconds", "Time to commit one batch to the index.", buckets=FAST_BUCKETS
)
INGEST_LATENCY = Histogram(
    "feedpipe_ingest_latency_seconds",
    "From feed fetch to committed in the index.",
    buckets=LATENCY_BUCKETS,
)

# --- deliverer ---
# The `output` label is an output's id (8 hex digits, `feedpipe outputs list`):
# one value per configured output, so its cardinality is what the operator
# configures; a removed output's gauges are dropped by the deliverers.
DELIVERY_RESULTS = ("ok", "error", "throttled", "dead_letter", "gone", "skipped")
DELIVERIES = Counter(
    "feedpipe_deliveries_total",
    "Committed events per output by result: ok (receipt acknowledged), error (an attempt"
    " failed; retried), throttled (429; retried after Retry-After), dead_letter (given up),"
    " gone (410; the output was disabled), skipped (its backlog was full).",
    ["output", "result"],
)
DELIVERY_LAG = Gauge(
    "feedpipe_delivery_lag",
    "Events queued for an output and not yet acknowledged by its receiver.",
    ["output"],
)
DELIVERY_LAG_SECONDS = Gauge(
    "feedpipe_delivery_lag_seconds",
    "Age of the oldest event queued for an output (0 when its queue is empty).",
    ["output"],
)
DELIVERY_LATENCY = Histogram(
    "feedpipe_delivery_latency_seconds",
    "From the index commit to the receiver's acknowledgement (2xx, broker confirm).",
    ["output"],
    buckets=LATENCY_BUCKETS,
)
OUTPUTS = Gauge("feedpipe_outputs", "Configured outputs by state (enabled, disabled).", ["state"])

# --- api ---
SEARCH_REQUESTS = Counter(
    "feedpipe_search_requests_total", "Search requests by HTTP status.", ["status"]
)
SEARCH_SECONDS = Histogram(
    "feedpipe_search_duration_seconds", "Search query time.", buckets=FAST_BUCKETS
)
