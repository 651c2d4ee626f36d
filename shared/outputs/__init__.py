"""Outputs: where committed articles go beyond the index (issue 16).

What an output is (:mod:`.model`), where outputs live in Redis
(:mod:`.registry`), which events an output takes and under which routing key
or subject (:mod:`.routing`, pure), what receivers get (:mod:`.payload`,
pure), and how a batch reaches each kind of output (:mod:`.transport`,
:mod:`.webhook`, :mod:`.brokers`). The ``deliverer`` service and the
``feedpipe outputs`` commands are built on it.
"""

from __future__ import annotations

from aiohttp import ClientSession

from shared.outputs.attempt import Attempt, Verdict
from shared.outputs.model import Filters, Output, OutputConfigError, OutputKind, OutputSpec
from shared.outputs.payload import sample_event
from shared.outputs.registry import OutputRegistry
from shared.outputs.transport import Delivery, Transport
from shared.settings import Settings


def open_transport(
    output: Output, settings: Settings, *, session: ClientSession | None = None
) -> Transport:
    """The transport of ``output``'s kind (``session``: a shared HTTP session
    for webhooks; without it the transport opens and closes its own)."""
    from shared.outputs.brokers import NatsTransport, RabbitTransport
    from shared.outputs.webhook import WebhookTransport

    if output.kind is OutputKind.WEBHOOK:
        return WebhookTransport(output, settings, session=session)
    if output.kind is OutputKind.RABBITMQ:
        return RabbitTransport(output, settings)
    return NatsTransport(output, settings)


async def send_sample(output: Output, settings: Settings) -> Attempt:
    """Send the sample article (:func:`shared.outputs.payload.sample_event`,
    marked as a test) to ``output`` once, without retries; the receiver's answer."""
    transport = open_transport(output, settings)
    try:
        return await transport.send(Delivery.of([sample_event()], test=True))
    finally:
        await transport.aclose()


__all__ = [
    "Attempt",
    "Delivery",
    "Filters",
    "Output",
    "OutputConfigError",
    "OutputKind",
    "OutputRegistry",
    "OutputSpec",
    "Transport",
    "Verdict",
    "open_transport",
    "send_sample",
]
