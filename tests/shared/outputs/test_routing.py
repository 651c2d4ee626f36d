"""Which events an output takes, and the routing keys and subjects they get."""

from __future__ import annotations

from shared.outputs.model import Filters, OutputKind
from shared.outputs.routing import render, routing_key, wants
from shared.pipeline.events import CommitKind
from tests.shared.outputs.samples import NOW, committed, make_output


def test_no_filter_admits_every_event() -> None:
    assert wants(Filters(), committed(lang="de"))
    assert wants(Filters(), committed(kind=CommitKind.DELETE))


def test_a_language_filter_admits_that_language_and_its_regional_forms() -> None:
    french = Filters.parse(["lang=fr"])
    assert wants(french, committed(lang="fr"))
    assert wants(french, committed(lang="fr-CA"))
    assert not wants(french, committed(lang="en"))
    assert not wants(french, committed(lang=None))


def test_values_of_one_key_are_alternatives_and_keys_must_all_match() -> None:
    filters = Filters.parse(["lang=fr", "lang=de", "feed=feed2"])
    assert wants(filters, committed(lang="de", feed="feed2"))
    assert not wants(filters, committed(lang="de", feed="feed1"))


def test_a_feed_filter_matches_the_feed_id_or_its_url() -> None:
    assert wants(Filters.parse(["feed=https://feed2.example/rss"]), committed(feed="feed2"))
    assert wants(Filters.parse(["feed=feed2"]), committed(feed="feed2"))


def test_a_kind_filter_excludes_other_kinds() -> None:
    filters = Filters.parse(["kind=new", "kind=update"])
    assert wants(filters, committed(kind=CommitKind.UPDATE))
    assert not wants(filters, committed(kind=CommitKind.DUPLICATE))


def test_a_delete_passes_language_and_feed_filters_since_it_carries_no_article() -> None:
    assert wants(Filters.parse(["lang=fr", "feed=x"]), committed(kind=CommitKind.DELETE))
    assert not wants(Filters.parse(["kind=new"]), committed(kind=CommitKind.DELETE))


def test_templates_render_language_feed_and_kind_as_single_tokens() -> None:
    event = committed(lang="pt-BR", feed="a.b c")
    assert render("{kind}.{lang}.{feed}", event) == "new.pt-br.a_b_c"


def test_events_without_language_or_article_render_placeholders_as_unknown() -> None:
    assert render("{lang}.{feed}", committed(lang=None)) == "und.feed1"
    assert render("{lang}.{feed}", committed(kind=CommitKind.DELETE)) == "und.unknown"


def test_a_rabbitmq_output_routes_by_language_and_feed_by_default() -> None:
    output = make_output(
        output_id="o", kind=OutputKind.RABBITMQ, url="amqp://h/", exchange="x", created_at=NOW
    )
    assert routing_key(output, committed(lang="fr", feed="f9")) == "fr.f9"
