"""Run the real pipeline (``feedpipe up``: one OS process per service) for tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from services.cli.embedded import free_port

REPO = Path(__file__).resolve().parents[2]


class Pipeline:
    def __init__(self, *, redis_url: str, data_dir: Path, extra_env: Mapping[str, str] = {}):
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "FEEDPIPE_REDIS_URL": redis_url,
            "FEEDPIPE_DATA_DIR": str(data_dir),
            "FEEDPIPE_API_PORT": str(self.api_port),
            "FEEDPIPE_METRICS_PORT": "0",
            "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true",
            "FEEDPIPE_MIN_INTERVAL": "1",
            "FEEDPIPE_BATCH_TIMEOUT_MS": "50",
            "FEEDPIPE_RECLAIM_IDLE_MS": "2000",
            "FEEDPIPE_LOG_JSON": "true",
            **extra_env,
        }
        self.log_path = data_dir / "pipeline.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env=self.env, cwd=REPO, capture_output=True, text=True, check=check, timeout=120,
        )  # fmt: skip

    async def acli(self, *args: str) -> str:
        """The CLI without blocking the event loop (feed servers of the test run on it)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", *args,
            env=self.env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"feedpipe {' '.join(args)} failed: {err.decode()}")
        return out.decode()

    def start(self, *scale: str) -> None:
        args = [sys.executable, "-m", "services.cli", "up"]
        for item in scale:
            args += ["--scale", item]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, env=self.env, cwd=REPO, stdout=log, stderr=log)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def workers(self, service: str) -> list[psutil.Process]:
        assert self.proc is not None
        found = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if cmd[-2:] == ["run", service]:
                found.append(child)
        return found

    def kill_worker(self, service: str) -> int:
        victims = self.workers(service)
        assert victims, f"no running {service} worker"
        victims[0].send_signal(signal.SIGKILL)
        return victims[0].pid

    def wait_for_worker(self, service: str, *, not_pid: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.pid != not_pid for p in self.workers(service)):
                return
            time.sleep(0.2)
        raise AssertionError(f"{service} was not restarted\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                child.kill()
            self.proc.kill()
            self.proc.wait()
            return None


async def get_json(session: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        return await resp.json()


async def indexed_once(session: aiohttp.ClientSession, pipe: Pipeline, tokens: Any) -> bool:
    """True when the search API finds each token in exactly one article."""
    for token in tokens:
        result = await get_json(session, f"{pipe.api}/search", q=token, limit=1)
        if int(result["total"]) != 1:
            return False
    return True


async def wait_until(predicate: Any, *, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return True
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(interval)
    return False
