"""The `feedpipe up` supervisor: prefixes output, restarts crashed children, stops cleanly."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys

from rich.console import Console

from services.cli.supervisor import Supervisor

CHILD = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: (print('bye', flush=True), sys.exit(0)))\n"
    "print('hello from', os.environ['SERVICE'], os.getpid(), flush=True)\n"
    "time.sleep(60)\n"
)


def make(buffer: io.StringIO, services: tuple[str, ...] = ("poller",)) -> Supervisor:
    console = Console(file=buffer, force_terminal=False, width=200)
    sup = Supervisor(
        scale={"parser": 2},
        env={**os.environ},
        console=console,
        services=services,
        command=lambda service: [sys.executable, "-c", CHILD],
    )
    for replica in sup.replicas:
        replica.env["SERVICE"] = replica.name
    return sup


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_child_output_is_prefixed_with_the_replica_name() -> None:
    buffer = io.StringIO()
    sup = make(buffer, ("poller", "parser"))
    task = asyncio.create_task(sup.run())
    await wait_for(lambda: buffer.getvalue().count("hello from") == 3)
    sup.stop_event.set()
    await task
    out = buffer.getvalue()
    assert "poller.0       | hello from poller.0" in out
    assert "parser.1       | hello from parser.1" in out


async def test_a_killed_child_is_restarted() -> None:
    buffer = io.StringIO()
    sup = make(buffer)
    task = asyncio.create_task(sup.run())
    await wait_for(lambda: "hello from" in buffer.getvalue())
    first = sup.replicas[0].proc
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    await wait_for(lambda: sup.replicas[0].restarts == 1 and buffer.getvalue().count("hello") == 2)
    sup.stop_event.set()
    await task
    assert "exited with -9; restarting" in buffer.getvalue()


async def test_stop_sends_sigterm_and_waits_for_children() -> None:
    buffer = io.StringIO()
    sup = make(buffer, ("poller", "parser"))
    task = asyncio.create_task(sup.run())
    await wait_for(lambda: buffer.getvalue().count("hello from") == 3)
    sup.stop_event.set()
    await task
    assert buffer.getvalue().count("bye") == 3
    assert all(r.proc is not None and r.proc.returncode == 0 for r in sup.replicas)
