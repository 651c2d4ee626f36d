"""Renders the measured tables of docs/benchmarks/pipeline.md from
benchmarks/results/pipeline.jsonl: medians over runs with the same label and
mode. Only the block between the ``generated`` markers is replaced, so the
hand-written analysis around it survives a re-render."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.lib.stats import median

START = "<!-- generated:start (uv run python -m benchmarks.pipeline report) -->"
END = "<!-- generated:end -->"
MODES = ("summary", "full")
SERVICES = ("poller", "parser", "deduplicator", "indexer", "api", "supervisor")
SUPPORT = ("redis-server", "postgres", "feedserver")
GOALS = {"summary": (3000.0, 10.0), "full": (150.0, 3.0)}


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _groups(results: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        grouped[(r.get("label", ""), r["mode"])].append(r)
    return grouped


def _med(runs: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> float | None:
    values = []
    for r in runs:
        try:
            values.append(get(r))
        except (KeyError, TypeError):
            continue
    return median(values)


def _runs_note(runs: list[dict[str, Any]]) -> str:
    values = sorted(r["throughput"] for r in runs if r.get("throughput"))
    incomplete = sum(1 for r in runs if r.get("incomplete"))
    note = " / ".join(f"{v:,.0f}" for v in values)
    if incomplete:
        note += f" ({incomplete} incomplete)"
    return note


def render(results: list[dict[str, Any]]) -> str:
    g = _groups(results)
    out: list[str] = []
    machine: dict[str, Any] = next((r["machine"] for r in results if "machine" in r), {})
    out.append(
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('ram_gib', '?')} GiB RAM, Python {machine.get('python', '?')}, "
        f"redis-server {machine.get('redis', '?')}, kernel {machine.get('kernel', '?')}. "
        f"Commit {results[-1].get('commit', '?') if results else '?'}."
    )
    out.append("")

    # --- throughput and ratio -------------------------------------------------
    out.append("### Sustained end-to-end throughput (articles/s indexed, median)")
    out.append("")
    out.append("| mode | run | median | runs | × baseline | goal |")
    out.append("|---|---|---:|---|---:|---|")
    for mode in MODES:
        base = _med(g.get(("baseline", mode), []), lambda r: r["throughput"])
        goal_rate, goal_ratio = GOALS[mode]
        for label in ("baseline", "sqlite-1", "sqlite-2", "postgres-1"):
            runs = g.get((label, mode), [])
            if not runs:
                continue
            rate = _med(runs, lambda r: r["throughput"])
            ratio = rate / base if rate and base and label != "baseline" else None
            goal = ""
            if label != "baseline" and rate is not None:
                ok_rate = "met" if rate >= goal_rate else "not met"
                ok_ratio = "met" if ratio and ratio >= goal_ratio else "not met"
                goal = f"≥ {goal_rate:,.0f}/s: {ok_rate}; ≥ {goal_ratio:g}×: {ok_ratio}"
            out.append(
                f"| {mode} | {label} | {_fmt(rate)} | {_runs_note(runs)} | "
                f"{_fmt(ratio, 2) if ratio else ''} | {goal} |"
            )
    out.append("")

    # --- per-stage rates ------------------------------------------------------------
    out.append(
        "### Per-stage throughput, each stage over its own 10–90 % window (articles/s, median)"
    )
    out.append("")
    out.append(
        "A stage that is not the bottleneck drains its backlog faster than the end-to-end rate;"
        " the poller's figure is the rate articles were served to it."
    )
    out.append("")
    out.append("| mode | run | poller | parser | deduplicator | indexer |")
    out.append("|---|---|---:|---:|---:|---:|")
    for mode in MODES:
        for label in ("sqlite-1", "sqlite-2", "postgres-1"):
            runs = [r for r in g.get((label, mode), []) if r.get("stage_rates_own")]
            if not runs:
                continue
            cells = [
                _fmt(_med(runs, lambda r, s=s: r["stage_rates_own"][s]))  # type: ignore[misc]
                for s in ("poller", "parser", "deduplicator", "indexer")
            ]
            out.append(f"| {mode} | {label} | " + " | ".join(cells) + " |")
    out.append("")

    # --- CPU cost -------------------------------------------------------------------
    out.append("### CPU seconds per 1,000 articles, each stage in its own 10–90 % window (median)")
    out.append("")
    out.append("Capacity of one replica on one free core = 1,000 / this figure.")
    out.append("")
    stages = ("poller", "parser", "deduplicator", "indexer")
    out.append("| mode | run | " + " | ".join(stages) + " | sum |")
    out.append("|---|---|" + "---:|" * (len(stages) + 1))
    for mode in MODES:
        for label in ("sqlite-1", "sqlite-2", "postgres-1"):
            runs = [r for r in g.get((label, mode), []) if r.get("cpu_per_1000_own")]
            if not runs:
                continue
            cells = [
                _fmt(_med(runs, lambda r, x=x: r["cpu_per_1000_own"][x]), 2)  # type: ignore[misc]
                for x in stages
            ]
            total = _med(runs, lambda r: sum(r["cpu_per_1000_own"].values()))
            out.append(f"| {mode} | {label} | " + " | ".join(cells) + f" | {_fmt(total, 2)} |")
    out.append("")
    out.append(
        "### CPU seconds per 1,000 articles, whole run (first article served to last indexed;"
        " every process; median)"
    )
    out.append("")
    groups = [*SERVICES, *SUPPORT, "baseline"]
    out.append("| mode | run | " + " | ".join(groups) + " | total |")
    out.append("|---|---|" + "---:|" * (len(groups) + 1))
    for mode in MODES:
        for label in ("baseline", "sqlite-1", "sqlite-2", "postgres-1"):
            runs = g.get((label, mode), [])
            if not runs:
                continue
            key = "cpu_per_1000" if label == "baseline" else "cpu_per_1000_run"
            runs = [r for r in runs if r.get(key)]
            if not runs:
                continue
            cells = [
                _fmt(_med(runs, lambda r, x=x, k=key: r[k][x]), 2)  # type: ignore[misc]
                for x in groups
            ]
            total = _med(runs, lambda r, k=key: sum(r[k].values()))  # type: ignore[misc]
            out.append(f"| {mode} | {label} | " + " | ".join(cells) + f" | {_fmt(total, 2)} |")
    out.append("")

    # --- latency --------------------------------------------------------------------
    out.append("### Fetch-to-searchable latency (seconds, median over runs of each percentile)")
    out.append("")
    out.append(
        "| mode | run | paced at (articles/s) | markers found | external p50 | p95 | p99 |"
        " indexer histogram p50 | p95 | p99 |"
    )
    out.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        for label in ("latency", "sqlite-1", "sqlite-2", "postgres-1"):
            runs = g.get((label, mode), [])
            if not runs:
                continue
            paced = _med(runs, lambda r: r["rate_target"] or None)
            ext = [
                _fmt(_med(runs, lambda r, q=q: r["external_latency"][q]), 2)  # type: ignore[misc]
                for q in ("p50", "p95", "p99")
            ]
            hist = [
                _fmt(_med(runs, lambda r, q=q: r["ingest_latency"][q]), 2)  # type: ignore[misc]
                for q in ("p50", "p95", "p99")
            ]
            found = ", ".join(
                f"{r['external_latency']['found']}/{r['external_latency']['markers']}"
                for r in runs
                if "external_latency" in r
            )
            out.append(
                f"| {mode} | {label} | {_fmt(paced) if paced else 'saturated'} | {found} | "
                + " | ".join(ext)
                + " | "
                + " | ".join(hist)
                + " |"
            )
    out.append("")

    # --- memory ---------------------------------------------------------------------
    out.append("### Peak RSS per process (MiB, largest replica, median over runs)")
    out.append("")
    out.append("| mode | run | " + " | ".join(groups) + " |")
    out.append("|---|---|" + "---:|" * len(groups))
    for mode in MODES:
        for label in ("baseline", "sqlite-1", "sqlite-2", "postgres-1", "latency"):
            runs = g.get((label, mode), [])
            if not runs:
                continue
            cells = [
                _fmt(_med(runs, lambda r, x=x: r["peak_rss_mib"][x]))  # type: ignore[misc]
                for x in groups
            ]
            out.append(f"| {mode} | {label} | " + " | ".join(cells) + " |")
    out.append("")

    # --- profiles -------------------------------------------------------------------
    for r in results:
        prof = r.get("profile")
        if not prof or "self" not in prof:
            continue
        out.append(
            f"### py-spy: {prof['service']} in {r['mode']} mode "
            f"({prof['samples']:,} samples; % of samples)"
        )
        out.append("")
        out.append("| % self | frame | | % total | frame |")
        out.append("|---:|---|---|---:|---|")
        inclusive = [f for f in prof["total"] if not _boilerplate_frame(f[0])][:15]
        for i in range(15):
            s = prof["self"][i] if i < len(prof["self"]) else ("", None)
            t = inclusive[i] if i < len(inclusive) else ("", None)
            out.append(
                f"| {_fmt(s[1], 1) if s[1] is not None else ''} | `{s[0]}` | | "
                f"{_fmt(t[1], 1) if t[1] is not None else ''} | `{t[0]}` |"
            )
        out.append("")

    # --- commands -------------------------------------------------------------------
    out.append("### Commands")
    out.append("")
    seen: set[str] = set()
    for r in results:
        cmd = r.get("command", "")
        if cmd and cmd not in seen:
            seen.add(cmd)
            out.append(f"- `{cmd}`")
    out.append("")
    return "\n".join(out)


def _boilerplate_frame(frame: str) -> bool:
    """Frames every sample passes through (interpreter start-up, event loop)."""
    markers = (
        "<module>", "_run_code", "_run_module_as_main", "typer/", "asyncio/runners",
        "uvicorn/", "base_events.py", "threading.py", "Command.", "Context.invoke",
        "services/cli/main.py", "ServiceRuntime.run", "main (services/",
    )  # fmt: skip
    return any(m in frame for m in markers)


def write_report(results_path: Path, output: Path) -> None:
    results = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
    block = f"{START}\n{render(results)}\n{END}"
    if output.exists():
        text = output.read_text()
        if START in text and END in text:
            before, _, rest = text.partition(START)
            _, _, after = rest.partition(END)
            output.write_text(before + block + after)
            return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# Whole-pipeline benchmark\n\n{block}\n")
