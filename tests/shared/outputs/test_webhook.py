"""Webhook deliveries to a local receiver that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from shared.outputs import Delivery, OutputKind, open_transport
from shared.outputs.attempt import Verdict
from shared.outputs.webhook import signature_headers, signer_for
from shared.settings import Settings
from tests.shared.outputs.samples import committed, make_output
from tests.support.webhooks import Answer, WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "a-long-shared-secret"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secret=SECRET.encode()) as started:
        yield started


def settings(**kw: object) -> Settings:
    return Settings(**{"allow_private_networks": True, "delivery_timeout": 5.0, **kw})  # type: ignore[arg-type]


def output_to(url: str, *, secret: str | None = SECRET, private: bool = True):  # type: ignore[no-untyped-def]
    return make_output(
        output_id="o1",
        kind=OutputKind.WEBHOOK,
        url=url,
        secret=secret,
        created_at=datetime.now(UTC),
        allow_private_networks=private,
    )


async def send(url: str, *events_n: int, **kw: object):  # type: ignore[no-untyped-def]
    transport = open_transport(output_to(url, **kw), settings())  # type: ignore[arg-type]
    try:
        return await transport.send(Delivery.of([committed(n) for n in events_n or (1,)]))
    finally:
        await transport.aclose()


async def test_a_batch_arrives_signed_with_every_item_and_its_key(
    receiver: WebhookReceiver,
) -> None:
    attempt = await send(receiver.url, 1, 2, 3)
    assert attempt.verdict is Verdict.OK
    assert receiver.bad_signatures == 0
    assert receiver.keys == ["art1:1", "art2:1", "art3:1"]
    headers = {k.lower(): v for k, v in receiver.accepted[0].headers.items()}
    assert headers["webhook-id"] == receiver.accepted[0].body["delivery_id"]
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"


async def test_a_receiver_with_another_secret_refuses_the_signature() -> None:
    async with WebhookReceiver(secret=b"another secret") as other:
        attempt = await send(other.url)
    assert attempt.verdict is Verdict.ERROR
    assert other.bad_signatures == 1


async def test_an_output_without_secret_sends_no_signature() -> None:
    async with WebhookReceiver() as plain:
        assert (await send(plain.url, secret=None)).verdict is Verdict.OK
    headers = {k.lower() for k in plain.accepted[0].headers}
    assert "webhook-signature" not in headers
    assert "webhook-timestamp" in headers


def test_a_whsec_secret_is_the_standard_webhooks_base64_key() -> None:
    body = b'{"items":[]}'
    now = datetime.now(UTC)
    standard = signature_headers(
        delivery_id="d", body=body, signer=signer_for("whsec_c2VjcmV0"), now=now
    )
    raw = signature_headers(delivery_id="d", body=body, signer=signer_for("secret"), now=now)
    assert standard["webhook-signature"] == raw["webhook-signature"]


async def test_a_5xx_is_an_error_with_the_status(receiver: WebhookReceiver) -> None:
    receiver.failing = 503
    attempt = await send(receiver.url)
    assert (attempt.verdict, attempt.status, attempt.detail) == (Verdict.ERROR, 503, "HTTP 503")


async def test_a_429_carries_its_retry_after(receiver: WebhookReceiver) -> None:
    receiver.script.append(Answer(429, {"Retry-After": "12"}))
    attempt = await send(receiver.url)
    assert attempt.verdict is Verdict.THROTTLED
    assert attempt.retry_after == 12.0


async def test_a_410_is_gone(receiver: WebhookReceiver) -> None:
    receiver.script.append(Answer(410))
    assert (await send(receiver.url)).verdict is Verdict.GONE


async def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.script.append(Answer(307, {"Location": receiver.url}))
    attempt = await send(receiver.url)
    assert attempt.verdict is Verdict.ERROR
    assert receiver.requests == 1


async def test_a_receiver_slower_than_the_time_limit_is_a_timeout(
    receiver: WebhookReceiver,
) -> None:
    receiver.delay = 2.0
    transport = open_transport(output_to(receiver.url), settings(delivery_timeout=0.3))
    try:
        attempt = await transport.send(Delivery.of([committed(1)]))
    finally:
        await transport.aclose()
    assert attempt.verdict is Verdict.ERROR
    assert attempt.detail == "timed out after 0.3s"


async def test_a_refused_connection_is_an_error_naming_it() -> None:
    attempt = await send("http://127.0.0.1:9/hook")
    assert attempt.verdict is Verdict.ERROR
    assert "ClientConnectorError" in attempt.detail


async def test_the_ssrf_guard_refuses_a_private_target_when_private_networks_are_off(
    receiver: WebhookReceiver,
) -> None:
    output = output_to(receiver.url)  # stored while private networks were allowed
    transport = open_transport(output, settings(allow_private_networks=False))
    try:
        attempt = await transport.send(Delivery.of([committed(1)]))
    finally:
        await transport.aclose()
    assert attempt.verdict is Verdict.ERROR
    assert "refused by SSRF guard" in attempt.detail
    assert receiver.requests == 0


async def test_the_test_delivery_says_so_in_its_body(receiver: WebhookReceiver) -> None:
    transport = open_transport(output_to(receiver.url), settings())
    try:
        await transport.send(Delivery.of([committed(1)], test=True))
    finally:
        await transport.aclose()
    assert receiver.accepted[0].body["test"] is True
    assert json.dumps(receiver.accepted[0].body).count("idempotency_key") == 1
