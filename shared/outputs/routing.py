"""Pure routing decisions: does an output want an event, and under which
routing key or subject does it go (no I/O; tested without Redis or brokers)."""

from __future__ import annotations

import re

from shared.outputs.model import DEFAULT_ROUTING_KEY, Filters, Output
from shared.pipeline.events import ArticleCommitted

# What a template placeholder renders to when the event does not say.
UNKNOWN_LANG = "und"  # BCP 47 "undetermined"
UNKNOWN_FEED = "unknown"
# One word of an AMQP routing key or one token of a NATS subject: no dots,
# wildcards or spaces, whatever a feed id or language code holds.
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")


def wants(filters: Filters, event: ArticleCommitted) -> bool:
    """Whether an output with ``filters`` receives ``event`` (see :class:`Filters`)."""
    if filters.kind and event.kind not in filters.kind:
        return False
    article = event.article
    if article is None:  # a delete: nothing to filter by language or feed
        return True
    if filters.lang:
        lang = (article.language or "").lower()
        if not any(lang == want or lang.startswith(f"{want}-") for want in filters.lang):
            return False
    return not filters.feed or article.feed_id in filters.feed or article.feed_url in filters.feed


def _token(value: str) -> str:
    return _NOT_TOKEN.sub("_", value).strip("_") or "_"


def template_values(event: ArticleCommitted) -> dict[str, str]:
    article = event.article
    lang = (article.language if article else None) or UNKNOWN_LANG
    feed = article.feed_id if article else UNKNOWN_FEED
    return {"lang": _token(lang.lower()), "feed": _token(feed), "kind": event.kind.value}


def render(template: str, event: ArticleCommitted) -> str:
    """A routing key or subject for ``event`` (templates were checked when the
    output was added, see :func:`shared.outputs.model.template_fields`)."""
    return template.format_map(template_values(event))


def routing_key(output: Output, event: ArticleCommitted) -> str:
    return render(output.routing_key or DEFAULT_ROUTING_KEY, event)


def subject(output: Output, event: ArticleCommitted) -> str:
    assert output.subject is not None
    return render(output.subject, event)
