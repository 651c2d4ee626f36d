"""Parser throughput: entries per CPU-second of one process, pure path as deployed.

What one feed document costs the parser service in summary mode (no page
fetch): decode + hostile-XML check + parse (fastfeedparser, feedparser
fallback) + per-entry seen-marker version + Article normalisation (canonical
URL, nh3 sanitising, plain text, the page-needed decision, language) + the
ArticleParsed JSON the stage writes.

Two inputs:
* ``synthetic``: generated RSS 2.0 / Atom / JSON Feed documents of 50 entries
  with ~2 kB HTML each (like the library measurements in MEASURED.md);
* ``corpus``: every feed file under ``--corpus`` (real captured test feeds;
  small, so per-document overhead weighs more).

    uv run python benchmarks/parse_throughput.py --corpus ../shared/corpora/feeds
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.parser.formats import FeedParseError, parse_document
from services.parser.normalize import build_article, entry_content, entry_identity, needs_page
from services.parser.seen import entry_version
from shared.pipeline.events import ArticleParsed

WORDS = [
    "harbour",
    "council",
    "vote",
    "lighthouse",
    "stone",
    "quarry",
    "winter",
    "storm",
    "engineers",
    "museum",
    "ferry",
    "market",
    "budget",
    "festival",
    "railway",
    "election",
    "energy",
    "bridge",
    "theatre",
    "archive",
    "orchard",
    "glacier",
    "tariff",
    "library",
    "stadium",
    "parliament",
    "summit",
    "pension",
    "monsoon",
    "bakery",
    "telescope",
    "cathedral",
    "airport",
]
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)


def _para(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _html(rng: random.Random) -> str:
    parts = [f"<p>{_para(rng, 40)} <a href='/t/{rng.randint(1, 99)}'>more</a></p>"]
    parts += [f"<p>{_para(rng, 45)}</p>" for _ in range(4)]
    return "".join(parts)


def synthetic_docs(n_docs: int, per_doc: int, seed: int = 7) -> list[tuple[bytes, str]]:
    rng = random.Random(seed)
    docs: list[tuple[bytes, str]] = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for d in range(n_docs):
        kind = ("rss", "atom", "json")[d % 3]
        host = f"https://site{d}.example.com"
        items = []
        for i in range(per_doc):
            when = base - timedelta(hours=i * 3 + d)
            items.append((f"{host}/{d}/{i}?utm_source=rss", _para(rng, 9), _html(rng), when))
        if kind == "rss":
            body = "".join(
                f"<item><title>{t}</title><link>{u.replace('&', '&amp;')}</link>"
                f"<guid>{u.replace('&', '&amp;')}</guid><dc:creator>Jane Doe</dc:creator>"
                f"<category>News</category><pubDate>{w.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
                f"</pubDate><description><![CDATA[{h[:200]}]]></description>"
                f"<content:encoded><![CDATA[{h}]]></content:encoded></item>"
                for u, t, h, w in items
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
                f"<title>Site {d}</title><link>{host}/</link><language>en</language>"
                f"{body}</channel></rss>"
            )
            docs.append((doc.encode(), "application/rss+xml"))
        elif kind == "atom":
            body = "".join(
                f"<entry><title>{t}</title><link href='{u.replace('&', '&amp;')}'/>"
                f"<id>{u.replace('&', '&amp;')}</id><author><name>Jane Doe</name></author>"
                f"<published>{w.isoformat()}</published><updated>{w.isoformat()}</updated>"
                f"<summary>{t}</summary><content type='html'><![CDATA[{h}]]></content></entry>"
                for u, t, h, w in items
            )
            doc = (
                '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
                f' xml:lang="en"><title>Site {d}</title><link href="{host}/"/><id>{host}/</id>'
                f"<updated>{base.isoformat()}</updated>{body}</feed>"
            )
            docs.append((doc.encode(), "application/atom+xml"))
        else:
            feed = {
                "version": "https://jsonfeed.org/version/1.1",
                "title": f"Site {d}",
                "home_page_url": host,
                "language": "en",
                "items": [
                    {
                        "id": u,
                        "url": u,
                        "title": t,
                        "content_html": h,
                        "date_published": w.isoformat(),
                        "authors": [{"name": "Jane Doe"}],
                    }
                    for u, t, h, w in items
                ],
            }
            docs.append((json.dumps(feed).encode(), "application/feed+json"))
    return docs


def corpus_docs(root: Path) -> list[tuple[bytes, str | None]]:
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in {".xml", ".rss", ".atom", ".json"}
        and not p.name.endswith((".serde.json", "_expected.json"))
        and "/output/" not in str(p)
    )
    return [(p.read_bytes(), None) for p in paths]


def process(docs: list[tuple[bytes, str | None]]) -> int:
    """The parser's per-document work, minus Redis; returns articles produced."""
    n = 0
    for body, content_type in docs:
        try:
            feed = parse_document(body, content_type=content_type)
        except FeedParseError:
            continue
        base = "https://example.org/feed.xml"
        for entry in feed.entries:
            identity = entry_identity(entry, base_url=base)
            entry_version("feed", entry, url=identity[0])
            try:
                # As the handler: the feed's own content decides whether the
                # page is needed (in summary mode it never is fetched).
                content = entry_content(entry, link_base=identity[0] or base)
                needs_page(content.text)
                article = build_article(
                    entry,
                    feed=feed,
                    feed_id="feed",
                    feed_url=base,
                    base_url=base,
                    fetched_at=FETCHED,
                    identity=identity,
                    content=content,
                )
            except ValueError:
                continue
            ArticleParsed(article=article).model_dump_json()
            n += 1
    return n


def repoll(docs: list[tuple[bytes, str | None]]) -> int:
    """A re-poll of documents whose entries were all published before: parse,
    identity and seen-marker version per entry, then the (Redis) seen check
    skips them."""
    n = 0
    for body, content_type in docs:
        try:
            feed = parse_document(body, content_type=content_type)
        except FeedParseError:
            continue
        for entry in feed.entries:
            url, _ = entry_identity(entry, base_url="https://example.org/feed.xml")
            entry_version("feed", entry, url=url)
            n += 1
    return n


def library_only(docs: list[tuple[bytes, str | None]], name: str) -> int:
    """Entries out of the bare parsing library (no decoding, checks or normalising)."""
    import io

    import fastfeedparser
    import feedparser

    n = 0
    for body, _ in docs:
        if name == "fastfeedparser":
            n += len(fastfeedparser.parse(body).get("entries") or [])
        else:
            n += len(feedparser.parse(io.BytesIO(body)).get("entries") or [])
    return n


def breakdown(docs: list[tuple[bytes, str | None]]) -> list[tuple[str, float]]:
    """CPU microseconds per entry of each step of the new-entry path."""
    from services.parser.html import sanitize_html, text_of_clean_html

    base = "https://example.org/feed.xml"
    steps: list[tuple[str, float]] = []

    def step(name: str, n: int, work: Callable[[], object]) -> object:
        start = time.process_time()
        out = work()
        steps.append((name, (time.process_time() - start) / n * 1e6))
        return out

    from services.parser.urls import _canonicalize

    feeds = [parse_document(b, content_type=c) for b, c in docs[:3]]  # warm-up
    _canonicalize.cache_clear()  # cold URL cache, as for entries never seen before
    start = time.process_time()
    feeds = [parse_document(b, content_type=c) for b, c in docs]
    pairs = [(f, e) for f in feeds for e in f.entries]
    n = len(pairs)
    steps.append(("decode + safety check + parse", (time.process_time() - start) / n * 1e6))
    ids: Any = step(
        "canonical URL", n, lambda: [entry_identity(e, base_url=base) for _, e in pairs]
    )
    step(
        "fingerprint",
        n,
        lambda: [entry_version("f", e, url=i[0]) for (_, e), i in zip(pairs, ids, strict=True)],
    )
    cleaned: Any = step(
        "nh3 sanitise (+ relative URLs)",
        n,
        lambda: [sanitize_html(e.content_html, base_url=base) for _, e in pairs],
    )
    step("plain text", n, lambda: [text_of_clean_html(c) for c in cleaned])
    arts: Any = step(
        "build_article total (incl. the two above)",
        n,
        lambda: [
            build_article(
                e,
                feed=f,
                feed_id="f",
                feed_url=base,
                base_url=base,
                fetched_at=FETCHED,
                identity=i,
            )
            for (f, e), i in zip(pairs, ids, strict=True)
        ],
    )
    step(
        "ArticleParsed JSON", n, lambda: [ArticleParsed(article=a).model_dump_json() for a in arts]
    )
    return steps


def measure(
    docs: list[tuple[bytes, str | None]], runs: int, work: Callable[..., int]
) -> tuple[int, list[float]]:
    work(docs[:5])  # warm caches (langid model, nh3 cleaners)
    rates: list[float] = []
    n = 0
    for _ in range(runs):
        start = time.process_time()
        n = work(docs)
        rates.append(n / (time.process_time() - start))
    return n, rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=None, help="feeds corpus directory")
    ap.add_argument("--docs", type=int, default=120, help="synthetic documents")
    ap.add_argument("--entries", type=int, default=50, help="entries per synthetic document")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare-libraries", action="store_true", help="also time bare libraries")
    ap.add_argument("--breakdown", action="store_true", help="CPU per entry of each step")
    args = ap.parse_args()

    sets: dict[str, list[tuple[bytes, str | None]]] = {
        "synthetic": list(synthetic_docs(args.docs, args.entries))
    }
    if args.corpus is not None and args.corpus.is_dir():
        sets["corpus"] = corpus_docs(args.corpus)
    print("| input | path | documents | entries | entries/s per core (median) | runs |")
    print("|---|---|---:|---:|---:|---|")
    for name, docs in sets.items():
        for path, work in (("new entries", process), ("re-poll, all seen", repoll)):
            n, rates = measure(docs, args.runs, work)
            runs = ", ".join(f"{r:,.0f}" for r in rates)
            print(
                f"| {name} | {path} | {len(docs)} | {n} | {statistics.median(rates):,.0f}"
                f" | {runs} |"
            )
    if args.breakdown:
        print("\n| step (synthetic, new entries) | CPU µs per entry |")
        print("|---|---:|")
        for name, micros in breakdown(sets["synthetic"]):
            print(f"| {name} | {micros:.1f} |")
    if args.compare_libraries:
        xml_docs = [d for d in sets["synthetic"] if not d[0].startswith(b"{")]
        for lib in ("fastfeedparser", "feedparser"):
            docs = xml_docs if lib == "fastfeedparser" else xml_docs[:8]
            n, rates = measure(docs, args.runs, lambda d, lib=lib: library_only(d, lib))
            runs = ", ".join(f"{r:,.0f}" for r in rates)
            print(
                f"| synthetic RSS+Atom | {lib} alone (defaults) | {len(docs)} | {n} |"
                f" {statistics.median(rates):,.0f} | {runs} |"
            )


if __name__ == "__main__":
    main()
