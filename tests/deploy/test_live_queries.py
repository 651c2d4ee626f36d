"""Every dashboard query and every rule, run by a real Prometheus against a
real pipeline after a short ingest.

The services run the way ``feedpipe up`` runs them (``python -m services.cli
run SERVICE``, one OS process each) on a real redis-server, each with a known
metrics port so that a generated Prometheus config can list them as static
targets under the same job names as the compose file's DNS discovery. The
demo feed server (deploy/demo/feedserver.py) supplies RSS, Atom and JSON
feeds in two languages, one story syndicated twice (a duplicate), a feed that
answers 404, ETags for 304s and a new bulletin every few seconds. One garbage
entry is written to the parser's input stream so a dead letter exists. A
webhook output points at a local receiver, and committed events are written to
the committed stream, so the deliverer's panels have data.
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
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_sync
import yaml

from shared.pipeline import stages, streams
from tests.deploy.live import (
    Prometheus,
    accepting_webhook,
    commit_events,
    empty_queries,
    http_get,
    prometheus_config,
    rule_problems,
    targets_down,
    wait_http,
)
from tests.deploy.tools import DEPLOY, REPO, RULE_FILES, require_binary, skip_or_fail
from tests.support.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SERVICES = stages.names(stages.SERVICES)
DATA_TIMEOUT_S = 150
FEEDS = ("harbour.rss", "science.atom", "quartier.json", "gone.xml")


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


def services_available() -> None:
    missing = [s for s in SERVICES if importlib.util.find_spec(f"services.{s}.main") is None]
    if missing:
        skip_or_fail(f"services not implemented yet: {', '.join(missing)}")


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
        config.write_text(yaml.safe_dump(prometheus_config(targets, [str(p) for p in RULE_FILES])))
        prom = procs.start(
            "prometheus",
            [prometheus_bin, f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            dict(os.environ),
        )  # fmt: skip

        wait_http(f"{site}/healthz", timeout=60, alive=lambda: feedserver.poll() is None)
        assert importer.wait(timeout=120) == 0, procs.tail()
        for service, target in targets.items():
            proc = procs.procs[service]
            wait_http(
                f"http://{target}/healthz", timeout=120, alive=lambda p=proc: p.poll() is None
            )
        # A garbage entry for the parser (its group exists once it is healthy):
        # it must end up as a dead letter.
        client = redis_sync.Redis.from_url(redis_url)
        client.xadd(streams.FETCHED, {streams.DATA_FIELD: b'{"not": "an event"}'})
        client.close()
        prom_url = f"http://127.0.0.1:{prom_port}"
        wait_http(f"{prom_url}/-/ready", timeout=60, alive=lambda: prom.poll() is None)
        with accepting_webhook() as hook:
            subprocess.run([*cli, "outputs", "add", "webhook", hook], env=env, check=True)
            commit_events(redis_url, 5)
            yield Prometheus(prom_url), procs, targets["api"]
    finally:
        procs.stop_all()


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

    down = targets_down(prom)
    assert not down, f"targets down: {down}\n{procs.tail()}"
    # Every rule evaluates without error, and an alert either returns data
    # (pending or firing) or stays quiet while every series it reads exists.
    assert rule_problems(prom) == []
