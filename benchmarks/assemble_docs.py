"""Build docs/BENCHMARKS.md: the summary kept in docs/benchmarks/_summary.md,
followed by every area's results (docs/benchmarks/<area>.md), so one file holds
every figure with its command while each benchmark writes only its own file.

    uv run python -m benchmarks.assemble_docs [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = (
    "pipeline",
    "poller",
    "parser",
    "deduplicator",
    "index",
    "delivery",
    "reliability",
    "soak",
)


def _demote(text: str) -> str:
    """Shift headings so every area sits under one ``##`` heading."""
    lines = text.strip().splitlines()
    top = min((len(m.group(1)) for ln in lines if (m := re.match(r"(#+) ", ln))), default=2)
    shift = 2 - top
    out = []
    for line in lines:
        m = re.match(r"(#+) ", line)
        out.append("#" * (len(m.group(1)) + shift) + line[len(m.group(1)) :] if m else line)
    return "\n".join(out)


def build() -> str:
    parts = [(DOCS / "benchmarks" / "_summary.md").read_text().strip()]
    areas = sorted(
        (p for p in (DOCS / "benchmarks").glob("*.md") if not p.name.startswith("_")),
        key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem),
    )
    for path in areas:
        parts.append(f"<!-- from docs/benchmarks/{path.name} -->\n{_demote(path.read_text())}")
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="Fail when the file is stale.")
    args = parser.parse_args()
    target = DOCS / "BENCHMARKS.md"
    text = build()
    if args.check:
        if not target.exists() or target.read_text() != text:
            sys.exit("docs/BENCHMARKS.md is stale: run python -m benchmarks.assemble_docs")
        return
    target.write_text(text)


if __name__ == "__main__":
    main()
