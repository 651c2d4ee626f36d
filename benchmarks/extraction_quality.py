"""Main-text extraction quality and speed on the extraction-eval corpus.

For each page of ``evaldata.json`` (read from ``tests-html.tar.gz`` in place,
nothing is unpacked), the parser's extractor runs and we count:
* must-contain snippets (``with``) found in the extracted text (recall proxy);
* must-not-contain snippets (``without``: navigation, teasers, comments,
  footers...) absent from it (precision proxy: boilerplate kept out).
Pages/s is per CPU-second of one process, median of ``--runs`` runs.

    uv run python benchmarks/extraction_quality.py --corpus ../shared/corpora/extraction-eval
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from services.parser.extract import extract_page
from services.parser.handler import Extractor


@dataclass
class Score:
    with_found: int = 0
    with_total: int = 0
    without_absent: int = 0
    without_total: int = 0
    empty: int = 0
    pages: int = 0


def _norm(text: str) -> str:
    return " ".join(text.split())


def load(corpus: Path, limit: int | None) -> list[tuple[str, bytes, list[str], list[str]]]:
    evaldata = json.loads((corpus / "evaldata.json").read_text())
    by_file = {v["file"]: (url, v) for url, v in evaldata.items()}
    pages: list[tuple[str, bytes, list[str], list[str]]] = []
    with tarfile.open(corpus / "tests-html.tar.gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or name not in by_file:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            url, spec = by_file[name]
            pages.append((url, handle.read(), spec.get("with", []), spec.get("without", [])))
            if limit and len(pages) >= limit:
                break
    return pages


def evaluate(pages: list[tuple[str, bytes, list[str], list[str]]], *, precision: bool) -> Score:
    score = Score()
    for url, html, must, must_not in pages:
        content = extract_page(html, url=url, favor_precision=precision)
        text = _norm(content.text) if content else ""
        score.pages += 1
        score.empty += not text
        score.with_total += len(must)
        score.with_found += sum(_norm(s) in text for s in must)
        score.without_total += len(must_not)
        score.without_absent += sum(_norm(s) not in text for s in must_not)
    return score


def speed(pages: list[tuple[str, bytes, list[str], list[str]]], *, precision: bool) -> float:
    start = time.process_time()
    for url, html, _, _ in pages:
        extract_page(html, url=url, favor_precision=precision)
    return len(pages) / (time.process_time() - start)


async def _loop_lag(
    pages: list[tuple[str, bytes, list[str], list[str]]], workers: int
) -> tuple[float, float]:
    """(worst event-loop stall in ms, pages/s wall) while extracting ``pages``
    through the service's Extractor, 4 at a time."""
    extractor = Extractor(workers)
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - start - 0.005)

    tick = asyncio.create_task(ticker())
    gate = asyncio.Semaphore(4)

    async def one(url: str, html: bytes) -> None:
        async with gate:
            await extractor.extract(html, url=url)

    await extractor.extract(pages[0][1], url=pages[0][0])  # start workers
    start = time.perf_counter()
    await asyncio.gather(*(one(url, html) for url, html, _, _ in pages))
    elapsed = time.perf_counter() - start
    done.set()
    await tick
    extractor.close()
    return worst * 1000, len(pages) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, required=True, help="extraction-eval directory")
    ap.add_argument("--limit", type=int, default=None, help="first N pages only")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-quality", action="store_true", help="only the event-loop test")
    args = ap.parse_args()

    pages = load(args.corpus, args.limit)
    print(f"{len(pages)} pages, {sum(len(p[1]) for p in pages) / 1e6:.1f} MB of HTML")
    print("\n| Extractor | worst event-loop stall | pages/s (wall, 4 in flight) |")
    print("|---|---:|---:|")
    sample = pages[:150]
    for workers in (0, 2):
        stall, rate = asyncio.run(_loop_lag(sample, workers))
        label = "thread (extract_workers=0)" if workers == 0 else f"{workers} processes"
        print(f"| {label} | {stall:.0f} ms | {rate:.0f} |")
    if args.skip_quality:
        return
    print()
    print(
        "| extractor settings | must-contain found | must-not-contain absent | empty |"
        " pages/s per core (median) | runs |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for precision in (True, False):
        score = evaluate(pages, precision=precision)
        rates = [speed(pages, precision=precision) for _ in range(args.runs)]
        label = (
            "trafilatura fast, no comments, favor_precision (deployed)"
            if precision
            else "trafilatura fast, no comments"
        )
        print(
            f"| {label} | {score.with_found}/{score.with_total}"
            f" ({score.with_found / max(score.with_total, 1):.1%}) |"
            f" {score.without_absent}/{score.without_total}"
            f" ({score.without_absent / max(score.without_total, 1):.1%}) |"
            f" {score.empty} | {statistics.median(rates):.0f} |"
            f" {', '.join(f'{r:.0f}' for r in rates)} |"
        )


if __name__ == "__main__":
    main()
