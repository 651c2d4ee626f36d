"""Webhook outputs: batches POSTed as JSON, signed per the Standard Webhooks
specification (standardwebhooks.com) with the ``standardwebhooks`` library.

Headers of every POST:

* ``webhook-id``: the delivery id (the same on every retry of a batch);
* ``webhook-timestamp``: Unix seconds when this attempt was signed;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over
  ``"{webhook-id}.{webhook-timestamp}.{body}"`` (only when the output has a
  secret). The key is the secret's UTF-8 bytes, or for a ``whsec_<base64>``
  secret the decoded bytes, as Standard Webhooks libraries expect. The
  timestamp is signed with the body, so a receiver that refuses timestamps
  older than a few minutes cannot be fed a replay. docs/OPERATIONS.md shows a
  verifier in a few lines of Python.

Connections go through the SSRF guard (:mod:`shared.fetch.netguard`) unless
FEEDPIPE_ALLOW_PRIVATE_NETWORKS is set; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
from standardwebhooks.webhooks import Webhook

from shared.fetch.fetcher import USER_AGENT, parse_retry_after
from shared.fetch.netguard import guarded_socket_factory, is_refusal
from shared.outputs.attempt import ANSWER_CHARS, Attempt, Verdict, classify_http
from shared.outputs.model import Output
from shared.outputs.payload import webhook_body
from shared.outputs.transport import Delivery, describe
from shared.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix of a Standard Webhooks secret, not one)


def signer_for(secret: str) -> Webhook:
    """The signer of a secret: ``whsec_<base64>`` secrets are decoded (the
    Standard Webhooks form), any other string is used as its UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        return Webhook(secret)
    return Webhook(secret.encode())


def signature_headers(
    *, delivery_id: str, body: bytes, signer: Webhook | None, now: datetime
) -> dict[str, str]:
    headers = {"webhook-id": delivery_id, "webhook-timestamp": str(int(now.timestamp()))}
    if signer is not None:
        headers["webhook-signature"] = signer.sign(delivery_id, now, body.decode())
    return headers


def webhook_session(settings: Settings) -> aiohttp.ClientSession:
    """One session per deliverer process, shared by its webhook outputs (each
    output has at most one request in flight per process)."""
    connector = aiohttp.TCPConnector(
        limit=0,
        ttl_dns_cache=300,
        socket_factory=None if settings.allow_private_networks else guarded_socket_factory,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
        raise_for_status=False,
    )


class WebhookTransport:
    def __init__(
        self,
        output: Output,
        settings: Settings,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.output = output
        self.timeout = settings.delivery_timeout
        self._session = session or webhook_session(settings)
        self._owns_session = session is None
        self._signer = signer_for(output.secret.get_secret_value()) if output.secret else None

    async def send(self, delivery: Delivery) -> Attempt:
        body = webhook_body(
            delivery.items,
            delivery_id=delivery.delivery_id,
            output_id=self.output.output_id,
            test=delivery.test,
        )
        headers = {
            "Content-Type": "application/json",
            **signature_headers(
                delivery_id=delivery.delivery_id,
                body=body,
                signer=self._signer,
                now=datetime.now(UTC),
            ),
        }
        try:
            async with (
                asyncio.timeout(self.timeout),
                self._session.post(
                    self.output.url, data=body, headers=headers, allow_redirects=False
                ) as response,
            ):
                answer = await response.content.read(ANSWER_CHARS)
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), now=time.time()
                )
                return classify_http(
                    response.status,
                    retry_after=retry_after,
                    answer=answer.decode("utf-8", "replace"),
                )
        except TimeoutError:
            return Attempt(Verdict.ERROR, f"timed out after {self.timeout:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if is_refusal(exc):
                return Attempt(Verdict.ERROR, f"refused by SSRF guard: {describe(exc)}")
            return Attempt(Verdict.ERROR, describe(exc))

    async def aclose(self) -> None:
        if self._owns_session:
            await self._session.close()
