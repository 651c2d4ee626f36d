"""CPU time and RSS of the processes of a benchmark run, sampled in a thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

from tests.support.pipeline import Pipeline


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
    discover: Pipeline | None = None  # its supervisor and every replica
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
            groups.update(self.discover.replicas())
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
