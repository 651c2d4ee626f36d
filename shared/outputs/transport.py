"""How a batch reaches an output: one transport per output kind, all with the
same two calls, so the deliverer's retry and acknowledgement logic is the same
for every kind (:mod:`shared.outputs.webhook`, :mod:`shared.outputs.brokers`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.outputs.attempt import Attempt
from shared.outputs.payload import encode_item, new_delivery_id
from shared.pipeline.events import ArticleCommitted


@dataclass(frozen=True, slots=True)
class Delivery:
    """One batch on its way to an output. Its id stays the same across the
    retries of the batch (the ``webhook-id`` header), so a receiver can tell a
    retry from a new batch."""

    events: Sequence[ArticleCommitted]
    items: Sequence[bytes]
    delivery_id: str = field(default_factory=new_delivery_id)
    test: bool = False

    @classmethod
    def of(cls, events: Sequence[ArticleCommitted], *, test: bool = False) -> Delivery:
        return cls(events=events, items=[encode_item(e) for e in events], test=test)


class Transport(Protocol):
    async def send(self, delivery: Delivery) -> Attempt:
        """Deliver the batch once; never raises for what the receiver or the
        network does (that is the returned attempt's verdict and detail)."""
        ...

    async def aclose(self) -> None: ...


def describe(exc: BaseException) -> str:
    """An exception as one line: its type and message."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
