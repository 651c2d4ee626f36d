"""A private Docker engine for the container test, and the docker CLI bound to it.

dockerd runs with no bridge and no iptables/NAT rules (containers only ever
get the host's network), its own data root (a cache directory kept between
runs, so base images and build layers are reused) and its own exec root,
pidfile and socket in a directory of this run. It is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

# Debian's docker.io CLI (20.10) has BuildKit built in; a newer CLI elsewhere on
# PATH may need the buildx plugin for `docker build` and is not used.
DOCKER_CLI = "/usr/bin/docker"
COMPOSE_CLI = "/usr/bin/docker-compose"


class EngineError(RuntimeError):
    pass


class Engine:
    """dockerd started and stopped by this process."""

    def __init__(self, *, data_root: Path, run_dir: Path) -> None:
        self.data_root = data_root
        self.run_dir = run_dir
        self.socket = run_dir / "docker.sock"
        self.pidfile = run_dir / "docker.pid"
        self.log = run_dir / "dockerd.log"
        # Where the pid of the engine using data_root is noted, so that a run
        # killed before it could stop its engine has it stopped by the next one.
        self.owner_note = data_root.parent / "engine.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, *, timeout: float = 60) -> None:
        self.stop_leftover()
        self.data_root.mkdir(parents=True, exist_ok=True)
        args = [
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--ip6tables=false",
            f"--data-root={self.data_root}",
            f"--exec-root={self.run_dir / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--host={self.host}",
            "--storage-driver=overlay2",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.owner_note.write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineError(f"dockerd exited with {self.proc.returncode}:\n{self.tail()}")
            if self.socket.exists() and self.pidfile.exists():
                probe = subprocess.run(
                    [DOCKER_CLI, "--host", self.host, "version", "--format", "{{.Server.Version}}"],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if probe.returncode == 0:
                    return
            time.sleep(0.2)
        raise EngineError(f"dockerd did not answer within {timeout} s:\n{self.tail()}")

    def stop(self, *, timeout: float = 30) -> None:
        """SIGTERM to the engine's pid (it stops its containers and its
        containerd), SIGKILL if it is still there after ``timeout``."""
        if self.proc is None:
            return
        pid = int(self.pidfile.read_text()) if self.pidfile.exists() else self.proc.pid
        if pid != self.proc.pid:
            raise EngineError(f"pidfile names {pid}, the engine started is {self.proc.pid}")
        if self.proc.poll() is None:
            os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self.owner_note.unlink()
        self.proc = None
        self.unmount()

    def unmount(self) -> None:
        """Unmount what the engine left mounted under the run directory (it
        keeps the host's network namespace bound at exec-root/netns/default)."""
        prefix = f"{self.run_dir}/"
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
            subprocess.run(["umount", point], check=True)

    def stop_leftover(self) -> None:
        """Stop the engine of an earlier run on the same data root, if that run
        died before stopping it: the note names its pid, and /proc confirms it
        is a dockerd on this data root."""
        try:
            pid = int(self.owner_note.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError):
            return
        if not cmdline or Path(cmdline[0].decode()).name != "dockerd":
            return
        if f"--data-root={self.data_root}".encode() not in cmdline:
            return
        print(f"container-test: stopping the engine a previous run left (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Docker:
    """The docker and docker-compose CLIs, talking to one engine."""

    def __init__(self, engine: Engine, *, logs: Path) -> None:
        self.env = {**os.environ, "DOCKER_HOST": engine.host, "DOCKER_BUILDKIT": "1"}
        self.logs = logs

    def run(self, *args: str, **kw: Any) -> str:
        """Run `docker ARGS`; with ``log=NAME``, its output goes to that file of
        the logs directory (and its tail into the error); ``stdin`` is a file."""
        return self._run([DOCKER_CLI, *args], **kw)

    def compose(self, files: list[Path], project_dir: Path, *args: str, **kw: Any) -> str:
        base = [COMPOSE_CLI, "--project-name", "feedpipe", "--project-directory", str(project_dir)]
        for path in files:
            base += ["--file", str(path)]
        return self._run([*base, *args], **kw)

    def _run(
        self,
        args: list[str],
        *,
        log: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        stdin: Any = None,
    ) -> str:
        full_env = {**self.env, **(env or {})}
        if log is None:
            result = subprocess.run(
                args, env=full_env, stdin=stdin, capture_output=True, check=False
            )
            out = result.stdout.decode(errors="replace")
            if check and result.returncode != 0:
                raise EngineError(
                    f"{' '.join(args)} exited with {result.returncode}:\n"
                    + result.stderr.decode(errors="replace")
                    + out
                )
            return out
        path = self.logs / log
        with path.open("ab") as out_file:
            result = subprocess.run(
                args, env=full_env, stdin=stdin, stdout=out_file, stderr=subprocess.STDOUT,
                check=False,
            )  # fmt: skip
        if check and result.returncode != 0:
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-40:])
            raise EngineError(f"{' '.join(args)} exited with {result.returncode}:\n{tail}")
        return ""

    def image_exists(self, ref: str) -> bool:
        return bool(self.run("image", "ls", "--quiet", ref).strip())

    def inspect(self, ref: str) -> dict[str, Any]:
        (found,) = json.loads(self.run("inspect", ref))
        return dict(found)
