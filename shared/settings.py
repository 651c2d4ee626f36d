"""Typed settings read once from the environment (prefix ``FEEDPIPE_``).

Which setting applies to which stage (batch sizes, how much of a stream is kept,
default metrics ports) is declared with the stage in :mod:`shared.pipeline.stages`.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDPIPE_", extra="ignore")

    redis_url: str | None = Field(
        default=None, description="Redis URL; unset starts an embedded redis-server."
    )
    index_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://…; unset uses DATA_DIR/index.sqlite3.",
    )
    data_dir: Path = Field(default=Path("./data"), description="Embedded Redis and SQLite files.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_token: str | None = Field(
        default=None, description="Bearer token required by POST/DELETE /feeds when set."
    )
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /metrics and health; unset: each worker's own (see stages.py).",
    )
    consumer_name: str | None = Field(
        default=None, description="Consumer name in the stream groups; default host-pid."
    )
    allow_private_networks: bool = Field(
        default=False,
        description="Allow fetching loopback/private/link-local addresses (tests, demo only).",
    )
    min_interval: float = Field(default=300.0, gt=0, description="Smallest poll interval (s).")
    max_interval: float = Field(default=86400.0, gt=0, description="Largest poll interval (s).")
    default_interval: float = Field(default=1800.0, gt=0, description="Interval of a new feed.")
    max_error_backoff: float = Field(default=86400.0, gt=0, description="Cap of error backoff (s).")
    poll_concurrency: int = Field(default=100, ge=1)
    per_host_concurrency: int = Field(default=4, ge=1)
    per_host_delay: float = Field(default=0.0, ge=0, description="Min. seconds between requests.")
    lease_seconds: float = Field(default=120.0, gt=0, description="Lease of a claimed feed.")
    fetch_timeout: float = Field(default=30.0, gt=0, description="Total time of one fetch (s).")
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(
        default=20.0, gt=0, description="Longest silence while reading a response (s)."
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0)
    batch_size: int = Field(
        default=200,
        ge=1,
        description="Entries read per stream batch; also feeds per poller claim unless"
        " poll_batch_size is set.",
    )
    poll_batch_size: int | None = Field(
        default=None, ge=1, description="Due feeds a poller claims at once (None: batch_size)."
    )
    # Measured in docs/benchmarks/pipeline.md: 10 documents instead of 200 per batch gave
    # 2.6x the end-to-end rate and half the parser's memory (later stages overlap with it);
    # 4 instead of 10 took the paced p95 fetch-to-searchable from 1.07 s to 0.95 s at the
    # same throughput (an article waits for every entry of its batch to be parsed).
    parser_batch_size: int | None = Field(
        default=4,
        ge=1,
        description="Feed documents per parser batch (None: batch_size); each holds many"
        " entries, so a small batch lets the stages after the parser overlap with it.",
    )
    batch_timeout_ms: int = Field(default=100, ge=1, description="Block time of a stream read.")
    max_deliveries: int = Field(default=5, ge=1, description="Deliveries before dead-lettering.")
    reclaim_idle_ms: int = Field(default=30_000, ge=100, description="Idle time before reclaim.")
    stream_maxlen: int = Field(
        default=100_000,
        ge=0,
        description="Acknowledged entries kept in the article streams before trimming.",
    )
    fetched_maxlen: int = Field(
        default=500,
        ge=0,
        description="The same for the fetched stream, whose entries are whole feed documents.",
    )
    max_event_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    lag_threshold: int = Field(
        default=2_000,
        ge=1,
        description="Unparsed feed documents at which the poller slows down (bounds Redis memory).",
    )
    dedup_window_days: float = Field(default=14.0, gt=0)
    dedup_bucket_bits: int = Field(
        default=12,
        ge=0,
        le=16,
        description="2**bits dedup record hashes per generation (one window; band hashes 8x):"
        " aim for ~100 articles per hash.",
    )
    page_retry_attempts: int = Field(
        default=5,
        ge=0,
        description="Later fetches of a deferred article page (429/503, timeout, politeness)"
        " before it is abandoned; 0: never retried.",
    )
    page_retry_delay: float = Field(
        default=60.0,
        gt=0,
        description="Wait before the first later fetch of a deferred page (s), doubled at each"
        " attempt; never earlier than the host's Retry-After.",
    )
    page_retry_max_queued: int = Field(
        default=10_000,
        ge=0,
        description="Deferred pages kept waiting at most; beyond, new ones are abandoned.",
    )
    extract_workers: int = Field(default=0, ge=0, description="Processes for extraction; 0 inline.")
    # --- deliverer (issue 16): see docs/OPERATIONS.md "Outputs" ---
    delivery_batch_size: int = Field(
        default=100,
        ge=1,
        description="Committed events read per output at once: the most items in one webhook"
        " body, one publish round to a broker.",
    )
    delivery_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="A webhook body stops growing at this size (one item is always sent, however"
        " large).",
    )
    delivery_timeout: float = Field(
        default=10.0, gt=0, description="Time limit of one delivery attempt (s)."
    )
    delivery_attempts: int = Field(
        default=10,
        ge=1,
        description="Failed attempts (5xx, timeouts, refused connections, other 4xx) after which"
        " the items of a batch are dead-lettered; 429 answers do not count.",
    )
    delivery_backoff: float = Field(
        default=1.0, gt=0, description="First retry delay (s); doubles per attempt, with jitter."
    )
    delivery_max_backoff: float = Field(
        default=300.0,
        gt=0,
        description="Longest retry delay, and longest Retry-After honoured (s).",
    )
    delivery_max_backlog: int = Field(
        default=50_000,
        ge=1,
        description="Undelivered events one output may hold in Redis; beyond it new events are"
        " not queued for that output (counted as skipped, with the first skipped cursor).",
    )
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; default when not a TTY.")

    @field_validator("redis_url", "index_url", "api_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def sqlite_path(self) -> Path:
        if self.index_url and self.index_url.startswith("sqlite:///"):
            return Path(self.index_url.removeprefix("sqlite:///"))
        return self.data_dir / "index.sqlite3"

    @property
    def resolved_index_url(self) -> str:
        return self.index_url or f"sqlite:///{self.sqlite_path}"

    def consumer_for(self, service: str) -> str:
        """A consumer name unique per process, so replicas never share a pending list."""
        base = self.consumer_name or socket.gethostname()
        return f"{service}-{base}-{os.getpid()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
