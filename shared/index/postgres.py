"""Production backend: PostgreSQL full-text search (psycopg 3, async pool).

* ``tsv`` is a stored generated column: title weighted A, body B, built with
  the text search configuration of the article's language (``feedpipe_<lang>``:
  a copy of PostgreSQL's own ``english``/``french``/… with ``unaccent`` run
  before the Snowball stemmer, so accents never matter), indexed with GIN.
* User queries use ``websearch_to_tsquery``; without a language filter the
  query is built under every configuration and ORed, since each article was
  indexed under its own.
* Ranking is ``ts_rank`` (length-normalised) times a recency boost. Ranking
  reads every candidate's tsvector (out of line, TOASTed, for long articles),
  so only the ``rank_window`` most recent matches are ranked; the total still
  counts every match.
* The schema is versioned in ``schema_version``; migrations run under an
  advisory lock so two services starting together do not race.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.index.analysis import ALL_CONFIGS, SIMPLE, config_for, normalise_language
from shared.index.base import DEFAULT_LIMIT, RECENCY_SCALE_S, Index
from shared.index.models import ArticleRecord, IndexStats, SearchHit, SearchPage
from shared.index.query import Clause, ParsedQuery, parse_query
from shared.index.rows import plan_batch
from shared.index.snippet import START, STOP, marks_to_html
from shared.logging import get_logger
from shared.pipeline.events import ArticleUnique

log = get_logger(__name__)

MIGRATION_LOCK = 0x66656564  # pg_advisory_xact_lock key ("feed")
DEFAULT_RANK_WINDOW = 300
HEADLINE_OPTIONS = (
    f"StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=15,"
    ' MaxFragments=2, FragmentDelimiter=" … "'
)
# ts_headline re-parses the text it is given (~3 ms for an 800-word article on
# this machine, times 20 hits): it gets the lead of the article only.
HEADLINE_CHARS = 3_000
CONFIGS_TTL_S = 30.0
# How much of the title and of the body the tsv column indexes (tsvector_sql).
# They are part of the V1 schema: a database keeps the expression it was
# created with, so changing them takes a migration that redefines the column.
TITLE_CHARS = 2_000
# tsvector positions stop at 16,383 and a tsvector is capped at 1 MB.
BODY_CHARS = 200_000

CONFIGS: dict[str, str] = {name: f"feedpipe_{name}" for name in ALL_CONFIGS}


def tsvector_sql(*, config: str = "config", title: str = "title", body: str = "text") -> str:
    """The SQL expression of the ``articles.tsv`` column: the title weighted A,
    the body B, each cut to its limit, under the text search configuration
    ``config``. The arguments are SQL expressions (column names by default)."""
    return (
        f"setweight(to_tsvector({config}, left({title}, {TITLE_CHARS})), 'A')"
        f" || setweight(to_tsvector({config}, left({body}, {BODY_CHARS})), 'B')"
    )


def _config_sql(name: str, *, unaccent: bool) -> list[str]:
    ts_name = CONFIGS[name]
    dictionary = "simple" if name == SIMPLE else f"{name}_stem"
    chain = f"unaccent, {dictionary}" if unaccent else dictionary
    return [
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {ts_name}",
        f"CREATE TEXT SEARCH CONFIGURATION {ts_name} (COPY = pg_catalog.{name})",
        f"ALTER TEXT SEARCH CONFIGURATION {ts_name}"
        f" ALTER MAPPING FOR hword, hword_part, word, asciiword, asciihword, hword_asciipart"
        f" WITH {chain}",
    ]


V1 = [
    """CREATE TABLE articles (
        id text PRIMARY KEY,
        url text,
        title text NOT NULL,
        text text NOT NULL,
        language text,
        config regconfig NOT NULL,
        published_at timestamptz,
        sort_ts timestamptz NOT NULL,
        feed_id text NOT NULL,
        feed_url text NOT NULL,
        authors jsonb NOT NULL DEFAULT '[]',
        categories jsonb NOT NULL DEFAULT '[]',
        fetched_at timestamptz NOT NULL,
        indexed_at timestamptz NOT NULL DEFAULT now(),
        content_hash text NOT NULL,
        tsv tsvector GENERATED ALWAYS AS ("""
    + tsvector_sql()
    + """) STORED
    )""",
    "CREATE INDEX articles_tsv ON articles USING gin (tsv)",
    "CREATE INDEX articles_feed_id ON articles (feed_id)",
    "CREATE INDEX articles_feed_url ON articles (feed_url)",
    "CREATE INDEX articles_sort_ts ON articles (sort_ts)",
    """CREATE TABLE duplicates (
        cluster_id text NOT NULL,
        article_id text NOT NULL,
        url text,
        feed_url text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (cluster_id, article_id)
    )""",
]


# Configurations articles were indexed with: a query without a language filter
# is built under these only (each one costs GIN lookups).
V2 = [
    "CREATE TABLE IF NOT EXISTS configs_in_use (config regconfig PRIMARY KEY)",
    "INSERT INTO configs_in_use SELECT DISTINCT config FROM articles ON CONFLICT DO NOTHING",
]


class PostgresIndex(Index):
    def __init__(self, url: str, *, rank_window: int = DEFAULT_RANK_WINDOW) -> None:
        self.url = url
        self.rank_window = rank_window
        self.pool = AsyncConnectionPool(
            url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
        )
        self._opened = False
        self._setup_done = False
        self._configs: list[str] = []
        self._configs_at = 0.0

    async def _open(self) -> None:
        if not self._opened:
            await self.pool.open(wait=True, timeout=10)
            self._opened = True

    # --- schema --------------------------------------------------------------
    async def setup(self) -> None:
        await self._open()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
            row = await cur.fetchone()
            current = int(row[0]) if row else 0
            if current < 1:
                unaccent = await self._try_unaccent(conn)
                for name in CONFIGS:
                    for statement in _config_sql(name, unaccent=unaccent):
                        await conn.execute(statement.encode())
                for statement in V1:
                    await conn.execute(statement.encode())
                await conn.execute("INSERT INTO schema_version (version) VALUES (1)")
            if current < 2:
                for statement in V2:
                    await conn.execute(statement.encode())
                await conn.execute("INSERT INTO schema_version (version) VALUES (2)")
        self._setup_done = True

    async def _try_unaccent(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        try:
            async with conn.transaction():  # a savepoint: failure keeps the migration alive
                await conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        except psycopg.Error as exc:
            log.warning(
                "unaccent extension unavailable, accents will matter in PostgreSQL search",
                error=str(exc),
            )
            return False
        return True

    async def _ensure_setup(self) -> None:
        if not self._setup_done:
            await self.setup()

    # --- writes --------------------------------------------------------------
    async def apply(self, events: Sequence[ArticleUnique]) -> IndexStats:
        await self._ensure_setup()
        plan = plan_batch(events)
        stats = IndexStats()
        articles = sorted(plan.articles, key=lambda a: a.id)  # stable lock order
        async with self.pool.connection() as conn, conn.transaction():
            existing: dict[str, str] = {}
            if articles:
                cur = await conn.execute(
                    "SELECT id, content_hash FROM articles WHERE id = ANY(%s)",
                    ([a.id for a in articles],),
                )
                existing = {aid: chash for aid, chash in await cur.fetchall()}
            changed = []
            for a in articles:
                old = existing.get(a.id)
                if old is None:
                    stats.inserted += 1
                elif old == a.content_hash:
                    stats.unchanged += 1
                    continue
                else:
                    stats.updated += 1
                changed.append(a)
            if changed:
                columns = list(
                    zip(
                        *[
                            (
                                a.id,
                                a.url,
                                a.title,
                                a.text,
                                a.language,
                                CONFIGS[config_for(a.language)],
                                a.published_at,
                                a.published_at or a.fetched_at,
                                a.feed_id,
                                a.feed_url,
                                a.authors,
                                a.categories,
                                a.fetched_at,
                                a.content_hash,
                            )
                            for a in changed
                        ],
                        strict=True,
                    )
                )
                await conn.execute(
                    """INSERT INTO articles (id, url, title, text, language, config, published_at,
                        sort_ts, feed_id, feed_url, authors, categories, fetched_at, content_hash)
                    SELECT id, url, title, text, language, config::regconfig, published_at,
                        sort_ts, feed_id, feed_url, authors::jsonb, categories::jsonb,
                        fetched_at, content_hash
                    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                        %s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[],
                        %s::text[], %s::text[], %s::timestamptz[], %s::text[])
                        AS t(id, url, title, text, language, config, published_at, sort_ts,
                             feed_id, feed_url, authors, categories, fetched_at, content_hash)
                    ON CONFLICT (id) DO UPDATE SET
                        url = excluded.url, title = excluded.title, text = excluded.text,
                        language = excluded.language, config = excluded.config,
                        published_at = excluded.published_at, sort_ts = excluded.sort_ts,
                        feed_id = excluded.feed_id, feed_url = excluded.feed_url,
                        authors = excluded.authors, categories = excluded.categories,
                        fetched_at = excluded.fetched_at, indexed_at = now(),
                        content_hash = excluded.content_hash""",
                    [list(c) for c in columns],
                )
            if changed:
                used = sorted({CONFIGS[config_for(a.language)] for a in changed})
                await conn.execute(
                    "INSERT INTO configs_in_use SELECT unnest(%s::regconfig[])"
                    " ON CONFLICT DO NOTHING",
                    (used,),
                )
                if not set(used) <= set(self._configs):
                    self._configs_at = 0.0  # refresh at the next search
            if plan.duplicates:
                d = plan.duplicates
                cur = await conn.execute(
                    """INSERT INTO duplicates (cluster_id, article_id, url, feed_url)
                    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
                    ON CONFLICT DO NOTHING""",
                    (
                        [x.cluster_id for x in d],
                        [x.article_id for x in d],
                        [x.url for x in d],
                        [x.feed_url for x in d],
                    ),
                )
                stats.duplicates = max(cur.rowcount, 0)
        return stats

    # --- reads ---------------------------------------------------------------
    @staticmethod
    def _tsquery(parsed: ParsedQuery, configs: list[str]) -> tuple[sql.Composable, list[Any]]:
        """(P under every config, ORed) AND NOT (exclusions under every config)."""
        params: list[Any] = []

        def clause_text(clause: Clause) -> str:
            words = " ".join(clause.words)
            return f'"{words}"' if len(clause.words) > 1 else words

        positive = " ".join(" or ".join(clause_text(c) for c in group) for group in parsed.groups)
        parts: list[sql.Composable] = []
        for config in configs:
            parts.append(sql.SQL("websearch_to_tsquery(%s::regconfig, %s)"))
            params.extend([config, positive])
        expr: sql.Composable = sql.SQL("(") + sql.SQL(" || ").join(parts) + sql.SQL(")")
        if parsed.excluded:
            negatives = " or ".join(clause_text(c) for c in parsed.excluded)
            neg_parts: list[sql.Composable] = []
            for config in configs:
                neg_parts.append(sql.SQL("websearch_to_tsquery(%s::regconfig, %s)"))
                params.extend([config, negatives])
            expr = (
                sql.SQL("(")
                + expr
                + sql.SQL(" && !!(")
                + sql.SQL(" || ").join(neg_parts)
                + sql.SQL("))")
            )
        return expr, params

    async def search(
        self,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        lang: str | None = None,
        feed: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SearchPage:
        parsed = parse_query(query)
        await self._ensure_setup()
        code = normalise_language(lang)
        configs = [CONFIGS[config_for(code)]] if code else await self._configs_in_use()
        tsquery, params = self._tsquery(parsed, configs)
        filters: list[sql.Composable] = []
        filter_params: list[Any] = []
        if code:
            filters.append(sql.SQL("a.language = %s"))
            filter_params.append(code)
        if feed:
            filters.append(sql.SQL("(a.feed_id = %s OR a.feed_url = %s)"))
            filter_params.extend([feed, feed])
        if since:
            filters.append(sql.SQL("a.sort_ts >= %s"))
            filter_params.append(since)
        if until:
            filters.append(sql.SQL("a.sort_ts < %s"))
            filter_params.append(until)
        where = sql.SQL("").join(sql.SQL(" AND ") + f for f in filters)
        window = max(self.rank_window, offset + limit)
        # One pass over the matches gives both the exact total and the recency
        # window. The window carries each match's tsvector as a TOAST pointer,
        # so ranking reads no other column, and only the page's hits are joined
        # back for the wide columns (text, url, title) and their headlines.
        # The tsquery stays in a CTE on purpose: with a literal one the planner
        # sees how common the words are and walks the sort_ts index backwards,
        # detoasting every row's tsvector (~90 ms instead of ~25 for two common
        # words at 100k articles).
        statement = sql.SQL(
            """WITH q AS (SELECT {tsquery} AS q),
            m AS MATERIALIZED (
                SELECT a.id, a.sort_ts, a.tsv FROM articles a, q WHERE a.tsv @@ q.q {where}),
            w AS (SELECT id, sort_ts, tsv FROM m ORDER BY sort_ts DESC LIMIT %s),
            p AS (
                SELECT w.id,
                    ts_rank(w.tsv, q.q, 1) * (1.0 + 1.0 / (1.0 + greatest(0.0,
                        extract(epoch FROM now() - w.sort_ts)) / %s)) AS score
                FROM w, q
                ORDER BY score DESC, w.id LIMIT %s OFFSET %s)
            SELECT (SELECT count(*) FROM m) AS total, a.id, a.url, a.title, a.language,
                a.published_at, a.feed_url,
                ts_headline(a.config, left(a.text, %s), q.q, %s) AS snippet,
                (SELECT count(*) FROM duplicates d WHERE d.cluster_id = a.id) AS duplicates
            FROM p JOIN articles a USING (id), q ORDER BY p.score DESC, p.id"""
        ).format(tsquery=tsquery, where=where)
        args = [
            *params,
            *filter_params,
            window,
            RECENCY_SCALE_S,
            limit,
            offset,
            HEADLINE_CHARS,
            HEADLINE_OPTIONS,
        ]
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(statement, args)
            rows = await cur.fetchall()
            if rows:
                total = int(rows[0]["total"])
            elif offset:
                count_sql = sql.SQL(
                    "WITH q AS (SELECT {tsquery} AS q)"
                    " SELECT count(*) AS total FROM articles a, q WHERE a.tsv @@ q.q {where}"
                ).format(tsquery=tsquery, where=where)
                await cur.execute(count_sql, [*params, *filter_params])
                found = await cur.fetchone()
                total = int(found["total"]) if found else 0
            else:
                total = 0
        hits = [
            SearchHit(
                id=r["id"],
                url=r["url"],
                title=r["title"],
                snippet=marks_to_html(r["snippet"] or ""),
                language=r["language"],
                published_at=r["published_at"],
                feed_url=r["feed_url"],
                duplicates=int(r["duplicates"]),
            )
            for r in rows
        ]
        return SearchPage(total=total, hits=hits)

    async def _configs_in_use(self) -> list[str]:
        if time.monotonic() - self._configs_at > CONFIGS_TTL_S:
            async with self.pool.connection() as conn:
                cur = await conn.execute("SELECT config::text FROM configs_in_use ORDER BY 1")
                self._configs = [str(r[0]) for r in await cur.fetchall()]
            self._configs_at = time.monotonic()
        return self._configs or [CONFIGS[SIMPLE]]

    async def get(self, article_id: str) -> ArticleRecord | None:
        await self._ensure_setup()
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """SELECT id, url, title, text, language, published_at, feed_url, feed_id,
                    authors, categories, fetched_at, indexed_at,
                    coalesce((SELECT array_agg(url ORDER BY recorded_at, article_id)
                              FROM duplicates WHERE cluster_id = a.id AND url IS NOT NULL),
                             '{}') AS duplicate_urls
                FROM articles a WHERE id = %s""",
                (article_id,),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        for key in ("authors", "categories"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
        return ArticleRecord.model_validate(row)

    async def count(self) -> int:
        await self._ensure_setup()
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM articles")
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def ping(self) -> bool:
        try:
            await self._open()
            async with self.pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError, OSError) as exc:
            log.warning("Index not reachable", error=str(exc))
            return False
        return True

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()
            self._opened = False
