"""User query syntax, parsed once and checked the same way for every backend.

The syntax is the one of PostgreSQL's ``websearch_to_tsquery`` (what the
PostgreSQL backend runs as is): words are ANDed, ``"quoted words"`` form a
phrase, ``-word`` excludes, ``or`` between two words accepts either. The
SQLite backend translates the parsed form into an FTS5 expression made only of
quoted terms, so no user input can produce an FTS5 syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.index.analysis import WORD_RE, unaccent
from shared.index.models import QuerySyntaxError

MAX_QUERY_CHARS = 500
MAX_CLAUSES = 32

Expander = Callable[[str], list[str]]

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


def _quote(term: str) -> str:
    # An FTS5 string: a double quote inside is written twice. Nothing else is special.
    return '"' + term.replace('"', '""') + '"'


def _fts5_clause(clause: Clause, expand: Expander) -> str:
    if len(clause.words) > 1:  # a phrase: the exact words, in order
        return _quote(" ".join(unaccent(w) for w in clause.words))
    terms = expand(clause.words[0])
    if len(terms) == 1:
        return _quote(terms[0])
    return "(" + " OR ".join(_quote(t) for t in terms) + ")"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(" + " OR ".join(items) + ")"


def to_fts5(parsed: ParsedQuery, expand: Expander) -> str:
    """An FTS5 MATCH expression made only of quoted strings and operators:
    groups ANDed, alternatives ORed, exclusions NOTed. ``expand`` turns one
    word into the indexed words that share its stem."""
    expr = " AND ".join(_either([_fts5_clause(c, expand) for c in g]) for g in parsed.groups)
    if parsed.excluded:
        excluded = " OR ".join(_fts5_clause(c, expand) for c in parsed.excluded)
        expr = f"({expr}) NOT ({excluded})"
    return expr
