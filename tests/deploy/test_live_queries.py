"""Every dashboard query and every rule, run by a real Prometheus against a
real pipeline after a short ingest.

The services run the way ``feedpipe up`` runs them (``python -m services.cli
run SERVICE``, one OS process each) on a real redis-server, each with a known
metrics port so that a generated Prometheus config can list them as static
targets under the same job names as the compose file's DNS discovery. The
demo feed server (deploy/demo/feedserver.py) supplies RSS, Atom and JSON
feeds in two languages, one story syndicated twice (a duplicate), a feed that
answers 404, ETags for 304s and a new bulletin every few seconds. One garbage
entry is written to the parser's input stream so a dead letter exists.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
import yaml

from shared.pipeline import stages, streams
from tests.deploy.tools import (
    DEPLOY,
    REPO,
    RULE_FILES,
    alert_rules,
    metric_names,
    panel_queries,
    recording_rules,
    require_binary,
    skip_or_fail,
    substitute,
)
from tests.support.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SERVICES = stages.names(stages.SERVICES)
DATA_TIMEOUT_S = 150
FEEDS = ("harbour.rss", "science.atom", "quartier.json", "gone.xml")


def http_get(url: str, *, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def wait_http(url: str, *, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{url}: process exited with {proc.returncode}")
        try:
            http_get(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def tail(self, lines: int = 15) -> str:
        out = []
        for name in self.procs:
            text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} ---")
            out.extend(text[-lines:])
        return "\n".join(out)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class Prometheus:
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


def services_available() -> None:
    missing = [s for s in SERVICES if importlib.util.find_spec(f"services.{s}.main") is None]
    if missing:
        skip_or_fail(f"services not implemented yet: {', '.join(missing)}")


def prometheus_config(targets: dict[str, str]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in RULE_FILES],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }


@pytest.fixture
def live(redis_url: str, tmp_path: Path) -> Iterator[tuple[Prometheus, Processes, str]]:
    services_available()
    prometheus_bin = require_binary("prometheus", package="prometheus")
    procs = Processes(tmp_path)
    try:
        # Everything is started at once and waited for afterwards: on two
        # cores the services' imports dominate the set-up time.
        site_port = free_port()
        site = f"http://127.0.0.1:{site_port}"
        feedserver = procs.start(
            "feedserver",
            [sys.executable, str(DEPLOY / "demo" / "feedserver.py"), "--port", str(site_port),
             "--new-every", "4"],
            dict(os.environ),
        )  # fmt: skip
        env = {
            **os.environ,
            "FEEDPIPE_REDIS_URL": redis_url,
            "FEEDPIPE_DATA_DIR": str(tmp_path / "data"),
            "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true",
            "FEEDPIPE_MIN_INTERVAL": "1",
            "FEEDPIPE_BATCH_TIMEOUT_MS": "50",
            "FEEDPIPE_RECLAIM_IDLE_MS": "2000",
            "FEEDPIPE_LOG_JSON": "true",
        }
        env.pop("FEEDPIPE_INDEX_URL", None)
        cli = [sys.executable, "-m", "services.cli"]
        # The same command as the compose file's one-shot `init` service.
        opml = tmp_path / "feeds.opml"
        outlines = "".join(f'<outline type="rss" xmlUrl="{site}/feeds/{f}"/>' for f in FEEDS)
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        importer = procs.start(
            "import", [*cli, "feeds", "import", str(opml), "--interval", "2"], env
        )

        targets: dict[str, str] = {}
        for service in SERVICES:
            port = free_port()
            service_env = {**env, "FEEDPIPE_METRICS_PORT": str(port)}
            if service == "api":  # the API serves /metrics on its own port
                service_env["FEEDPIPE_API_PORT"] = str(port)
            procs.start(service, [*cli, "run", service], service_env)
            targets[service] = f"127.0.0.1:{port}"

        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(targets)))
        prom = procs.start(
            "prometheus",
            [prometheus_bin, f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            dict(os.environ),
        )  # fmt: skip

        wait_http(f"{site}/healthz", timeout=60, proc=feedserver)
        assert importer.wait(timeout=120) == 0, procs.tail()
        for service, target in targets.items():
            wait_http(f"http://{target}/healthz", timeout=120, proc=procs.procs[service])
        # A garbage entry for the parser (its group exists once it is healthy):
        # it must end up as a dead letter.
        client = redis_sync.Redis.from_url(redis_url)
        client.xadd(streams.FETCHED, {streams.DATA_FIELD: b'{"not": "an event"}'})
        client.close()
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", timeout=60, proc=prom)
        yield Prometheus(f"http://127.0.0.1:{prom_port}"), procs, targets["api"]
    finally:
        procs.stop_all()


def empty_queries(prom: Prometheus) -> list[str]:
    exprs = [substitute(e) for _, _, e in panel_queries()]
    exprs += [r["record"] for r in recording_rules()]
    return [e for e in exprs if not prom.query(e)]


def test_every_dashboard_query_and_rule_returns_data_after_an_ingest_run(
    live: tuple[Prometheus, Processes, str],
) -> None:
    prom, procs, api = live
    deadline = time.monotonic() + DATA_TIMEOUT_S
    empty: list[str] = ["(not checked yet)"]
    while time.monotonic() < deadline:
        # Searches feed the API's panels; they also prove articles were indexed.
        with contextlib.suppress(urllib.error.URLError, OSError):
            http_get(f"http://{api}/search?q=harbour")
        empty = empty_queries(prom)
        if not empty:
            break
        time.sleep(1.5)
    assert not empty, "queries without data:\n" + "\n".join(empty) + "\n" + procs.tail()

    down = [r["metric"] for r in prom.query("up == 0")]
    assert not down, f"targets down: {down}\n{procs.tail()}"

    # Every rule evaluates without error...
    groups = prom.api("/api/v1/rules")["groups"]
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]]
    assert [b for b in broken if b[1]] == []
    assert len(broken) == len(recording_rules()) + len(alert_rules())

    # ...and an alert either returns data (pending or firing) or stays quiet
    # while every series it reads exists: it does not fire for lack of input.
    for rule in alert_rules():
        if prom.query(rule["expr"]):
            continue
        for name in metric_names(rule["expr"]):
            assert prom.query(name), f"{rule['alert']}: no series {name}"
