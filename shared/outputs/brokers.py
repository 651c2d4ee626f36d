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
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence
from typing import Any, Generic, TypeVar

from faststream.nats import NatsBroker
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange
from nats.js.errors import NotFoundError

from shared.outputs import routing
from shared.outputs.attempt import Attempt, Verdict
from shared.outputs.model import Output, nats_stream_subjects
from shared.outputs.transport import Delivery, describe
from shared.settings import Settings

CONTENT_TYPE = "application/json"

B = TypeVar("B", RabbitBroker, NatsBroker)


class _BrokerTransport(ABC, Generic[B]):
    """Connects on the first batch (and after :meth:`aclose`), within the
    delivery time limit; a failed connection is an ``error`` attempt."""

    system: str  # how errors name the broker

    def __init__(self, output: Output, settings: Settings) -> None:
        self.output = output
        self.timeout = settings.delivery_timeout
        self._broker: B | None = None

    @abstractmethod
    def _make(self) -> B: ...

    @abstractmethod
    async def _prepare(self, broker: B) -> None:
        """Declare what publishing needs (an exchange, a stream)."""

    @abstractmethod
    async def _publish(self, broker: B, delivery: Delivery) -> Attempt: ...

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            if self._broker is None:
                broker = self._make()
                try:
                    async with asyncio.timeout(self.timeout):
                        await broker.connect()
                        await self._prepare(broker)
                except BaseException:
                    await broker.stop()
                    raise
                self._broker = broker
        except TimeoutError:
            return Attempt(Verdict.ERROR, f"{self.system} did not answer within {self.timeout:g}s")
        except Exception as exc:
            return Attempt(Verdict.ERROR, f"{self.system} not reachable: {describe(exc)}")
        return await self._publish(self._broker, delivery)

    async def _all(self, calls: Sequence[Awaitable[Any]]) -> tuple[list[Any], str | None]:
        """Await every publish; the results, or a one-line error naming how many failed."""
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            first = describe(errors[0])
            return results, (
                f"{self.system} publish: {len(errors)} of {len(results)} failed, first: {first}"
            )
        return results, None

    async def aclose(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None


class RabbitTransport(_BrokerTransport[RabbitBroker]):
    system = "RabbitMQ"

    def __init__(self, output: Output, settings: Settings) -> None:
        super().__init__(output, settings)
        assert output.exchange is not None
        self.exchange = RabbitExchange(output.exchange, type=ExchangeType.TOPIC, durable=True)

    def _make(self) -> RabbitBroker:
        return RabbitBroker(self.output.url, logger=None, timeout=self.timeout)

    async def _prepare(self, broker: RabbitBroker) -> None:
        await broker.declare_exchange(self.exchange)

    async def _publish(self, broker: RabbitBroker, delivery: Delivery) -> Attempt:
        keys = [routing.routing_key(self.output, event) for event in delivery.events]
        results, error = await self._all(
            [
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
        )
        if error is not None:
            return Attempt(Verdict.ERROR, error)
        refused = [r for r in results if type(r).__name__ != "Ack"]
        if refused:
            return Attempt(
                Verdict.ERROR,
                f"RabbitMQ did not confirm {len(refused)} of {len(results)} messages"
                f" ({type(refused[0]).__name__})",
            )
        answer = (
            f"RabbitMQ confirmed {len(results)} message(s) on exchange"
            f" {self.exchange.name!r}, routing key {keys[0]!r}"
            if keys
            else ""
        )
        return Attempt(Verdict.OK, f"{len(results)} confirmed", answer=answer)


class NatsTransport(_BrokerTransport[NatsBroker]):
    system = "NATS"

    def __init__(self, output: Output, settings: Settings) -> None:
        super().__init__(output, settings)
        assert output.subject is not None
        assert output.stream is not None
        self.subject = output.subject
        self.stream = output.stream

    def _make(self) -> NatsBroker:
        return NatsBroker(
            self.output.url,
            logger=None,
            connect_timeout=max(int(self.timeout), 1),
            max_reconnect_attempts=-1,
        )

    async def _prepare(self, broker: NatsBroker) -> None:
        js = broker.config.connection_state.stream
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(name=self.stream, subjects=[nats_stream_subjects(self.subject)])

    async def _publish(self, broker: NatsBroker, delivery: Delivery) -> Attempt:
        subjects = [routing.subject(self.output, event) for event in delivery.events]
        results, error = await self._all(
            [
                broker.publish(
                    item,
                    subject,
                    headers={"Nats-Msg-Id": event.delivery_key, "content-type": CONTENT_TYPE},
                    stream=self.stream,
                    timeout=self.timeout,
                )
                for event, item, subject in zip(
                    delivery.events, delivery.items, subjects, strict=True
                )
            ]
        )
        if error is not None:
            return Attempt(Verdict.ERROR, error)
        duplicates = sum(1 for ack in results if getattr(ack, "duplicate", False))
        answer = (
            f"JetStream stored {len(results)} message(s) in stream {self.stream!r}"
            f" ({duplicates} duplicate(s) dropped), subject {subjects[0]!r},"
            f" last sequence {getattr(results[-1], 'seq', '?')}"
            if results
            else ""
        )
        return Attempt(Verdict.OK, f"{len(results)} acknowledged", answer=answer)
