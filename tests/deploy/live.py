"""Checks of a live Prometheus that scrapes a running pipeline: every dashboard
panel query and recording rule returns data, every rule evaluates, every alert
has its input series. Shared by tests/deploy/test_live_queries.py (services as
local processes) and the container test (tests/container/, services in
containers), with what gives the deliverer's panels data: a webhook receiver
on loopback and committed events."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis as redis_sync
import yaml

from shared.pipeline import streams
from shared.pipeline.events import Article, ArticleCommitted, CommitKind
from tests.deploy.tools import (
    alert_rules,
    metric_names,
    panel_queries,
    recording_rules,
    substitute,
)


def http_get(url: str, *, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def wait_http(url: str, *, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Wait until ``url`` answers; ``alive()``, when given, returning False aborts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise AssertionError(f"{url}: the process serving it is gone")
        try:
            http_get(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


class Prometheus:
    """The HTTP API of one Prometheus server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = urllib.parse.urlencode({"query": expr}).encode()
        req = urllib.request.Request(f"{self.url}/api/v1/query", data=data)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = yaml.safe_load(resp.read())  # JSON is YAML
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def api(self, path: str) -> Any:
        return yaml.safe_load(http_get(f"{self.url}{path}"))["data"]


def prometheus_config(
    targets: dict[str, str], rule_files: list[str], *, interval: str = "1s"
) -> dict[str, Any]:
    """A scrape config with one static target per job (the job names of the
    production config's DNS discovery), scraping and evaluating every ``interval``."""
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": rule_files,
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }


def empty_queries(prom: Prometheus) -> list[str]:
    """Panel queries and recording rules that return no series (yet)."""
    exprs = [substitute(e) for _, _, e in panel_queries()]
    exprs += [r["record"] for r in recording_rules()]
    return [e for e in exprs if not prom.query(e)]


def targets_down(prom: Prometheus) -> list[dict[str, Any]]:
    return [r["metric"] for r in prom.query("up == 0")]


def rule_problems(prom: Prometheus) -> list[str]:
    """Rules that failed to evaluate, were not loaded, or alerts that are quiet
    for lack of input (an alert with no result must have every series it reads)."""
    problems = []
    groups = prom.api("/api/v1/rules")["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    problems += [f"{r['name']}: {r['lastError']}" for r in loaded if r.get("lastError")]
    expected = len(recording_rules()) + len(alert_rules())
    if len(loaded) != expected:
        problems.append(f"{len(loaded)} rules loaded, {expected} defined")
    for rule in alert_rules():
        if prom.query(rule["expr"]):
            continue
        problems += [
            f"{rule['alert']}: no series {name}"
            for name in sorted(metric_names(rule["expr"]))
            if not prom.query(name)
        ]
    return problems


class _Accept(BaseHTTPRequestHandler):
    """A webhook receiver that acknowledges everything."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def accepting_webhook() -> Iterator[str]:
    """A webhook endpoint on 127.0.0.1 (in a thread) that answers 204; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def commit_events(redis_url: str, count: int) -> None:
    """Write ``count`` committed events to the committed stream, as the indexer does."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        for n in range(count):
            now = datetime.now(UTC)
            article = Article(
                article_id=f"live{n}", feed_id="live", feed_url="http://127.0.0.1/feed",
                url=None, title=f"Live {n}", language="en", fetched_at=now,
            )  # fmt: skip
            event = ArticleCommitted(
                kind=CommitKind.NEW, cursor=f"live{n}", article_id=article.article_id,
                cluster_id=article.article_id, version=1, committed_at=now, article=article,
            )  # fmt: skip
            client.xadd(streams.COMMITTED, {streams.DATA_FIELD: event.model_dump_json()})
    finally:
        client.close()
