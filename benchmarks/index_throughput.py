"""Index throughput per backend: articles/s committed, batched like the indexer.

Paths (``--paths``), each timed ``--runs`` times (median reported):

* ``ceiling``: the engine alone with the same texts (a bare FTS5 table; for
  PostgreSQL, the two weighted ``to_tsvector``s without a table);
* ``apply``: ``Index.apply`` on batches of ``--batch`` events (the indexer's
  transaction, nothing else);
* ``variants`` (SQLite only, not by default): a bare FTS5 table under other
  storage options (page size, FTS5 ``pgsz``/``automerge``, transaction size),
  in articles per CPU-second, to show what each would buy the writer;
* ``stream``: the events sit in the ``unique`` Redis stream of a redis-server
  this script starts on a free local port; batches are read with XREADGROUP and
  handled by the real ``StreamStage`` + ``IndexHandler`` (decode, one index
  transaction, XACK), as the indexer service does;
* ``pg-ceiling`` (PostgreSQL only, not by default): the parts of a PostgreSQL
  write timed one by one on a scratch table (``to_tsvector`` alone, tsvectors
  built in Python, inserts of pre-computed tsvectors with and without a GIN
  index and under GIN options, the deployed generated column), with the
  server backend's CPU per article: what a given rate would take.

Two corpora:

* synthetic (the default): 800-word bodies drawn from a Zipfian vocabulary of
  pseudo-words with English and French inflections (80 % en, 20 % fr);
* ``--corpus DIR``: real text from the extraction-eval corpus (990 web pages,
  ``tests-html.tar.gz`` read in place). Each page's main text is extracted by
  the parser's own extractor and its language chosen as the parser does; the
  texts are cached under ``--cache-dir``. Article ``n`` is page ``n % P`` as
  extracted on the first pass over the pages; later passes reorder or splice
  real paragraphs (see ``RealCorpus``), so no word is invented.

    uv run python -m benchmarks.index_throughput --backend sqlite --articles 20000
    uv run python -m benchmarks.index_throughput --backend postgres \
        --pg-url postgresql://postgres@127.0.0.1:5432/postgres
    uv run python -m benchmarks.index_throughput --backend sqlite --articles 5000 \
        --corpus ../shared/corpora/extraction-eval
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import random
import re
import statistics
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from shared.index.postgres import BODY_CHARS, TITLE_CHARS, tsvector_sql
from shared.pipeline import stages, streams
from shared.pipeline.events import Article, ArticleUnique, UniqueKind
from tests.support.paths import REPO
from tests.support.postgres import ScratchDatabase
from tests.support.redis_servers import RedisServer

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


def new_article_event(
    *,
    n: int,
    article_id: str,
    url: str,
    title: str,
    text: str,
    language: str | None,
    published: datetime,
) -> ArticleUnique:
    """Article ``n`` of a benchmark corpus as the indexer receives it: new, from one
    of 500 feeds, fetched three minutes after publication."""
    return ArticleUnique(
        kind=UniqueKind.NEW,
        cluster_id=article_id,
        article=Article(
            article_id=article_id,
            feed_id=f"feed-{n % 500}",
            feed_url=f"https://site{n % 500}.example.org/feed.xml",
            url=url,
            title=title,
            text=text,
            language=language,
            published_at=published,
            fetched_at=published + timedelta(minutes=3),
        ),
    )


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
            yield new_article_event(
                n=n,
                article_id=article_id,
                url=f"https://site{n % 500}.example.org/a/{article_id}",
                title=self._text(int(self.rng.integers(6, 13)), suffixes).capitalize(),
                text=body,
                language="fr" if french else "en",
                published=published,
            )


# --- real-text corpus (--corpus) ---------------------------------------------

MIN_PAGE_WORDS = 30  # extracted texts shorter than this are menus or stubs, not articles
_WORD_RE = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True, slots=True)
class RealPage:
    url: str
    title: str
    text: str  # paragraphs separated by "\n", as the extractor returns them
    language: str | None


def _cache_key(tarball: Path) -> str:
    import trafilatura

    stat = tarball.stat()
    # A new tarball, trafilatura, extractor or language detector invalidates the cache.
    digest = hashlib.sha256(
        f"{tarball.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{trafilatura.__version__}".encode()
    )
    for module in ("extract.py", "language.py"):
        digest.update((REPO / "services" / "parser" / module).read_bytes())
    return digest.hexdigest()[:12]


def extract_pages(corpus: Path) -> list[RealPage]:
    """Main text, title and language of every page, as the parser would see them.

    Language: the page's declared language, else detection on title + text,
    which is ``choose_language`` without the feed-level tags a page has not got.
    """
    from services.parser.extract import extract_page
    from services.parser.language import choose_language

    # trafilatura logs every block it discards; that is its job, not news.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    evaldata = json.loads((corpus / "evaldata.json").read_text())
    url_of = {spec["file"]: url for url, spec in evaldata.items()}
    pages: list[RealPage] = []
    with tarfile.open(corpus / "tests-html.tar.gz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None or name not in url_of:
                continue
            url = url_of[name]
            content = extract_page(handle.read(), url=url)
            if content is None or len(_WORD_RE.findall(content.text)) < MIN_PAGE_WORDS:
                continue
            title = content.title or " ".join(content.text.split()[:12])
            language = choose_language(content.language, text=f"{title}\n{content.text}")
            pages.append(RealPage(url=url, title=title, text=content.text, language=language))
    return pages


def load_pages(corpus: Path, cache_dir: Path) -> list[RealPage]:
    """``extract_pages``, cached as JSON (extraction takes ~30 s; reading, ~0.1 s)."""
    cache = cache_dir / f"extraction-eval-texts-{_cache_key(corpus / 'tests-html.tar.gz')}.json"
    if cache.exists():
        return [RealPage(**row) for row in json.loads(cache.read_text())]
    pages = extract_pages(corpus)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(p) for p in pages], ensure_ascii=False))
    tmp.replace(cache)
    return pages


def reshuffled(text: str, rng: random.Random) -> str:
    """The same paragraphs in another order; a text of fewer than three paragraphs
    has its sentences reordered instead, so the article still differs."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if len(paragraphs) >= 3:
        rng.shuffle(paragraphs)
        return "\n".join(paragraphs)
    sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if s.strip()]
    rng.shuffle(sentences)
    return " ".join(sentences)


def spliced(first: str, second: str) -> str:
    """The first half of one text's paragraphs followed by the second half of another's."""
    a = [p for p in first.split("\n") if p.strip()]
    b = [p for p in second.split("\n") if p.strip()]
    return "\n".join(a[: max(1, len(a) // 2)] + b[len(b) // 2 :])


class RealCorpus:
    """Articles made of real page texts only (same interface as ``CorpusGenerator``).

    Article ``n`` uses page ``i = n % P`` on pass ``r = n // P``:
    pass 0 is the page's text as extracted; odd passes reorder its paragraphs
    (or sentences); even passes splice the first half of its paragraphs with the
    second half of another page's of the same language. Title and language are
    page ``i``'s; ids, URLs and dates are unique per article.
    """

    def __init__(self, pages: list[RealPage], seed: int = 11) -> None:
        if not pages:
            raise ValueError("the real-text corpus has no usable page")
        self.pages = pages
        self.seed = seed
        self.now = datetime.now(UTC)
        by_language: dict[str | None, list[int]] = {}
        for i, page in enumerate(pages):
            by_language.setdefault(page.language, []).append(i)
        self.same_language = by_language

    def body(self, n: int) -> str:
        count = len(self.pages)
        i, rnd = n % count, n // count
        page = self.pages[i]
        if rnd == 0:
            return page.text
        rng = random.Random(self.seed * 1_000_003 + n)
        if rnd % 2 == 1:
            return reshuffled(page.text, rng)
        others = [j for j in self.same_language[page.language] if j != i] or [i]
        return spliced(page.text, self.pages[rng.choice(others)].text)

    def events(self, count: int, *, prefix: str = "", start: int = 0) -> Iterator[ArticleUnique]:
        for n in range(start, start + count):
            page = self.pages[n % len(self.pages)]
            rng = random.Random(self.seed + n)
            published = self.now - timedelta(minutes=rng.randrange(60 * 24 * 365))
            article_id = f"{prefix}real-{n:08d}"
            yield new_article_event(
                n=n,
                article_id=article_id,
                url=f"{page.url}#{article_id}",
                title=page.title,
                text=self.body(n),
                language=page.language,
                published=published,
            )


def corpus_stats(events: list[ArticleUnique]) -> dict[str, Any]:
    """Words per body (``\\w+`` tokens), distinct lower-cased words per body and in
    the whole corpus, and the language mix: what a full-text engine has to chew."""
    words_per = []
    distinct_per = []
    vocabulary_seen: set[str] = set()
    languages: dict[str, int] = {}
    for event in events:
        words = _WORD_RE.findall(event.article.text.lower())
        distinct = set(words)
        words_per.append(len(words))
        distinct_per.append(len(distinct))
        vocabulary_seen |= distinct
        lang = event.article.language or "none"
        languages[lang] = languages.get(lang, 0) + 1
    return {
        "articles": len(events),
        "mean_words": round(statistics.fmean(words_per), 1) if events else 0,
        "median_words": statistics.median(words_per) if events else 0,
        "mean_distinct_words": round(statistics.fmean(distinct_per), 1) if events else 0,
        "corpus_distinct_words": len(vocabulary_seen),
        "mean_chars": round(statistics.fmean(len(e.article.text) for e in events), 1)
        if events
        else 0,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
    }


async def fresh_index(backend: str, args: argparse.Namespace, workdir: Path) -> tuple[Any, str]:
    from shared.index import open_index

    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return open_index(url), url
    database = ScratchDatabase(prefix="feedpipe_bench", admin_url=args.pg_url)
    await asyncio.to_thread(database.create)
    return open_index(database.url), database.url


async def drop_index(backend: str, url: str, args: argparse.Namespace) -> None:
    if backend == "postgres":
        database = ScratchDatabase(admin_url=args.pg_url, name=url.rsplit("/", 1)[1])
        await asyncio.to_thread(database.drop)
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
            tsv = tsvector_sql(config="'feedpipe_english'", body="body")
            started = time.perf_counter()
            await conn.execute(f"SELECT count({tsv}) FROM t")
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


# --- PostgreSQL write ceiling (--paths pg-ceiling) ----------------------------
# Each variant writes (or only analyses) the same articles on a scratch table,
# one transaction per batch with the server's default (synchronous) commit, as
# the index does. The deployed schema is not touched.

_ROWS = "unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS t(id, title, body, config)"
_SCRATCH = "CREATE TABLE scratch (id text PRIMARY KEY, title text, body text, config regconfig{})"


@dataclass(frozen=True, slots=True)
class PgVariant:
    name: str
    kind: str  # "analyse": SELECT only; "python": no server; "insert": writes rows
    analyse_config: str = ""  # "" = each article's own configuration
    columns: str = ""  # extra scratch-table columns
    gin: str | None = None  # GIN index WITH (...) options; None = no GIN index
    tsv: str = "none"  # "none" | "literal" (pre-computed) | "generated"


PG_VARIANTS: list[PgVariant] = [
    PgVariant("to_tsvector A+B alone (article's config), no table", "analyse"),
    PgVariant("to_tsvector A+B alone ('simple' config), no table", "analyse", "simple"),
    PgVariant("tsvector built in Python (shared.index.analysis, warm cache)", "python"),
    PgVariant("insert text only (no tsvector, no GIN)", "insert"),
    PgVariant(
        "insert + pre-computed tsvector, no GIN", "insert", columns=", tsv tsvector", tsv="literal"
    ),
    PgVariant(
        "insert + pre-computed tsvector, GIN (defaults: fastupdate on, 4 MB list)",
        "insert",
        columns=", tsv tsvector",
        gin="",
        tsv="literal",
    ),
    PgVariant(
        "insert + pre-computed tsvector, GIN gin_pending_list_limit 64 MB",
        "insert",
        columns=", tsv tsvector",
        gin="gin_pending_list_limit = 65536",
        tsv="literal",
    ),
    PgVariant(
        "insert + pre-computed tsvector, GIN fastupdate off",
        "insert",
        columns=", tsv tsvector",
        gin="fastupdate = off",
        tsv="literal",
    ),
    PgVariant(
        "insert, generated to_tsvector column + GIN (as deployed)",
        "insert",
        columns=", tsv tsvector GENERATED ALWAYS AS (" + tsvector_sql(body="body") + ") STORED",
        gin="",
        tsv="generated",
    ),
]


def _cpu_ticks(pid: int) -> float | None:
    """CPU seconds used so far by a local process (the server backend), or None."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def python_tsvector(title: str, body: str, language: str | None) -> str:
    """A tsvector literal built client-side: title terms weighted A, body terms B,
    positions as ``setweight(..) || setweight(..)`` numbers them. Terms are the
    index's own (``shared.index.analysis``: lower-case, unaccent, the word
    pattern, the Analyzer's cached stems); stop words are kept, which
    PostgreSQL's configurations drop."""
    from shared.index.analysis import WORD_RE, analyzer, config_for, unaccent

    stem = analyzer(config_for(language)).stem
    positions: dict[str, list[str]] = {}
    offset = 0
    for text, weight in ((title[:TITLE_CHARS], "A"), (body[:BODY_CHARS], "B")):
        terms = [stem(word) for word in WORD_RE.findall(unaccent(text.lower()))]
        for k, term in enumerate(terms, start=offset + 1):
            spots = positions.setdefault(term, [])
            if len(spots) < 256:  # PostgreSQL keeps at most 256 positions per lexeme
                spots.append(f"{min(k, 16383)}{weight}")
        offset += len(terms)
    return " ".join(f"'{t}':{','.join(p)}" for t, p in positions.items())


def _pg_columns(events: list[ArticleUnique]) -> list[list[str]]:
    from shared.index.analysis import config_for
    from shared.index.postgres import CONFIGS

    return [
        [e.article.article_id for e in events],
        [e.article.title for e in events],
        [e.article.text for e in events],
        [CONFIGS[config_for(e.article.language)] for e in events],
    ]


def server_tsvectors(url: str, events: list[ArticleUnique], batch: int) -> list[str]:
    """The tsvectors the deployed generated column stores, as text (computed once,
    untimed, to feed the pre-computed-literal variants)."""
    import psycopg

    out: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(0, len(events), batch):
            cur = conn.execute(
                f"SELECT ({tsvector_sql(config='config::regconfig', body='body')})::text"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY"
                " AS t(id, title, body, config, n) ORDER BY n",
                _pg_columns(events[i : i + batch]),
            )
            out.extend(str(row[0]) for row in cur.fetchall())
    return out


def run_pg_variant(
    url: str, variant: PgVariant, events: list[ArticleUnique], tsvs: list[str], batch: int
) -> dict[str, float | None]:
    """One timed pass: articles/s (wall clock, pending GIN list merged at the end),
    articles/s before that merge, and server/client CPU ms per article."""
    import psycopg

    n = len(events)
    if variant.kind == "python":
        rows = [(e.article.title, e.article.text, e.article.language) for e in events]
        for row in rows:  # warm the stem caches, as in a long-running indexer
            python_tsvector(*row)
        started, cpu0 = time.perf_counter(), time.process_time()
        for row in rows:
            python_tsvector(*row)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
        return {
            "rate": n / wall,
            "rate_before_merge": n / wall,
            "server_cpu_ms": None,
            "client_cpu_ms": 1000 * cpu / n,
        }
    with psycopg.connect(url, autocommit=True) as conn:
        if variant.kind == "insert":
            conn.execute("DROP TABLE IF EXISTS scratch")
            conn.execute(_SCRATCH.format(variant.columns).encode())
            if variant.gin is not None:
                options = f" WITH ({variant.gin})" if variant.gin else ""
                conn.execute(
                    f"CREATE INDEX scratch_tsv ON scratch USING gin (tsv){options}".encode()
                )
        # A checkpoint now, so that one does not land inside some runs only.
        conn.execute("CHECKPOINT")
        pid = conn.info.backend_pid
        columns = _pg_columns(events)
        server0, cpu0, started = _cpu_ticks(pid), time.process_time(), time.perf_counter()
        for i in range(0, n, batch):
            params = [c[i : i + batch] for c in columns]
            with conn.transaction():
                if variant.kind == "analyse":
                    config = (
                        f"'{variant.analyse_config}'"
                        if variant.analyse_config
                        else ("config::regconfig")
                    )
                    tsv = tsvector_sql(config=config, body="body")
                    conn.execute(f"SELECT count({tsv}) FROM {_ROWS}", params)
                elif variant.tsv == "literal":
                    conn.execute(
                        "INSERT INTO scratch (id, title, body, config, tsv)"
                        " SELECT t.id, t.title, t.body, t.config::regconfig, v::tsvector FROM"
                        " unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
                        " AS t(id, title, body, config, v)",
                        [*params, tsvs[i : i + batch]],
                    )
                else:
                    conn.execute(
                        "INSERT INTO scratch (id, title, body, config)"
                        f" SELECT id, title, body, config::regconfig FROM {_ROWS}",
                        params,
                    )
        before_merge = time.perf_counter() - started
        if variant.gin is not None:
            # A fastupdate pending list defers GIN work; merging it counts.
            conn.execute("SELECT gin_clean_pending_list('scratch_tsv')")
        wall = time.perf_counter() - started
        server1, cpu = _cpu_ticks(pid), time.process_time() - cpu0
        if variant.kind == "insert":
            conn.execute("DROP TABLE scratch")
    server_ms = (
        1000 * (server1 - server0) / n if server0 is not None and server1 is not None else None
    )
    return {
        "rate": n / wall,
        "rate_before_merge": n / before_merge,
        "server_cpu_ms": server_ms,
        "client_cpu_ms": 1000 * cpu / n,
    }


async def run_pg_ceiling(
    events: list[ArticleUnique], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Every ``PG_VARIANTS`` entry ``--runs`` times (interleaved), in one scratch
    database that has the index's text search configurations."""
    index, url = await fresh_index("postgres", args, workdir)
    await index.setup()
    await index.close()
    results: dict[str, Any] = {}
    try:
        tsvs = server_tsvectors(url, events, args.batch)
        runs: dict[str, list[dict[str, float | None]]] = {v.name: [] for v in PG_VARIANTS}
        for _ in range(args.runs):
            for variant in PG_VARIANTS:
                runs[variant.name].append(run_pg_variant(url, variant, events, tsvs, args.batch))
        for name, measured in runs.items():
            results[f"postgres/pg-ceiling/{name}"] = summarise(measured)
            print(json.dumps({name: results[f"postgres/pg-ceiling/{name}"]}), flush=True)
    finally:
        await drop_index("postgres", url, args)
    return results


def summarise(measured: list[dict[str, float | None]]) -> dict[str, Any]:
    """Median and every run of each measured quantity."""
    out: dict[str, Any] = {}
    for key in measured[0]:
        values = [m[key] for m in measured]
        present = [v for v in values if v is not None]
        digits = 0 if key.startswith("rate") else 3
        out[key] = {
            "median": round(statistics.median(present), digits) if present else None,
            "runs": [round(v, digits) if v is not None else None for v in values],
        }
    return out


async def run_stream(
    backend: str,
    events: list[ArticleUnique],
    args: argparse.Namespace,
    workdir: Path,
    redis_url: str,
) -> float:
    from redis.asyncio import Redis

    from services.indexer.handler import IndexHandler
    from shared.pipeline.stage import StreamStage
    from shared.settings import Settings

    redis = Redis.from_url(redis_url)
    await redis.flushall()
    await redis.xgroup_create(streams.UNIQUE, stages.INDEXER.group, id="0", mkstream=True)
    for i in range(0, len(events), 500):
        pipe = redis.pipeline(transaction=False)
        for event in events[i : i + 500]:
            pipe.xadd(streams.UNIQUE, {streams.DATA_FIELD: event.model_dump_json()})
        await pipe.execute()
    index, url = await fresh_index(backend, args, workdir)
    await index.setup()
    stage = StreamStage(
        stages.INDEXER,
        redis=redis,
        settings=Settings(batch_size=args.batch),
        handler=IndexHandler(index),
    )
    started = time.perf_counter()
    while True:
        resp: Any = await redis.xreadgroup(
            stages.INDEXER.group, "bench", {streams.UNIQUE: ">"}, count=args.batch
        )
        if not resp:
            break
        entries = resp[0][1]
        await stage.handle_entries(
            [e[0] for e in entries], [e[1] for e in entries], reclaimed=False
        )
    elapsed = time.perf_counter() - started
    assert await index.count() == len(events)
    pending = await redis.xpending(streams.UNIQUE, stages.INDEXER.group)
    assert pending["pending"] == 0
    await index.close()
    await drop_index(backend, url, args)
    await redis.aclose()
    return len(events) / elapsed


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from shared.logging import configure_logging

    configure_logging(service="benchmark", level="WARNING", json=True)  # as the service runs
    t0 = time.perf_counter()
    corpus: CorpusGenerator | RealCorpus
    if args.corpus is None:
        corpus = CorpusGenerator()
    else:
        corpus = RealCorpus(load_pages(args.corpus, args.cache_dir))
    events = list(corpus.events(args.articles))
    gen_s = time.perf_counter() - t0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "corpus": "synthetic" if args.corpus is None else f"real ({args.corpus.name})",
        "articles": args.articles,
        "batch": args.batch,
        "generate_s": round(gen_s, 1),
    }
    if isinstance(corpus, RealCorpus):
        results["pages"] = len(corpus.pages)
    results["stats"] = corpus_stats(events)
    print(json.dumps({"corpus": results["corpus"], "stats": results["stats"]}), flush=True)
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
            if "pg-ceiling" in args.paths and "postgres" in backends:
                results.update(await run_pg_ceiling(events, args, workdir))
            for backend in backends:
                for path in (p for p in args.paths if p not in ("variants", "pg-ceiling")):
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
            server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=["ceiling", "apply", "stream", "variants", "pg-ceiling"],
        default=["ceiling", "apply", "stream"],
    )
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=1, help="Concurrent apply() (apply path).")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workdir", default=None, help="Where the SQLite files go (tmp).")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="extraction-eval directory: index real page texts instead of synthetic ones.",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "feedpipe-bench",
        help="Where the texts extracted from --corpus are cached.",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
