"""``feedpipe up``: run every service as its own process, like a tiny init.

Each child is ``python -m services.cli run <service>``; its output lines are
prefixed with the replica's name; a child that exits (crash, SIGKILL) is started
again with exponential backoff that resets once it has stayed up for a while;
SIGINT/SIGTERM stops every child with SIGTERM, waits, then SIGKILLs stragglers.
A hand-written loop because no maintained library does this for asyncio
subprocesses with per-line prefixes (supervisord/honcho are separate daemons).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rich.console import Console

from shared.pipeline import stages

SERVICES = stages.names(stages.SERVICES)
# Workers serve /metrics on a port of their own (FEEDPIPE_METRICS_PORT).
WORKERS = frozenset(stages.names(stages.WORKERS))
STABLE_AFTER_S = 30.0
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 25.0

# Log prefix colour of each service, by its place in the pipeline.
PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "bright_magenta")
COLOURS = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(SERVICES)}


def default_command(service: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", "run", service]


@dataclass
class Replica:
    service: str
    index: int
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = 0.5
    stopping: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.index}"


class Supervisor:
    def __init__(
        self,
        *,
        scale: Mapping[str, int],
        env: Mapping[str, str],
        console: Console | None = None,
        services: Sequence[str] = SERVICES,
        command: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.command = command or default_command
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.stop_event = asyncio.Event()
        self.replicas: list[Replica] = []
        for service in services:
            for index in range(scale.get(service, 1)):
                child_env = dict(env)
                child_env["FEEDPIPE_CONSUMER_NAME"] = f"{os.uname().nodename}-{service}{index}"
                if index > 0 and service in WORKERS:
                    # extra replicas of a worker need their own metrics port locally
                    child_env["FEEDPIPE_METRICS_PORT"] = "0"
                self.replicas.append(Replica(service, index, child_env))

    def _print(self, replica: Replica, line: str) -> None:
        colour = COLOURS.get(replica.service, "white")
        self.console.print(f"[{colour}]{replica.name:<15}|[/] {line}", markup=True, end="\n")

    async def _pump(self, replica: Replica, stream: asyncio.StreamReader) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            self.console.print(
                f"[{COLOURS.get(replica.service, 'white')}]{replica.name:<15}|[/] ",
                end="",
                markup=True,
            )
            self.console.out(line, highlight=False)

    async def _start(self, replica: Replica) -> None:
        replica.proc = await asyncio.create_subprocess_exec(
            *self.command(replica.service),
            env=replica.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the supervisor only
        )  # fmt: skip
        replica.started_at = time.monotonic()
        assert replica.proc.stdout is not None
        assert replica.proc.stderr is not None
        replica.tasks = [
            asyncio.create_task(self._pump(replica, replica.proc.stdout)),
            asyncio.create_task(self._pump(replica, replica.proc.stderr)),
        ]
        self._print(replica, f"started (pid {replica.proc.pid})")

    async def _watch(self, replica: Replica) -> None:
        while not self.stop_event.is_set():
            await self._start(replica)
            assert replica.proc is not None
            code = await replica.proc.wait()
            for task in replica.tasks:
                with contextlib.suppress(Exception):
                    await task
            if self.stop_event.is_set() or replica.stopping:
                self._print(replica, f"stopped (exit {code})")
                return
            if time.monotonic() - replica.started_at > STABLE_AFTER_S:
                replica.backoff = 0.5
            replica.restarts += 1
            self._print(
                replica,
                f"exited with {code}; restarting in {replica.backoff:.1f}s"
                f" (restart {replica.restarts})",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=replica.backoff)
            replica.backoff = min(replica.backoff * 2, MAX_BACKOFF_S)

    async def _stop_all(self) -> None:
        alive = [r for r in self.replicas if r.proc and r.proc.returncode is None]
        for replica in alive:
            replica.stopping = True
            assert replica.proc is not None
            with contextlib.suppress(ProcessLookupError):
                replica.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for replica in alive:
            assert replica.proc is not None
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                await asyncio.wait_for(replica.proc.wait(), timeout=remaining)
            except TimeoutError:
                self._print(replica, "did not stop in time; killing")
                with contextlib.suppress(ProcessLookupError):
                    replica.proc.kill()
                await replica.proc.wait()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop_event.set)
        watchers = [asyncio.create_task(self._watch(r)) for r in self.replicas]
        await self.stop_event.wait()
        self.console.print("[bold]Stopping feedpipe…[/]")
        await self._stop_all()
        await asyncio.gather(*watchers, return_exceptions=True)
