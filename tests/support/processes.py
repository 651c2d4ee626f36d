"""Waiting for and stopping the child processes the harness starts."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable

import psutil


def wait_for(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Call ``predicate`` until it returns true; any exception it raises counts
    as not yet. With ``proc``, fail as soon as that process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 30) -> int | None:
    """SIGTERM, then SIGKILL for the process and its children after ``grace``
    seconds. Returns the exit code of a process that stopped by itself within
    the grace period, None when it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        proc.kill()
        proc.wait()
        return None
