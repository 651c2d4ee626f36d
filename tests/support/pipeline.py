"""The real pipeline for tests and benchmarks: ``feedpipe up`` (the supervisor,
one OS process per service replica) on a Redis the caller started, with the
CLI run against the same settings, and helpers to poll the search API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.processes import stop_process

# Tests want short waits: entries of a killed consumer are reclaimed after 2 s
# and a stream read returns after 50 ms. Benchmarks keep the defaults.
QUICK_ENV = {"FEEDPIPE_BATCH_TIMEOUT_MS": "50", "FEEDPIPE_RECLAIM_IDLE_MS": "2000"}


class Pipeline:
    """``feedpipe up`` with its environment.

    The environment is this process's minus every ``FEEDPIPE_*`` variable (a
    developer's own settings never leak in), then: the Redis URL, the data
    directory, a free API port, metrics on port 0 (each replica takes any; see
    ``metrics_port``), private networks allowed (the feed sites are on
    loopback), a 1 s minimum poll interval, JSON logs; then ``env``.
    """

    def __init__(self, *, redis_url: str, data_dir: Path, env: Mapping[str, str] = {}) -> None:
        self.api_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPIPE_")}
        self.env.update(
            {
                "FEEDPIPE_REDIS_URL": redis_url,
                "FEEDPIPE_DATA_DIR": str(data_dir),
                "FEEDPIPE_API_PORT": str(self.api_port),
                "FEEDPIPE_METRICS_PORT": "0",
                "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true",
                "FEEDPIPE_MIN_INTERVAL": "1",
                "FEEDPIPE_LOG_JSON": "true",
                **env,
            }
        )
        self.log_path = data_dir / "pipeline.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # --- the CLI ------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env=self.env, cwd=REPO, capture_output=True, text=True, check=check, timeout=120,
        )  # fmt: skip

    async def acli(self, *args: str) -> str:
        """The CLI without blocking the event loop (feed sites of the test run on it)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", *args,
            env=self.env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"feedpipe {' '.join(args)} failed: {err.decode()}")
        return out.decode()

    # --- the supervisor -----------------------------------------------------------
    def start(self, scale: Mapping[str, int] = {}) -> Pipeline:
        args = [sys.executable, "-m", "services.cli", "up"]
        for service, count in scale.items():
            args += ["--scale", f"{service}={count}"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, cwd=REPO, stdout=log, stderr=log)
        return self

    def stop(self, *, grace: float = 60) -> int | None:
        """SIGTERM to the supervisor; its exit code, or None when it had to be killed."""
        if self.proc is None:
            return None
        return stop_process(self.proc, grace=grace)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # --- the replicas -------------------------------------------------------------
    def replicas(self) -> dict[int, str]:
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

    def workers(self, service: str) -> list[psutil.Process]:
        found = []
        for pid, name in self.replicas().items():
            if name == service:
                with contextlib.suppress(psutil.NoSuchProcess):
                    found.append(psutil.Process(pid))
        return found

    def metrics_port(self, pid: int) -> int | None:
        """The port a replica listens on (its /metrics), found from its sockets."""
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    return int(conn.laddr.port)
        return None

    def kill_worker(self, service: str) -> int:
        """SIGKILL one replica of ``service``; its pid."""
        victims = self.workers(service)
        assert victims, f"no running {service} worker"
        victims[0].send_signal(signal.SIGKILL)
        return victims[0].pid

    def wait_for_worker(self, service: str, *, not_pid: int, timeout: float = 60) -> None:
        """Until the supervisor runs a replica of ``service`` other than ``not_pid``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.pid != not_pid for p in self.workers(service)):
                return
            time.sleep(0.2)
        raise AssertionError(f"{service} was not restarted\n{self.log_tail()}")


async def get_json(session: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        return await resp.json()


async def indexed_once(
    session: aiohttp.ClientSession, pipe: Pipeline, tokens: Iterable[str]
) -> bool:
    """True when the search API finds each token in exactly one article."""
    for token in tokens:
        result = await get_json(session, f"{pipe.api}/search", q=token, limit=1)
        if int(result["total"]) != 1:
            return False
    return True


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], *, timeout: float, interval: float = 0.5
) -> bool:
    """Await ``predicate`` until it returns something true (HTTP and socket
    errors count as not yet); False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return True
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(interval)
    return False
