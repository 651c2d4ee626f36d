"""The single-process script a user would otherwise write: poll each feed in a
loop with feedparser, take the entry's content (summary mode) or fetch its page
and extract it with trafilatura (full-content mode), and store it in an SQLite
FTS5 table, skipping links already stored. One process, one thread.

Run by ``benchmarks/pipeline.py baseline`` against the same feed server as
feedpipe; alone::

    uv run python -m benchmarks.baseline --db /tmp/b.sqlite3 --mode summary \
        --max-articles 3000 --max-seconds 60 http://127.0.0.1:PORT/feeds/0 ...

Prints one JSON line: articles stored, seconds, articles/s.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
import urllib.request
from typing import Any

import feedparser
import lxml.html
import trafilatura

USER_AGENT = "baseline-script/1.0 (+https://example.org/feedpipe-benchmark)"


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=30) as resp:
        body: bytes = resp.read()
        return body


def parse_feed(body: bytes) -> list[dict[str, str]]:
    """Entries as dicts with link, title and html; feedparser has no JSON Feed support."""
    if body.lstrip().startswith(b"{"):
        items = json.loads(body).get("items", [])
        return [
            {
                "link": i.get("url", ""),
                "title": i.get("title", ""),
                "html": i.get("content_html") or i.get("content_text", ""),
            }
            for i in items
        ]
    return [
        {
            "link": e.get("link", ""),
            "title": e.get("title", ""),
            "html": e["content"][0]["value"] if e.get("content") else e.get("summary", ""),
        }
        for e in feedparser.parse(body).entries
    ]


def html_text(html: str) -> str:
    if not html.strip():
        return ""
    root: Any = lxml.html.fromstring(html)
    return str(root.text_content())


def open_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS seen (link TEXT PRIMARY KEY)")
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS articles USING fts5(link UNINDEXED, title, body)"
    )
    return db


def run(
    urls: list[str], *, db_path: str, mode: str, max_articles: int, max_seconds: float, fast: bool
) -> dict[str, float]:
    db = open_db(db_path)
    stored = 0
    started = time.monotonic()
    deadline = started + max_seconds
    idle_rounds = 0
    while stored < max_articles and time.monotonic() < deadline and idle_rounds < 3:
        before = stored
        for url in urls:
            for entry in parse_feed(fetch(url)):
                link = entry["link"]
                if not link or db.execute("SELECT 1 FROM seen WHERE link = ?", (link,)).fetchone():
                    continue
                if mode == "full":
                    text = trafilatura.extract(fetch(link), fast=fast) or ""
                else:
                    text = html_text(entry["html"])
                db.execute("INSERT INTO seen VALUES (?)", (link,))
                db.execute("INSERT INTO articles VALUES (?, ?, ?)", (link, entry["title"], text))
                stored += 1
            db.commit()
            if stored >= max_articles or time.monotonic() >= deadline:
                break
        idle_rounds = idle_rounds + 1 if stored == before else 0
    elapsed = time.monotonic() - started
    db.close()
    return {"articles": stored, "seconds": elapsed, "rate": stored / elapsed if elapsed else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--db", required=True)
    ap.add_argument("--mode", choices=("summary", "full"), default="summary")
    ap.add_argument("--max-articles", type=int, default=2000)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--fast", action="store_true", help="trafilatura fast=True")
    args = ap.parse_args()
    result = run(
        args.urls,
        db_path=args.db,
        mode=args.mode,
        max_articles=args.max_articles,
        max_seconds=args.max_seconds,
        fast=args.fast,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
