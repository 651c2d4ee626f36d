"""One suite, both backends (the ``index`` fixture is parametrised)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.index import Index, QuerySyntaxError
from shared.pipeline.events import UniqueKind
from tests.shared.index.conftest import NOW, EventFactory

pytestmark = pytest.mark.integration


async def ids(index: Index, query: str, **kwargs: object) -> list[str]:
    page = await index.search(query, **kwargs)  # type: ignore[arg-type]
    return [hit.id for hit in page.hits]


async def test_setup_is_idempotent(index: Index, event: EventFactory) -> None:
    await index.apply([event("a1", title="Harbour strike")])
    await index.setup()
    assert await index.count() == 1


async def test_new_article_is_found_by_a_title_word(index: Index, event: EventFactory) -> None:
    stats = await index.apply([event("a1", title="Harbour strike ends", text="Dockers agree.")])
    assert stats.inserted == 1
    page = await index.search("harbour")
    assert page.total == 1
    hit = page.hits[0]
    assert (hit.id, hit.title, hit.url) == ("a1", "Harbour strike ends", "http://127.0.0.1/a1")
    assert hit.language == "en"
    assert hit.feed_url == "http://127.0.0.1/feed.xml"
    assert hit.published_at == NOW - timedelta(hours=1)


async def test_replaying_a_batch_changes_nothing(index: Index, event: EventFactory) -> None:
    batch = [
        event("a1", title="Harbour strike", text="Dockers walk out."),
        event("d1", kind=UniqueKind.DUPLICATE, cluster_id="a1", url="http://127.0.0.1/copy"),
    ]
    await index.apply(batch)
    before = (await index.search("harbour")).model_dump()
    stats = await index.apply(batch)
    assert (stats.inserted, stats.updated, stats.duplicates, stats.unchanged) == (0, 0, 0, 1)
    assert await index.count() == 1
    assert (await index.search("harbour")).model_dump() == before


async def test_update_replaces_the_stored_text(index: Index, event: EventFactory) -> None:
    await index.apply([event("a1", title="Budget vote", text="The senate delays the vote.")])
    stats = await index.apply(
        [event("a1", kind=UniqueKind.UPDATE, title="Budget vote", text="The assembly adopts it.")]
    )
    assert stats.updated == 1
    assert await ids(index, "senate") == []
    assert await ids(index, "assembly") == ["a1"]
    record = await index.get("a1")
    assert record is not None
    assert record.text == "The assembly adopts it."


async def test_last_event_of_an_article_in_a_batch_wins(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("a1", title="Draft", text="first version"),
            event("a1", kind=UniqueKind.UPDATE, title="Final", text="second version"),
        ]
    )
    record = await index.get("a1")
    assert record is not None
    assert record.title == "Final"


async def test_duplicates_are_counted_on_the_cluster_hit(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("a1", title="Volcano erupts"),
            event("d1", kind=UniqueKind.DUPLICATE, cluster_id="a1", url="http://127.0.0.1/d1"),
            event("d2", kind=UniqueKind.DUPLICATE, cluster_id="a1", url="http://127.0.0.1/d2"),
        ]
    )
    page = await index.search("volcano")
    assert page.hits[0].duplicates == 2
    record = await index.get("a1")
    assert record is not None
    assert record.duplicate_urls == ["http://127.0.0.1/d1", "http://127.0.0.1/d2"]


async def test_duplicates_are_not_indexed_as_articles(index: Index, event: EventFactory) -> None:
    await index.apply([event("d1", title="Volcano", kind=UniqueKind.DUPLICATE, cluster_id="a1")])
    assert await index.count() == 0
    assert await ids(index, "volcano") == []


async def test_query_without_accents_finds_accented_words(
    index: Index, event: EventFactory
) -> None:
    await index.apply(
        [event("a1", title="Réforme", text="Une télécommunication rapide.", language="fr")]
    )
    assert await ids(index, "telecommunication") == ["a1"]


async def test_french_stemming_finds_the_plural(index: Index, event: EventFactory) -> None:
    await index.apply(
        [event("a1", title="Réseaux", text="Les télécommunications françaises.", language="fr")]
    )
    assert await ids(index, "télécommunication") == ["a1"]
    assert await ids(index, "télécommunication", lang="fr") == ["a1"]


async def test_french_irregular_plural_is_found(index: Index, event: EventFactory) -> None:
    await index.apply([event("a1", title="Course", text="Les chevaux ont couru.", language="fr")])
    assert await ids(index, "cheval") == ["a1"]


async def test_english_stemming_matches_other_forms(index: Index, event: EventFactory) -> None:
    await index.apply([event("a1", title="Markets", text="Investors were running for cover.")])
    assert await ids(index, "runs investor") == ["a1"]


async def test_title_match_ranks_above_body_match(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("body", title="Weekly roundup", text="Among other things, a glacier melted."),
            event("title", title="Glacier melts", text="Among other things, ice turned to water."),
        ]
    )
    assert await ids(index, "glacier") == ["title", "body"]


async def test_newer_article_ranks_first_among_equals(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("old", title="Storm warning", age=timedelta(days=60)),
            event("new", title="Storm warning", age=timedelta(hours=2)),
        ]
    )
    assert await ids(index, "storm") == ["new", "old"]


async def test_language_filter(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("en", title="Paris summit", language="en"),
            event("fr", title="Sommet de Paris", language="fr"),
        ]
    )
    assert await ids(index, "paris", lang="fr") == ["fr"]
    assert await ids(index, "paris", lang="EN") == ["en"]


async def test_feed_filter_accepts_id_or_url(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("a", title="Solar farm", feed_id="f-a", feed_url="http://127.0.0.1/a.xml"),
            event("b", title="Solar farm", feed_id="f-b", feed_url="http://127.0.0.1/b.xml"),
        ]
    )
    assert await ids(index, "solar", feed="f-b") == ["b"]
    assert await ids(index, "solar", feed="http://127.0.0.1/a.xml") == ["a"]


async def test_date_filters(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("old", title="Election results", age=timedelta(days=10)),
            event("new", title="Election results", age=timedelta(days=1)),
        ]
    )
    assert await ids(index, "election", since=NOW - timedelta(days=2)) == ["new"]
    assert await ids(index, "election", until=NOW - timedelta(days=2)) == ["old"]


async def test_pagination_keeps_the_total(index: Index, event: EventFactory) -> None:
    await index.apply(
        [event(f"a{i}", title="Rail strike", age=timedelta(hours=i)) for i in range(5)]
    )
    first = await index.search("rail", limit=2)
    second = await index.search("rail", limit=2, offset=2)
    past_end = await index.search("rail", limit=2, offset=10)
    assert (first.total, second.total, past_end.total) == (5, 5, 5)
    assert [h.id for h in first.hits] == ["a0", "a1"]
    assert [h.id for h in second.hits] == ["a2", "a3"]
    assert past_end.hits == []


async def test_excluded_word_removes_matches(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("a", title="Football final", text="Penalties decided it."),
            event("b", title="Football final", text="A late goal decided it."),
        ]
    )
    assert await ids(index, "football -penalty") == ["b"]


async def test_quoted_phrase_needs_adjacent_words(index: Index, event: EventFactory) -> None:
    await index.apply(
        [
            event("a", title="Central bank raises rates"),
            event("b", title="Bank in the central square"),
        ]
    )
    assert await ids(index, '"central bank"') == ["a"]


async def test_snippet_marks_matches_and_escapes_markup(index: Index, event: EventFactory) -> None:
    await index.apply(
        [event("a", title="Flood", text="Heavy rain caused a flood in <script>Valencia</script>.")]
    )
    snippet = (await index.search("flood")).hits[0].snippet
    assert "<mark>flood</mark>" in snippet
    assert "<script>" not in snippet


async def test_get_returns_the_full_record(index: Index, event: EventFactory) -> None:
    await index.apply([event("a", title="Wildfire", text="Crews contain the wildfire.")])
    record = await index.get("a")
    assert record is not None
    assert (record.id, record.text, record.language, record.duplicate_urls) == (
        "a",
        "Crews contain the wildfire.",
        "en",
        [],
    )
    assert await index.get("missing") is None


@pytest.mark.parametrize(
    "query", ['"', "((", "a AND (", "NEAR(a b", "*", "'", ":", "\\", "title:x", "^a", "a OR"]
)
async def test_odd_queries_never_raise_anything_but_syntax_errors(
    index: Index, event: EventFactory, query: str
) -> None:
    await index.apply([event("a", title="Title x a")])
    with contextlib.suppress(QuerySyntaxError):
        await index.search(query)


@pytest.mark.parametrize("query", ["", "   ", "!!!", "-alone", "x" * 501])
async def test_unusable_queries_are_syntax_errors(index: Index, query: str) -> None:
    with pytest.raises(QuerySyntaxError):
        await index.search(query)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=40))
async def test_any_text_query_runs_or_is_a_syntax_error(index: Index, query: str) -> None:
    with contextlib.suppress(QuerySyntaxError):
        await index.search(query)
