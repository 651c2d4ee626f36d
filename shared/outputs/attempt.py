"""What one delivery attempt came to, and what follows from it (pure).

* ``ok``: the receiver acknowledged the batch (any 2xx; a broker's confirm);
* ``throttled``: 429; wait what Retry-After says (capped), then try again;
  it does not count towards the attempts limit, a receiver that asks to slow
  down is not failing;
* ``gone``: 410; the receiver says it will never take deliveries again, so
  the output is disabled (the reason recorded) and its queue kept;
* ``error``: anything else (5xx, 408, timeouts, refused or reset connections,
  redirects, other 4xx): retried with exponential backoff and jitter until
  FEEDPIPE_DELIVERY_ATTEMPTS, then the batch is dead-lettered. Other 4xx are
  retried too: they are as often a receiver's passing misconfiguration (a 401
  after a secret rotation) as a refusal of the payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    OK = "ok"
    ERROR = "error"
    THROTTLED = "throttled"
    GONE = "gone"


ANSWER_CHARS = 500


@dataclass(frozen=True, slots=True)
class Attempt:
    verdict: Verdict
    detail: str = ""
    status: int | None = None
    retry_after: float | None = None
    answer: str = ""

    @property
    def retryable(self) -> bool:
        return self.verdict in (Verdict.ERROR, Verdict.THROTTLED)


def classify_http(status: int, *, retry_after: float | None = None, answer: str = "") -> Attempt:
    """The attempt a webhook's HTTP status makes (redirects are not followed:
    a 3xx is an error, since the receiver's URL is configured, not discovered)."""
    answer = answer[:ANSWER_CHARS]
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return Attempt(Verdict.OK, detail, status, answer=answer)
    if status == 429:
        return Attempt(Verdict.THROTTLED, detail, status, retry_after=retry_after, answer=answer)
    if status == 410:
        return Attempt(Verdict.GONE, detail, status, answer=answer)
    return Attempt(Verdict.ERROR, detail, status, answer=answer)
