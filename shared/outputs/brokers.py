"""RabbitMQ and NATS JetStream outputs, through FastStream's own brokers.

Each committed event is one message whose body is the item JSON
(:mod:`shared.outputs.payload`) and whose id is the idempotency key
``article_id:version``:

* RabbitMQ: published to a durable topic exchange (declared when missing) with
  a routing key rendered from the output's template (default
  ``{lang}.{feed}``), persistent, with ``message_id`` = the key and
  ``type`` = the commit kind; a batch counts as delivered once RabbitMQ has
  confirmed every message (publisher confirms). A message no queue is bound
  for is dropped by RabbitMQ, as for any topic exchange: bind queues (or an
  alternate exchange) before the messages matter.
* NATS: published with JetStream to a subject rendered from the output's
  template, with ``Nats-Msg-Id`` = the key, so the server drops a repeat of
  the same article version within the stream's duplicate window (two minutes
  unless the stream says otherwise); delivered once every message has its
  PubAck. The stream is created when missing, holding the template's subjects
  (``feedpipe.articles.{lang}`` -> ``feedpipe.articles.*``).

Connections are opened on the first batch and re-opened by the clients
themselves (aio-pika's robust connection, nats-py's reconnects); a broker that
cannot be reached makes an ``error`` attempt like any other failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from faststream.nats import NatsBroker
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange
from nats.js.errors import NotFoundError

from shared.outputs import routing
from shared.outputs.attempt import Attempt, Verdict
from shared.outputs.model import Output, nats_stream_subjects
from shared.outputs.transport import Delivery, describe
from shared.settings import Settings

CONTENT_TYPE = "application/json"


async def _all_or_error(what: str, calls: Sequence[Awaitable[Any]]) -> tuple[list[Any], str | None]:
    """Await every publish; the results, or a one-line error naming how many failed."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        first = describe(errors[0])
        return results, f"{what}: {len(errors)} of {len(results)} failed, first: {first}"
    return results, None


class RabbitTransport:
    def __init__(self, output: Output, settings: Settings) -> None:
        assert output.exchange is not None
        self.output = output
        self.timeout = settings.delivery_timeout
        self.exchange = RabbitExchange(output.exchange, type=ExchangeType.TOPIC, durable=True)
        self._broker: RabbitBroker | None = None

    async def _ready(self) -> RabbitBroker:
        if self._broker is None:
            broker = RabbitBroker(self.output.url, logger=None, timeout=self.timeout)
            try:
                async with asyncio.timeout(self.timeout):
                    await broker.connect()
                    await broker.declare_exchange(self.exchange)
            except BaseException:
                await broker.stop()
                raise
            self._broker = broker
        return self._broker

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            broker = await self._ready()
        except TimeoutError:
            return Attempt(Verdict.ERROR, f"RabbitMQ did not answer within {self.timeout:g}s")
        except Exception as exc:
            return Attempt(Verdict.ERROR, f"RabbitMQ not reachable: {describe(exc)}")
        keys = [routing.routing_key(self.output, event) for event in delivery.events]
        calls = [
            broker.publish(
                item,
                exchange=self.exchange,
                routing_key=key,
                mandatory=False,  # unbound routing keys are the receiver's choice
                persist=True,
                message_id=event.delivery_key,
                message_type=event.kind.value,
                content_type=CONTENT_TYPE,
                timestamp=event.committed_at,
                timeout=self.timeout,
            )
            for event, item, key in zip(delivery.events, delivery.items, keys, strict=True)
        ]
        results, error = await _all_or_error("RabbitMQ publish", calls)
        if error is not None:
            return Attempt(Verdict.ERROR, error)
        refused = [r for r in results if type(r).__name__ != "Ack"]
        if refused:
            return Attempt(
                Verdict.ERROR,
                f"RabbitMQ did not confirm {len(refused)} of {len(results)} messages"
                f" ({type(refused[0]).__name__})",
            )
        return Attempt(
            Verdict.OK,
            f"{len(results)} confirmed",
            answer=f"RabbitMQ confirmed {len(results)} message(s) on exchange"
            f" {self.exchange.name!r}, routing key {keys[0]!r}"
            if keys
            else "",
        )

    async def aclose(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None


class NatsTransport:
    def __init__(self, output: Output, settings: Settings) -> None:
        assert output.subject is not None
        assert output.stream is not None
        self.output = output
        self.stream = output.stream
        self.timeout = settings.delivery_timeout
        self._broker: NatsBroker | None = None

    async def _ready(self) -> NatsBroker:
        if self._broker is None:
            broker = NatsBroker(
                self.output.url,
                logger=None,
                connect_timeout=max(int(self.timeout), 1),
                max_reconnect_attempts=-1,
            )
            try:
                async with asyncio.timeout(self.timeout):
                    await broker.connect()
                    await self._ensure_stream(broker)
            except BaseException:
                await broker.stop()
                raise
            self._broker = broker
        return self._broker

    async def _ensure_stream(self, broker: NatsBroker) -> None:
        assert self.output.subject is not None
        js = broker.config.connection_state.stream
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                name=self.stream, subjects=[nats_stream_subjects(self.output.subject)]
            )

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            broker = await self._ready()
        except TimeoutError:
            return Attempt(Verdict.ERROR, f"NATS did not answer within {self.timeout:g}s")
        except Exception as exc:
            return Attempt(Verdict.ERROR, f"NATS not reachable: {describe(exc)}")
        subjects = [routing.subject(self.output, event) for event in delivery.events]
        calls = [
            broker.publish(
                item,
                subject,
                headers={"Nats-Msg-Id": event.delivery_key, "content-type": CONTENT_TYPE},
                stream=self.stream,
                timeout=self.timeout,
            )
            for event, item, subject in zip(delivery.events, delivery.items, subjects, strict=True)
        ]
        results, error = await _all_or_error("JetStream publish", calls)
        if error is not None:
            return Attempt(Verdict.ERROR, error)
        duplicates = sum(1 for ack in results if getattr(ack, "duplicate", False))
        last = results[-1] if results else None
        answer = (
            f"JetStream stored {len(results)} message(s) in stream {self.stream!r}"
            f" ({duplicates} duplicate(s) dropped), subject {subjects[0]!r},"
            f" last sequence {getattr(last, 'seq', '?')}"
            if results
            else ""
        )
        return Attempt(Verdict.OK, f"{len(results)} acknowledged", answer=answer)

    async def aclose(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None
