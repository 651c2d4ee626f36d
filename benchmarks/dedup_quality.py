"""Deduplicator quality, speed and memory on real article text.

    uv run python benchmarks/dedup_quality.py --corpus ../shared/corpora/extraction-eval

From the pages of the extraction-eval corpus (read from tests-html.tar.gz in
place, main text extracted with trafilatura) it builds a stream of articles:

* every page once, at its real URL (the distinct stories; pages of the same
  site share that site's template);
* two syndicated copies of each page on other sites: a different wrapper page
  (navigation, sidebar, footer), the title with a site suffix, one paragraph
  removed, an agency credit line added, a URL with tracking parameters; their
  text is extracted again by trafilatura from that new page;
* one copy at the page's own URL plus tracking parameters, from another feed;
* short-article traps: pairs of different short articles (two paragraphs)
  wrapped in the same heavy site template, whose extracted text keeps one
  template line.

The shuffled stream goes through the real Lua decision on a private
redis-server. A duplicate decision is right when the article's true story is
the story of the cluster it was linked to; precision = right / all duplicate
decisions, recall = right duplicate decisions among the articles whose story
had been seen before / those articles (excerpts excluded).
Speed (fingerprint + Redis decision, batches of 200, one process) is reported
per CPU-second of this process, as the median of ``--runs`` runs; memory per
remembered article from INFO memory after ``--memory-articles`` articles.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import random
import statistics
import sys
import tarfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.deduplicator.policy import OUTCOMES, Decision
from services.deduplicator.signature import (
    BANDS,
    Fingerprint,
    fingerprint,
    shingle_hashes,
    token_hashes,
)
from services.deduplicator.store import DedupStore
from services.parser.urls import article_id_for, canonicalize_url
from shared.pipeline.events import Article, ArticleParsed, UniqueKind
from tests.support.redis_servers import RedisServer

SITES = ["dailywire-example.com", "morningpost-example.net", "agence-exemple.fr", "herald.test"]
TRACKING = "utm_source=rss&utm_medium=feed&utm_campaign=syndication&fbclid=IwAR0abc"
CREDITS = [
    "This article first appeared on {site} and is republished with permission.",
    "Cet article a d'abord été publié par {site}.",
    "Reporting by the Example Wire agency; additional reporting by {site} staff.",
]
MIN_WORDS = 30  # pages whose extracted text is shorter are not used as stories
MAX_CUT_SHARE = 0.3  # --cut minor: the removed paragraph holds at most this share


@dataclass(frozen=True, slots=True)
class Item:
    event: ArticleParsed
    story: int  # ground truth: same number = same story
    judge_recall: bool = True  # False: an excerpt; merging it with its source is no error


def extract(page: str) -> str:
    return trafilatura.extract(page, fast=True, include_comments=False) or ""


def wrapper(site: str, title: str, body_html: str, *, seed: int) -> str:
    """A full article page of ``site``: its own navigation, sidebar and footer."""
    rng = random.Random(seed)
    nav = "".join(
        f'<li><a href="/{w.lower()}">{w}</a></li>'
        for w in rng.sample(
            ["World", "Politics", "Business", "Tech", "Sport", "Culture", "Opinion", "Weather"], 6
        )
    )
    related = "".join(
        f'<li><a href="/r/{n}">Related story number {n} on {site}</a></li>' for n in range(5)
    )
    return (
        f"<!doctype html><html><head><title>{html.escape(title)} | {site}</title></head><body>"
        f'<header><div class="logo">{site}</div><nav><ul>{nav}</ul></nav></header>'
        f'<div class="container"><main><article><h1>{html.escape(title)} - {site}</h1>'
        f'<div class="byline">By Staff, {site}</div>{body_html}</article></main>'
        f'<aside class="sidebar"><h3>Most read</h3><ul>{related}</ul></aside></div>'
        f"<footer><p>Copyright 2026 {site}. All rights reserved.</p>"
        f'<p><a href="/privacy">Privacy</a> <a href="/terms">Terms</a></p></footer>'
        "</body></html>"
    )


def paragraphs_html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def article(*, url: str, feed: str, title: str, text: str, guid: str | None = None) -> Article:
    canonical = canonicalize_url(url) or url
    return Article(
        article_id=article_id_for(url=canonical, feed_id=feed, guid=guid),
        feed_id=feed,
        feed_url=f"https://{feed}/feed.xml",
        url=canonical,
        guid=guid or url,
        title=title,
        text=text,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def load_pages(corpus: Path, limit: int) -> list[tuple[str, str, str]]:
    """(url, title, extracted text) of corpus pages, read from the tarball in place."""
    urls = {v["file"]: k for k, v in json.loads((corpus / "evaldata.json").read_text()).items()}
    pages: list[tuple[str, str, str]] = []
    with tarfile.open(corpus / "tests-html.tar.gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".html"):
                continue
            name = Path(member.name).name
            url = urls.get(name, f"https://{name.removesuffix('.html')}.example/")
            handle = tar.extractfile(member)
            if handle is None:
                continue
            page = handle.read().decode("utf-8", "replace")
            text = extract(page)
            if len(text.split()) < MIN_WORDS:
                continue
            meta = trafilatura.extract_metadata(page)
            title = (meta.title if meta and meta.title else "") or name
            pages.append((url, title, text))
            if len(pages) >= limit:
                break
    return pages


def corpus_stories(pages: list[tuple[str, str, str]], overlap: float = 0.5) -> list[int]:
    """Story label per page. The corpus itself holds the same text more than
    once (a page saved twice, one press release on two sites, a page embedding
    another): pages sharing at least ``overlap`` of the smaller page's exact
    word 5-shingle set are one story (union-find over an inverted index)."""
    sets = [set(shingle_hashes(token_hashes(text)).tolist()) for _, _, text in pages]
    parent = list(range(len(pages)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[int, list[int]] = {}
    for i, shingles in enumerate(sets):
        shared: Counter[int] = Counter()
        for sh in shingles:
            for j in index.get(sh, ()):
                shared[j] += 1
            index.setdefault(sh, []).append(i)
        for j, count in shared.items():
            if count >= overlap * min(len(sets[i]), len(sets[j])):
                parent[root(i)] = root(j)
    return [root(i) for i in range(len(pages))]


def pick_cut(paragraphs: list[str], rng: random.Random, cut: str) -> int | None:
    """Index of the paragraph a syndicating site removes. ``minor``: a random one
    among those holding at most MAX_CUT_SHARE of the words (a site cuts an aside,
    not the story; None when every paragraph is bigger); ``any``: any one."""
    if len(paragraphs) <= 2:
        return None
    if cut == "any":
        return rng.randrange(len(paragraphs))
    words = [len(p.split()) for p in paragraphs]
    total = sum(words)
    small = [i for i, w in enumerate(words) if w <= MAX_CUT_SHARE * total]
    return rng.choice(small) if small else None


def build_stream(
    pages: list[tuple[str, str, str]], seed: int, cut: str = "minor"
) -> tuple[list[Item], Counter[str]]:
    rng = random.Random(seed)
    items: list[Item] = []
    kinds: Counter[str] = Counter()
    labels = corpus_stories(pages)
    kinds["corpus_pages_merged"] = len(pages) - len(set(labels))
    hosts = Counter(urlsplit(url).hostname for url, _, _ in pages)
    kinds["same_site_page_pairs"] = sum(n * (n - 1) // 2 for n in hosts.values())
    for page_no, (url, title, text) in enumerate(pages):
        story = labels[page_no]
        host = urlsplit(url).hostname or "origin.example"
        items.append(
            Item(ArticleParsed(article=article(url=url, feed=host, title=title, text=text)), story)
        )
        kinds["original"] += 1
        paragraphs = [p for p in text.split("\n") if p.strip()]
        for copy_no, site in enumerate(rng.sample(SITES, 2)):
            kept = list(paragraphs)
            drop = pick_cut(kept, rng, cut)
            if drop is not None:
                del kept[drop]
                kinds["paragraph_cut"] += 1
            kept.append(rng.choice(CREDITS).format(site=site))
            page = wrapper(site, title, paragraphs_html(kept), seed=page_no * 10 + copy_no)
            copy_text = extract(page)
            copy_url = f"https://www.{site}/news/{page_no}-{copy_no}?{TRACKING}"
            items.append(
                Item(
                    ArticleParsed(
                        article=article(
                            url=copy_url, feed=site, title=f"{title} - {site}", text=copy_text
                        )
                    ),
                    story,
                )
            )
            kinds["syndicated"] += 1
        sep = "&" if "?" in url else "?"
        items.append(
            Item(
                ArticleParsed(
                    article=article(
                        url=f"{url}{sep}{TRACKING}", feed="aggregator.test", title=title, text=text
                    )
                ),
                story,
            )
        )
        kinds["tracking_url"] += 1
    # Short-article traps: two different short stories in one heavy template
    # (excerpts of pages n and n+1, so their story is that of their source).
    for n in range(0, len(pages) - 1, 2):
        for k in (n, n + 1):
            paragraphs = [p for p in pages[k][2].split("\n") if len(p.split()) >= 8][:2]
            if not paragraphs:
                continue
            body = paragraphs_html(paragraphs)
            template = wrapper("smalltown.test", "Local news", body, seed=1)
            leaked = "<p>Subscribe to the Smalltown newsletter for local news every morning.</p>"
            page = template.replace("</article>", f"{leaked}</article>")
            short_text = extract(page)
            items.append(
                Item(
                    ArticleParsed(
                        article=article(
                            url=f"https://smalltown.test/brief/{k}",
                            feed="smalltown.test",
                            title="Local news",
                            text=short_text,
                        )
                    ),
                    labels[k],
                    judge_recall=False,
                )
            )
            kinds["short_template"] += 1
    rng.shuffle(items)
    return items, kinds


async def run_stream(redis: Redis, items: list[Item], *, batch: int = 200) -> dict[str, object]:
    await redis.flushall()
    store = DedupStore(redis, window_days=14, bucket_bits=8)
    canonical_story: dict[str, int] = {}
    seen_stories: set[int] = set()
    tp = fp = fn = found = 0  # found: right duplicates among articles whose story was seen
    trap_merges = 0  # short same-template articles merged into another story
    by_reason: Counter[str] = Counter()
    errors: list[str] = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        prints = [fingerprint(i.event.article.text) for i in chunk]
        claims = await store.claim_many([(i.event, p) for i, p in zip(chunk, prints, strict=True)])
        for item, claim in zip(chunk, claims, strict=True):
            assert not isinstance(claim, Exception), claim
            outcome = OUTCOMES[claim.decision]
            already = item.story in seen_stories
            is_dup = outcome.reason is not None
            if claim.decision is Decision.NEW:
                canonical_story[claim.cluster_id] = item.story
            if is_dup:
                right = canonical_story.get(claim.cluster_id) == item.story
                by_reason[f"{outcome.reason}:{'ok' if right else 'wrong'}"] += 1
                if right:
                    tp += 1
                    found += int(already and item.judge_recall)
                else:
                    fp += 1
                    trap_merges += int(not item.judge_recall)
                    if len(errors) < 10:
                        errors.append(f"merged {item.event.article.url} into {claim.cluster_id}")
            elif already and item.judge_recall:
                fn += 1
                if len(errors) < 10:
                    errors.append(f"missed {item.event.article.url} ({claim.decision.name})")
            if item.judge_recall:  # an excerpt does not make its story "seen"
                seen_stories.add(item.story)
            assert outcome.kind in (None, UniqueKind.NEW, UniqueKind.DUPLICATE)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "found": found,
        "short_template_wrong_merges": trap_merges,
        "recall": found / (found + fn) if found + fn else 1.0,
        "by_reason": dict(sorted(by_reason.items())),
        "examples": errors,
    }


async def speed(redis: Redis, items: list[Item], *, batch: int = 200) -> dict[str, float]:
    """Per CPU-second of this process: fingerprints alone, and fingerprint + decision."""
    await redis.flushall()
    texts = [i.event.article.text for i in items]
    t0 = time.process_time()
    for t in texts:
        fingerprint(t)
    fp_cpu = time.process_time() - t0

    store = DedupStore(redis, window_days=14, bucket_bits=8)
    info0 = await redis.info("cpu")
    c0, w0 = time.process_time(), time.perf_counter()
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        await store.claim_many([(i.event, fingerprint(i.event.article.text)) for i in chunk])
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    info1 = await redis.info("cpu")
    server = (info1["used_cpu_user"] + info1["used_cpu_sys"]) - (
        info0["used_cpu_user"] + info0["used_cpu_sys"]
    )
    n = len(items)
    return {
        "fingerprint_per_cpu_s": n / fp_cpu,
        "path_per_cpu_s": n / cpu,
        "path_per_wall_s": n / wall,
        "redis_cpu_us_per_doc": server / n * 1e6,
    }


async def memory(redis: Redis, n: int, bucket_bits: int) -> dict[str, float]:
    """Redis memory per remembered article, every article new and with a GUID."""
    await redis.flushall()
    rng = random.Random(7)
    store = DedupStore(redis, window_days=14, bucket_bits=bucket_bits)
    base = (await redis.info("memory"))["used_memory"]
    batch: list[tuple[ArticleParsed, Fingerprint]] = []
    for k in range(n):
        event = ArticleParsed(
            article=article(
                url=f"https://site{k % 5000}.example/{k}",
                feed=f"f{k % 5000}",
                title="t",
                text="",
                guid=f"post-{k}",
            )
        )
        fp = Fingerprint(
            tokens=400,
            content_hash=rng.randbytes(8),
            bands=tuple(rng.randbytes(8) for _ in range(BANDS)),
            sketch=rng.randbytes(16),
        )
        batch.append((event, fp))
        if len(batch) == 500:
            await store.claim_many(batch)
            batch = []
    if batch:
        await store.claim_many(batch)
    used = (await redis.info("memory"))["used_memory"]
    keys = await redis.dbsize()
    sample = [k async for k in redis.scan_iter(count=1000)][:200]
    usage = [await redis.memory_usage(k) or 0 for k in sample]
    encodings = Counter([(await redis.object("encoding", k)) for k in sample])
    return {
        "articles": n,
        "bucket_bits": bucket_bits,
        "keys": keys,
        "bytes_per_article": (used - base) / n,
        "memory_usage_sampled_bytes_per_article": statistics.mean(usage) * keys / n,
        "encodings": {str(k): v for k, v in encodings.items()},
        "state_keys_gauge": await store.state_keys(),
    }


async def memory_only(args: argparse.Namespace) -> dict[str, object]:
    server = RedisServer().start()
    redis = Redis.from_url(server.url)
    try:
        return {"memory": await memory(redis, args.memory_articles, args.memory_bucket_bits)}
    finally:
        await redis.aclose()
        server.close()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    if args.memory_only:
        return await memory_only(args)
    t0 = time.perf_counter()
    pages = load_pages(args.corpus, args.limit)
    items, kinds = build_stream(pages, seed=args.seed, cut="minor")
    harsh, _ = build_stream(pages, seed=args.seed, cut="any")
    prep = time.perf_counter() - t0
    server = RedisServer().start()
    redis = Redis.from_url(server.url)
    try:
        quality = await run_stream(redis, items)
        quality_any_cut = await run_stream(redis, harsh)
        runs = [await speed(redis, items) for _ in range(args.runs)]
        mem = await memory(redis, args.memory_articles, args.memory_bucket_bits)
        version = (await redis.info("server"))["redis_version"]
    finally:
        await redis.aclose()
        server.close()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {
        "pages": len(pages),
        "stream": dict(kinds),
        "articles": len(items),
        "prepare_s": round(prep, 1),
        "quality": quality,
        "quality_any_paragraph_cut": quality_any_cut,
        "speed_median": {k: round(v, 1) for k, v in med.items()},
        "speed_runs": runs,
        "memory": mem,
        "redis_version": version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="extraction-eval corpus directory")
    parser.add_argument("--limit", type=int, default=1000, help="pages used as stories")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--memory-articles", type=int, default=100_000)
    parser.add_argument("--memory-bucket-bits", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--memory-only", action="store_true", help="only the memory figure")
    args = parser.parse_args()
    if not args.memory_only and args.corpus is None:
        parser.error("--corpus is required (unless --memory-only)")
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
