"""User query syntax, parsed once and checked the same way for every backend.

The syntax is the one of PostgreSQL's ``websearch_to_tsquery`` (what the
PostgreSQL backend runs as is): words are ANDed, ``"quoted words"`` form a
phrase, ``-word`` excludes, ``or`` between two words accepts either. The
SQLite backend translates the parsed form into an FTS5 expression made only of
quoted analysed terms, so no user input can produce an FTS5 syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.index.analysis import WORD_RE, Analyzer
from shared.index.models import QuerySyntaxError

MAX_QUERY_CHARS = 500
MAX_CLAUSES = 32

# A quoted phrase (closing quote optional) or a run of non-space characters,
# either one optionally preceded by "-".
_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Clause:
    words: tuple[str, ...]  # one word, or several that must follow each other
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    # AND of groups; each group is an OR of clauses.
    groups: tuple[tuple[Clause, ...], ...]
    excluded: tuple[Clause, ...]

    @property
    def words(self) -> list[str]:
        """Every positive word, for highlighting."""
        return [w for group in self.groups for clause in group for w in clause.words]


def parse_query(text: str) -> ParsedQuery:
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query is longer than {MAX_QUERY_CHARS} characters")
    clauses: list[Clause | None] = []  # None marks an "or"
    for match in _TOKEN_RE.finditer(text):
        minus, phrase, bare = match.groups()
        if bare is not None:
            if bare.lower() == "or":
                clauses.append(None)
                continue
            negated = bare.startswith("-") and len(bare) > 1
            words = tuple(WORD_RE.findall(bare.lower()))
        else:
            negated = minus == "-"
            words = tuple(WORD_RE.findall(phrase.lower()))
        if words:
            clauses.append(Clause(words, negated))
    if sum(c is not None for c in clauses) > MAX_CLAUSES:
        raise QuerySyntaxError(f"query has more than {MAX_CLAUSES} words or phrases")

    groups: list[list[Clause]] = []
    excluded: list[Clause] = []
    join_next = False
    for clause in clauses:
        if clause is None:
            join_next = bool(groups)
            continue
        if clause.negated:
            excluded.append(clause)
        elif join_next and groups:
            groups[-1].append(clause)
        else:
            groups.append([clause])
        join_next = False
    if not groups:
        if excluded:
            raise QuerySyntaxError("query needs at least one word that is not excluded")
        raise QuerySyntaxError("query has no searchable words")
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def _fts5_clause(clause: Clause, analyzer: Analyzer) -> str | None:
    terms = analyzer.terms(" ".join(clause.words))
    # Terms are \w+ runs, never a double quote, so quoting them is safe.
    return f'"{" ".join(terms)}"' if terms else None


def _fts5_positive(parsed: ParsedQuery, analyzer: Analyzer) -> str | None:
    parts: list[str] = []
    for group in parsed.groups:
        alternatives = [a for a in (_fts5_clause(c, analyzer) for c in group) if a]
        if not alternatives:
            return None
        either = " OR ".join(alternatives)
        parts.append(alternatives[0] if len(alternatives) == 1 else f"({either})")
    return " AND ".join(parts)


def _unique(items: list[str | None]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def to_fts5(parsed: ParsedQuery, analyzers: list[Analyzer]) -> str:
    """An FTS5 MATCH expression: the query under each analyzer, ORed (an article
    was indexed with the analyzer of its language, unknown at query time).
    Exclusions apply to every branch, under every analyzer."""
    branches = _unique([_fts5_positive(parsed, a) for a in analyzers])
    if not branches:
        raise QuerySyntaxError("query has no searchable words")
    expr = branches[0] if len(branches) == 1 else " OR ".join(f"({b})" for b in branches)
    excluded = _unique([_fts5_clause(c, a) for c in parsed.excluded for a in analyzers])
    if excluded:
        expr = f"({expr}) NOT ({' OR '.join(excluded)})"
    return expr
