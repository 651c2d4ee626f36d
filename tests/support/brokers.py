"""The RabbitMQ and NATS JetStream servers of this machine and of CI, for tests
and benchmarks: where they are, unique names per test, and readers of what
arrived (clients of the brokers' own libraries, not feedpipe's code).

The fixtures ``rabbitmq`` and ``nats_js`` (tests/support/fixtures.py) give a
test a connected :class:`RabbitServer` / :class:`NatsServer` and delete the
exchanges and streams it made.
``FEEDPIPE_TEST_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``) and
``FEEDPIPE_TEST_NATS_URL`` (default ``nats://127.0.0.1:4222``) point elsewhere.
A test that needs a server that does not answer is skipped, except under
``CI=true``, where .ci/run has started both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

AMQP_URL = os.environ.get("FEEDPIPE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("FEEDPIPE_TEST_NATS_URL", "nats://127.0.0.1:4222")


def unique(prefix: str) -> str:
    """A name no other test uses: ``<prefix>-<12 hex>`` (NATS names: no dots)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _unreachable(what: str, exc: BaseException) -> None:
    if os.environ.get("CI"):
        raise AssertionError(f"{what} not reachable under CI: {exc}") from exc
    pytest.skip(f"{what} not reachable: {exc}")


@dataclass
class RabbitTap:
    """A queue bound to an exchange with ``#``: reads every message published there."""

    exchange: str
    connection: Any
    queue: Any
    messages: list[Any] = field(default_factory=list)

    async def read(self, count: int, *, timeout: float = 30.0) -> list[Any]:
        """Wait until ``count`` messages arrived (more may have); all of them so far."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            message = await self.queue.get(fail=False, no_ack=True)
            if message is None:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(
                        f"{len(self.messages)} of {count} messages on exchange {self.exchange}"
                    )
                await asyncio.sleep(0.05)
                continue
            self.messages.append(message)
        return self.messages


@dataclass
class RabbitServer:
    url: str
    connection: Any
    exchanges: list[str] = field(default_factory=list)

    async def tap(self, exchange: str, *, binding: str = "#") -> RabbitTap:
        """Declare ``exchange`` (durable topic, as feedpipe does) and a queue on it."""
        channel = await self.connection.channel()
        declared = await channel.declare_exchange(
            exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.exchanges.append(exchange)
        queue = await channel.declare_queue(unique("tap"), exclusive=True)
        await queue.bind(declared, routing_key=binding)
        return RabbitTap(exchange, self.connection, queue)

    async def cleanup(self) -> None:
        channel = await self.connection.channel()
        for exchange in self.exchanges:
            await channel.exchange_delete(exchange)
        await self.connection.close()


async def rabbit_server() -> AsyncIterator[RabbitServer]:
    try:
        connection = await asyncio.wait_for(aio_pika.connect(AMQP_URL), timeout=10)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        _unreachable(f"RabbitMQ at {AMQP_URL}", exc)
    server = RabbitServer(AMQP_URL, connection)
    try:
        yield server
    finally:
        await server.cleanup()


@dataclass
class NatsServer:
    url: str
    client: Any
    streams: list[str] = field(default_factory=list)

    def owns(self, stream: str) -> str:
        """Delete ``stream`` after the test (feedpipe may create it)."""
        self.streams.append(stream)
        return stream

    async def create(self, stream: str, subjects: list[str]) -> None:
        await self.client.jetstream().add_stream(
            StreamConfig(name=self.owns(stream), subjects=subjects)
        )

    async def messages(self, stream: str) -> list[Any]:
        """Every message the stream holds, in order."""
        js = self.client.jetstream()
        info = await js.stream_info(stream)
        return [
            await js.get_msg(stream, seq)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
            if info.state.messages
        ]

    async def cleanup(self) -> None:
        js = self.client.jetstream()
        for stream in self.streams:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(stream)
        await self.client.drain()


async def nats_server() -> AsyncIterator[NatsServer]:
    try:
        client = await nats.connect(
            NATS_URL, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0
        )
        await client.jetstream().account_info()
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        _unreachable(f"NATS JetStream at {NATS_URL}", exc)
    server = NatsServer(NATS_URL, client)
    try:
        yield server
    finally:
        await server.cleanup()
