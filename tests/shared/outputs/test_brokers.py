"""RabbitMQ and NATS JetStream outputs against the real servers (unique names per test)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.outputs import Delivery, OutputKind, open_transport
from shared.outputs.attempt import Verdict
from shared.outputs.model import Output
from shared.settings import Settings
from tests.shared.outputs.samples import committed, make_output
from tests.support.brokers import AMQP_URL, NATS_URL, NatsServer, RabbitServer, unique

pytestmark = pytest.mark.integration

SETTINGS = Settings(delivery_timeout=5.0)


def rabbit_output(exchange: str, *, url: str = AMQP_URL, routing_key: str | None = None) -> Output:
    return make_output(
        output_id="r1",
        kind=OutputKind.RABBITMQ,
        url=url,
        exchange=exchange,
        routing_key=routing_key,
        created_at=datetime.now(UTC),
    )


def nats_output(stream: str, subject: str, *, url: str = NATS_URL) -> Output:
    return make_output(
        output_id="n1",
        kind=OutputKind.NATS,
        url=url,
        subject=subject,
        stream=stream,
        created_at=datetime.now(UTC),
    )


async def send(output: Output, delivery: Delivery):  # type: ignore[no-untyped-def]
    transport = open_transport(output, SETTINGS)
    try:
        return await transport.send(delivery)
    finally:
        await transport.aclose()


async def test_rabbitmq_gets_one_persistent_message_per_article_keyed_by_idempotency_key(
    rabbitmq: RabbitServer,
) -> None:
    exchange = unique("feedpipe-test")
    tap = await rabbitmq.tap(exchange)
    events = [committed(1, lang="fr", feed="f1"), committed(2, lang="en", feed="f2", version=4)]
    attempt = await send(rabbit_output(exchange), Delivery.of(events))
    assert attempt.verdict is Verdict.OK
    messages = await tap.read(2)
    assert sorted(m.message_id for m in messages) == ["art1:1", "art2:4"]
    by_key = {m.message_id: m for m in messages}
    assert by_key["art1:1"].routing_key == "fr.f1"
    assert by_key["art2:4"].routing_key == "en.f2"
    assert by_key["art1:1"].delivery_mode == 2  # persistent
    assert by_key["art1:1"].content_type == "application/json"
    assert by_key["art1:1"].type == "new"
    assert json.loads(by_key["art2:4"].body)["idempotency_key"] == "art2:4"


async def test_rabbitmq_routing_key_follows_the_template(rabbitmq: RabbitServer) -> None:
    exchange = unique("feedpipe-test")
    tap = await rabbitmq.tap(exchange, binding="articles.de.#")
    output = rabbit_output(exchange, routing_key="articles.{lang}.{kind}")
    await send(output, Delivery.of([committed(1, lang="de"), committed(2, lang="fr")]))
    messages = await tap.read(1)
    assert [m.routing_key for m in messages] == ["articles.de.new"]


async def test_an_unreachable_rabbitmq_is_an_error_attempt() -> None:
    output = rabbit_output(unique("x"), url="amqp://guest:guest@127.0.0.1:9/")
    attempt = await send(output, Delivery.of([committed(1)]))
    assert attempt.verdict is Verdict.ERROR
    assert attempt.detail.startswith("RabbitMQ not reachable")


async def test_nats_creates_the_stream_and_stores_one_message_per_article_with_its_msg_id(
    nats_js: NatsServer,
) -> None:
    stream = nats_js.owns(unique("feedpipe_test"))
    output = nats_output(stream, f"{stream}.articles.{{lang}}")
    events = [committed(1, lang="fr"), committed(2, lang="en")]
    assert (await send(output, Delivery.of(events))).verdict is Verdict.OK
    stored = await nats_js.messages(stream)
    assert [m.subject for m in stored] == [f"{stream}.articles.fr", f"{stream}.articles.en"]
    assert [m.headers["Nats-Msg-Id"] for m in stored] == ["art1:1", "art2:1"]
    assert json.loads(stored[0].data)["article_id"] == "art1"


async def test_nats_drops_a_repeated_article_version_within_the_duplicate_window(
    nats_js: NatsServer,
) -> None:
    stream = nats_js.owns(unique("feedpipe_test"))
    output = nats_output(stream, f"{stream}.{{lang}}")
    await send(output, Delivery.of([committed(1)]))
    again = await send(output, Delivery.of([committed(1), committed(1, version=2)]))
    assert again.verdict is Verdict.OK
    assert "1 duplicate(s) dropped" in again.answer
    stored = await nats_js.messages(stream)
    assert [m.headers["Nats-Msg-Id"] for m in stored] == ["art1:1", "art1:2"]


async def test_nats_uses_an_existing_stream_as_it_is(nats_js: NatsServer) -> None:
    stream = unique("feedpipe_test")
    await nats_js.create(stream, [f"{stream}.>"])
    output = nats_output(stream, f"{stream}.x.{{lang}}")
    assert (await send(output, Delivery.of([committed(1)]))).verdict is Verdict.OK
    assert len(await nats_js.messages(stream)) == 1


async def test_a_nats_subject_no_stream_holds_is_an_error_attempt(nats_js: NatsServer) -> None:
    stream = unique("feedpipe_test")
    await nats_js.create(stream, [f"{stream}.only"])
    output = nats_output(stream, f"{stream}.other.{{lang}}")
    attempt = await send(output, Delivery.of([committed(1)]))
    assert attempt.verdict is Verdict.ERROR
    assert attempt.detail.startswith("NATS publish: 1 of 1 failed")
