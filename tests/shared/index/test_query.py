"""The shared query syntax and its FTS5 translation (pure)."""

from __future__ import annotations

import pytest

from shared.index import QuerySyntaxError
from shared.index.query import Clause, parse_query, to_fts5
from shared.index.snippet import START, STOP, marks_to_html


def same(word: str) -> list[str]:
    return [word]


def test_words_are_anded_groups() -> None:
    parsed = parse_query("Harbour Strike")
    assert parsed.groups == ((Clause(("harbour",)),), (Clause(("strike",)),))


def test_quotes_make_a_phrase_and_minus_excludes() -> None:
    parsed = parse_query('"central bank" -rates')
    assert parsed.groups == ((Clause(("central", "bank")),),)
    assert parsed.excluded == (Clause(("rates",), negated=True),)


def test_or_joins_neighbours() -> None:
    parsed = parse_query("storm OR tempête rail")
    assert [len(g) for g in parsed.groups] == [2, 1]


def test_unclosed_quote_is_a_phrase_to_the_end() -> None:
    assert parse_query('"grève sncf').groups == ((Clause(("grève", "sncf")),),)


def test_fts5_expression_quotes_every_term() -> None:
    expr = to_fts5(parse_query('a OR b "c d" -e'), same)
    assert expr == '(("a" OR "b") AND "c d") NOT ("e")'


def test_fts5_expression_escapes_quotes_in_terms() -> None:
    assert to_fts5(parse_query("x"), lambda w: ['he"llo']) == '"he""llo"'


def test_expansions_are_ored() -> None:
    assert to_fts5(parse_query("run"), lambda w: [w, "running"]) == '("run" OR "running")'


def test_too_long_query_is_refused() -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query("word " * 200)


def test_marks_become_mark_tags_and_the_rest_is_escaped() -> None:
    assert marks_to_html(f"a <b> {START}c{STOP}") == "a &lt;b&gt; <mark>c</mark>"
