"""docs/OPERATIONS.md stays true: its signature verifier accepts what feedpipe sends."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.outputs import Delivery, OutputKind, open_transport
from shared.outputs.webhook import signature_headers, signer_for
from shared.settings import Settings
from tests.shared.outputs.samples import committed, make_output
from tests.support.webhooks import WebhookReceiver

DOC = Path(__file__).resolve().parents[1] / "docs" / "OPERATIONS.md"

Verify = Callable[[bytes, dict[str, str], bytes], bool]


@pytest.fixture(scope="module")
def verify() -> Verify:
    text = DOC.read_text()
    block = text.split("<!-- verify-snippet:begin -->", 1)[1].split("<!-- verify-snippet:end -->")[
        0
    ]
    code = block.split("```python", 1)[1].rsplit("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # the documented code, as written
    return namespace["verify"]  # type: ignore[no-any-return]


def signed(secret: str, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
    return signature_headers(
        delivery_id="dlv_1", body=body, signer=signer_for(secret), now=at or datetime.now(UTC)
    )


def test_the_documented_verifier_accepts_a_signed_body(verify: Verify) -> None:
    body = b'{"items": []}'
    assert verify(b"s3cret", signed("s3cret", body), body)


def test_the_documented_verifier_refuses_a_changed_body_or_another_secret(
    verify: Verify,
) -> None:
    body = b'{"items": []}'
    assert not verify(b"s3cret", signed("s3cret", body), body + b" ")
    assert not verify(b"other", signed("s3cret", body), body)


def test_the_documented_verifier_refuses_an_old_timestamp(verify: Verify) -> None:
    body = b"{}"
    old = datetime.fromtimestamp(time.time() - 3600, UTC)
    assert not verify(b"s3cret", signed("s3cret", body, at=old), body)


@pytest.mark.integration
async def test_the_documented_verifier_accepts_a_real_delivery(verify: Verify) -> None:
    async with WebhookReceiver() as receiver:
        output = make_output(
            output_id="o1",
            kind=OutputKind.WEBHOOK,
            url=receiver.url,
            secret="doc-secret",
            created_at=datetime.now(UTC),
            allow_private_networks=True,
        )
        transport = open_transport(output, Settings(allow_private_networks=True))
        try:
            await transport.send(Delivery.of([committed(1), committed(2)]))
        finally:
            await transport.aclose()
    [received] = receiver.accepted
    headers = {k.lower(): v for k, v in received.headers.items()}
    assert verify(b"doc-secret", headers, received.raw)
