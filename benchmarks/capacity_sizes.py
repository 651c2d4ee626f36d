"""Bytes per event, Redis memory per stream entry and index storage per article,
for the capacity model in docs/SCALING.md.

Events are built from the real models (shared.pipeline.events) with a stated article size
(default 5,000 characters of text, a 300-character summary, the same text as
sanitised HTML paragraphs); what is measured is what feedpipe adds around it:
JSON encoding, stream entry overhead in Redis, and the index's own storage
(SQLite FTS5 always; PostgreSQL with --postgres-url).

    uv run python -m benchmarks.capacity_sizes --articles 2000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from shared.index import open_index
from shared.pipeline.events import Article, ArticleParsed, ArticleUnique, FeedFetched, UniqueKind
from tests.support.redis_servers import RedisServer

WORDS = [
    "harbour",
    "council",
    "budget",
    "river",
    "election",
    "station",
    "market",
    "school",
    "bridge",
    "storm",
    "minister",
    "report",
    "village",
    "festival",
    "museum",
    "railway",
    "energy",
    "water",
    "hospital",
    "police",
    "court",
    "farmers",
    "weather",
    "le",
    "conseil",
    "municipal",
    "a",
    "voté",
    "la",
    "nouvelle",
    "école",
    "du",
    "quartier",
    "les",
    "habitants",
    "ont",
    "demandé",
]


def sentence(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS) + (str(rng.randrange(1000)) if rng.random() < 0.05 else "")
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:chars]


def make_article(rng: random.Random, n: int, text_chars: int) -> Article:
    paragraphs = [sentence(rng, 500) for _ in range(max(text_chars // 500, 1))]
    text = "\n\n".join(paragraphs)
    return Article(
        article_id=f"{rng.getrandbits(64):016x}",
        feed_id=f"{rng.getrandbits(64):016x}",
        feed_url=f"https://news{n % 50}.example.org/feed.xml",
        url=f"https://news{n % 50}.example.org/2026/11/28/{sentence(rng, 60).replace(' ', '-')}",
        guid=f"https://news{n % 50}.example.org/?p={n}",
        title=sentence(rng, 80),
        authors=["Jane Doe"],
        categories=["local", "politics"],
        published_at=datetime.now(UTC),
        date_source="published",
        language="en",
        summary=sentence(rng, 300),
        content_html="".join(f"<p>{p}</p>" for p in paragraphs),
        text=text,
        source_format="rss20",
        fetched_at=datetime.now(UTC),
    )


def redis_entry_bytes(payloads: list[bytes]) -> float:
    """MEMORY USAGE of a stream holding these payloads, per entry."""
    with RedisServer() as server:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for payload in payloads:
            pipe.xadd("s", {"__data__": payload})
        pipe.execute()
        usage = client.memory_usage("s", samples=0)
        client.close()
        return float(usage or 0) / len(payloads)


async def index_bytes(url: str, events: list[ArticleUnique], sqlite_path: Path | None) -> float:
    index = open_index(url)
    await index.setup()
    for start in range(0, len(events), 200):
        await index.apply(events[start : start + 200])
    await index.close()
    if sqlite_path is not None:
        total = sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
        return total / len(events)
    raise NotImplementedError


def postgres_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--text-chars", type=int, default=5000)
    ap.add_argument("--feed-items", type=int, default=20, help="Items per feed document.")
    ap.add_argument("--postgres-url", default=None, help="An EMPTY database to fill.")
    args = ap.parse_args()
    rng = random.Random(7)

    articles = [make_article(rng, n, args.text_chars) for n in range(args.articles)]
    parsed = [ArticleParsed(article=a).model_dump_json().encode() for a in articles]
    uniques = [ArticleUnique(kind=UniqueKind.NEW, article=a, cluster_id=a.article_id)
               for a in articles]  # fmt: skip
    unique_json = [u.model_dump_json().encode() for u in uniques]
    # A feed document of --feed-items items, each with the summary and the full
    # HTML (content:encoded), as many news feeds publish.
    items = "".join(
        f"<item><title>{a.title}</title><link>{a.url}</link><guid>{a.guid}</guid>"
        f"<description>{a.summary}</description>"
        f"<content:encoded><![CDATA[{a.content_html}]]></content:encoded></item>"
        for a in articles[: args.feed_items]
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
    fetched = FeedFetched(
        feed_id="0" * 16, feed_url="https://news.example.org/feed.xml",
        final_url="https://news.example.org/feed.xml", fetched_at=datetime.now(UTC),
        content_type="application/rss+xml", body=body,
    ).model_dump_json().encode()  # fmt: skip

    def mean(xs: list[bytes]) -> float:
        return sum(map(len, xs)) / len(xs)

    print(f"article text {args.text_chars} chars, {args.articles} articles")
    print(f"FeedFetched: {len(fetched)} B for a {len(body)} B document of {args.feed_items} items")
    print(f"ArticleParsed: {mean(parsed):.0f} B/event; ArticleUnique: {mean(unique_json):.0f} B")
    print(f"Redis stream entry, ArticleParsed: {redis_entry_bytes(parsed):.0f} B/entry")
    print(f"Redis stream entry, FeedFetched: {redis_entry_bytes([fetched] * 200):.0f} B/entry")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.sqlite3"
        per = asyncio.run(index_bytes(f"sqlite:///{path}", uniques, path))
        print(f"SQLite FTS5 index: {per:.0f} B/article")
    if args.postgres_url:
        before = postgres_bytes(args.postgres_url)
        index = open_index(args.postgres_url)

        async def fill() -> None:
            await index.setup()
            for start in range(0, len(uniques), 200):
                await index.apply(uniques[start : start + 200])
            await index.close()

        asyncio.run(fill())
        after = postgres_bytes(args.postgres_url)
        print(f"PostgreSQL index: {(after - before) / len(uniques):.0f} B/article")


if __name__ == "__main__":
    main()
