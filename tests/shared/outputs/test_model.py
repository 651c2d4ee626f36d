"""Outputs: filters, checks made when one is added, and what is shown of one."""

from __future__ import annotations

import json

import pytest

from shared.outputs.model import (
    Filters,
    OutputConfigError,
    OutputKind,
    nats_stream_subjects,
    redact_url,
    template_fields,
)
from shared.pipeline.events import CommitKind
from tests.shared.outputs.samples import NOW, make_output, webhook


def test_filters_group_values_by_key() -> None:
    filters = Filters.parse(["lang=FR", "lang=de", "feed=abc", "kind=new"])
    assert filters.lang == ("fr", "de")
    assert filters.feed == ("abc",)
    assert filters.kind == (CommitKind.NEW,)
    assert filters.describe() == ["lang=fr", "lang=de", "feed=abc", "kind=new"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("lang", "is not key=value"),
        ("colour=red", "unknown filter 'colour'"),
        ("kind=created", "is not one of new, update, duplicate, delete"),
        ("lang=french!", "is not a language code"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(item: str, message: str) -> None:
    with pytest.raises(OutputConfigError, match=message):
        Filters.parse([item])


def test_a_webhook_to_a_loopback_address_is_refused_without_private_networks() -> None:
    with pytest.raises(OutputConfigError, match="not a public address"):
        webhook("http://127.0.0.1:9000/hook")
    with pytest.raises(OutputConfigError, match="not a public address"):
        webhook("http://localhost/hook")


def test_a_webhook_to_a_loopback_address_is_allowed_with_private_networks() -> None:
    assert webhook("http://127.0.0.1:9000/hook", allow_private_networks=True).url.endswith("/hook")


def test_each_kind_needs_its_own_url_scheme() -> None:
    with pytest.raises(OutputConfigError, match=r"needs a amqp:// or amqps:// URL"):
        make_output(
            output_id="o",
            kind=OutputKind.RABBITMQ,
            url="http://rabbit:5672",
            exchange="x",
            created_at=NOW,
        )


def test_a_rabbitmq_output_needs_an_exchange_and_gets_the_default_routing_key() -> None:
    with pytest.raises(OutputConfigError, match="needs --exchange"):
        make_output(output_id="o", kind=OutputKind.RABBITMQ, url="amqp://h/", created_at=NOW)
    output = make_output(
        output_id="o", kind=OutputKind.RABBITMQ, url="amqp://h/", exchange="x", created_at=NOW
    )
    assert output.routing_key == "{lang}.{feed}"


def test_a_nats_output_needs_a_subject_and_a_stream() -> None:
    with pytest.raises(OutputConfigError, match="needs --subject"):
        make_output(output_id="o", kind=OutputKind.NATS, url="nats://h:4222", created_at=NOW)
    with pytest.raises(OutputConfigError, match="needs --stream"):
        make_output(
            output_id="o", kind=OutputKind.NATS, url="nats://h:4222", subject="a.{lang}",
            created_at=NOW,
        )  # fmt: skip


def test_a_secret_is_only_for_webhooks() -> None:
    with pytest.raises(OutputConfigError, match="signs webhooks"):
        make_output(
            output_id="o", kind=OutputKind.RABBITMQ, url="amqp://h/", exchange="x",
            secret="s", created_at=NOW,
        )  # fmt: skip


def test_templates_take_only_known_placeholders() -> None:
    assert template_fields("{lang}.{feed}.{kind}") == ["lang", "feed", "kind"]
    with pytest.raises(OutputConfigError, match=r"\{title\} is not one of"):
        template_fields("{title}")
    with pytest.raises(OutputConfigError, match="is not one of"):
        template_fields("{lang!r}")


def test_a_nats_subject_template_becomes_a_stream_filter_with_wildcard_tokens() -> None:
    assert nats_stream_subjects("feedpipe.articles.{lang}") == "feedpipe.articles.*"
    assert nats_stream_subjects("news.{kind}.{lang}") == "news.*.*"


def test_a_placeholder_inside_a_nats_token_is_refused() -> None:
    with pytest.raises(OutputConfigError, match="whole token"):
        nats_stream_subjects("articles-{lang}")


def test_redacted_urls_hide_passwords_and_query_values() -> None:
    assert redact_url("amqp://guest:guest@10.0.0.1:5672/vh") == "amqp://guest:***@10.0.0.1:5672/vh"
    assert (
        redact_url("https://h.example/in?token=abc&x=1")
        == "https://h.example/in?token=%2A%2A%2A&x=%2A%2A%2A"
    )
    assert redact_url("https://h.example/in") == "https://h.example/in"


def test_the_public_view_says_whether_a_secret_is_set_but_never_shows_it() -> None:
    output = webhook("https://u:pw@hooks.example/in?k=v", secret="topsecret-value")
    shown = json.dumps(output.public())
    assert "topsecret-value" not in shown
    assert "pw" not in output.public()["url"]
    assert output.public()["secret"] == "set"
    assert webhook().public()["secret"] == "unset"
    assert "topsecret-value" not in output.model_dump_json()
    assert "topsecret-value" not in repr(output)


def test_the_log_target_is_scheme_host_and_port_only() -> None:
    output = webhook("https://hooks.example:8443/services/T00/B00/token?x=1")
    assert output.target == "https://hooks.example:8443"
