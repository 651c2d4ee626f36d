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
# Labels of the runs in benchmarks/pipeline_matrix.sh, in the order shown.
THROUGHPUT = ("sqlite-1", "sqlite-2", "postgres-1", "sqlite-1-pb10", "sqlite-2-pb10")
LATENCY = ("latency", "latency-pb10", "latency-pb10-whole")
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


def _whole(r: dict[str, Any]) -> float | None:
    value = r["throughput"] if r["kind"] == "baseline" else r.get("run_rate")
    return float(value) if value else None


def _runs_note(runs: list[dict[str, Any]]) -> str:
    values = sorted(v for v in (_whole(r) for r in runs) if v)
    incomplete = sum(1 for r in runs if r.get("incomplete"))
    note = " / ".join(f"{v:,.0f}" for v in values)
    if incomplete:
        note += f" ({incomplete} incomplete)"
    return note


def render(results: list[dict[str, Any]]) -> str:
    g = _groups(results)
    out: list[str] = []
    # The machine and commit of the runs these tables show (later runs under
    # other labels, e.g. on another machine, are described where they are cited).
    shown = [r for r in results if r.get("label") in (*THROUGHPUT, *LATENCY, "baseline")]
    machine: dict[str, Any] = next(
        (r["machine"] for r in reversed(shown) if r["kind"] == "feedpipe" and "machine" in r),
        {},
    )
    out.append(
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('ram_gib', '?')} GiB RAM, Python {machine.get('python', '?')}, "
        f"redis-server {machine.get('redis', '?')}, kernel {machine.get('kernel', '?')}. "
        f"Commit {shown[-1].get('commit', '?') if shown else '?'}."
    )
    out.append("")

    # --- throughput and ratio -------------------------------------------------
    out.append("### End-to-end throughput (articles/s indexed, median)")
    out.append("")
    out.append(
        "*Whole run* = all articles / (last indexed − first served): fill and drain included,"
        " the conservative figure used for the ratio and the goals (the baseline's figure is"
        " the same: articles / its run time). *10–90 %* = the indexed count's slope between"
        " 10 % and 90 % of the budget; with 200-document parser batches the count moves in"
        " steps of thousands, so this slope is unreliable for short runs (see the analysis)."
    )
    out.append("")
    out.append("| mode | run | whole run | runs | 10–90 % | × baseline | goal |")
    out.append("|---|---|---:|---|---:|---:|---|")
    for mode in MODES:
        base = _med(g.get(("baseline", mode), []), _whole)
        goal_rate, goal_ratio = GOALS[mode]
        for label in ("baseline", *THROUGHPUT):
            runs = g.get((label, mode), [])
            if not runs:
                continue
            rate = _med(runs, _whole)
            window = _med(runs, lambda r: r["throughput"] if r["kind"] == "feedpipe" else None)
            ratio = rate / base if rate and base and label != "baseline" else None
            goal = ""
            if label != "baseline" and rate is not None:
                ok_rate = "met" if rate >= goal_rate else "not met"
                ok_ratio = "met" if ratio and ratio >= goal_ratio else "not met"
                goal = f"≥ {goal_rate:,.0f}/s: {ok_rate}; ≥ {goal_ratio:g}×: {ok_ratio}"
            out.append(
                f"| {mode} | {label} | {_fmt(rate)} | {_runs_note(runs)} | {_fmt(window)} | "
                f"{_fmt(ratio, 2) if ratio else ''} | {goal} |"
            )
    out.append("")

    out.append(
        "### CPU seconds per 1,000 articles, whole run (first article served to last indexed;"
        " every process; median)"
    )
    out.append("")
    out.append(
        "Per-stage throughput: one replica of a stage on one free core handles 1,000 / its"
        " figure articles/s (last table of this section). Each stage's own 10–90 % window was"
        " also recorded (`stage_rates_own`, `cpu_per_1000_own` in the results) but with"
        " batch-sized steps it is unreliable, so it is not shown."
    )
    out.append("")
    groups = [*SERVICES, *SUPPORT, "baseline"]
    out.append("| mode | run | " + " | ".join(groups) + " | total |")
    out.append("|---|---|" + "---:|" * (len(groups) + 1))
    for mode in MODES:
        for label in ("baseline", *THROUGHPUT):
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

    out.append(
        "### Per-stage capacity (articles/s; replicas × 1,000 / CPU per 1,000, i.e. with"
        " one free core per replica; median)"
    )
    out.append("")
    out.append("| mode | run | poller | parser | deduplicator | indexer | redis-server |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for mode in MODES:
        for label in THROUGHPUT:
            runs = [r for r in g.get((label, mode), []) if r.get("cpu_per_1000_run")]
            if not runs:
                continue
            replicas = runs[0].get("scale", {})
            cells = []
            for x in ("poller", "parser", "deduplicator", "indexer", "redis-server"):
                n = replicas.get(x, 1) if isinstance(replicas, dict) else 1
                cost = _med(runs, lambda r, x=x: r["cpu_per_1000_run"][x])  # type: ignore[misc]
                cells.append(_fmt(1000 * n / cost if cost else None))
            out.append(f"| {mode} | {label} | " + " | ".join(cells) + " |")
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
        for label in (*LATENCY, *THROUGHPUT):
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
        for label in ("baseline", *THROUGHPUT, *LATENCY):
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
