"""An output as the registry stores it: where committed articles go, which of
them, and how delivery to it is going.

Three kinds, each configured by ``feedpipe outputs add`` (or ``POST /outputs``):

* ``webhook``: batches of articles POSTed as JSON to a URL, signed with the
  output's secret when it has one (:mod:`shared.outputs.webhook`);
* ``rabbitmq``: one message per article to an exchange, with a routing key
  rendered from a template (:mod:`shared.outputs.brokers`);
* ``nats``: one JetStream message per article to a subject rendered from a
  template.

A secret (the webhook signing key; passwords inside broker URLs) is stored in
Redis, which every service already trusts, and never leaves it through
:meth:`Output.public`, logs or metrics: ``public()`` says ``set``/``unset`` for
the secret and masks the password and query values of the URL.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared.fetch.netguard import is_ip_literal, is_public_address
from shared.pipeline.events import CommitKind


class OutputKind(StrEnum):
    WEBHOOK = "webhook"
    RABBITMQ = "rabbitmq"
    NATS = "nats"


class OutputConfigError(ValueError):
    """An output that cannot work as configured (the message says why)."""


# Placeholders a routing key or subject template may use.
TEMPLATE_FIELDS = ("lang", "feed", "kind")
DEFAULT_ROUTING_KEY = "{lang}.{feed}"
FILTER_KEYS = ("lang", "feed", "kind")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


class Filters(BaseModel):
    """Which committed events an output receives.

    Values of one key are alternatives (``lang=fr lang=de``: French or German);
    different keys must all match (``lang=fr feed=X``: French articles of feed
    X). No value for a key admits everything. ``feed`` matches a feed id or
    feed URL. A ``delete`` event carries no article, so ``lang`` and ``feed``
    cannot exclude it: every output whose ``kind`` filter admits deletes gets
    them (dropping the delete of an id it never received is the receiver's
    cheap part).
    """

    model_config = ConfigDict(frozen=True)

    lang: tuple[str, ...] = ()
    feed: tuple[str, ...] = ()
    kind: tuple[CommitKind, ...] = ()

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...]) -> Filters:
        """From ``--filter key=value`` arguments; raises OutputConfigError."""
        found: dict[str, list[str]] = {key: [] for key in FILTER_KEYS}
        for item in items:
            key, sep, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise OutputConfigError(f"filter {item!r} is not key=value")
            if key not in found:
                raise OutputConfigError(
                    f"unknown filter {key!r}; choose one of {', '.join(FILTER_KEYS)}"
                )
            if key == "lang":
                value = value.lower()
                if not _LANG.match(value):
                    raise OutputConfigError(f"lang={value!r} is not a language code such as fr")
            if key == "kind" and value not in {k.value for k in CommitKind}:
                kinds = ", ".join(k.value for k in CommitKind)
                raise OutputConfigError(f"kind={value!r} is not one of {kinds}")
            if value not in found[key]:
                found[key].append(value)
        return cls(
            lang=tuple(found["lang"]),
            feed=tuple(found["feed"]),
            kind=tuple(CommitKind(v) for v in found["kind"]),
        )

    def describe(self) -> list[str]:
        """As ``key=value`` strings, the form ``--filter`` takes."""
        return [
            *(f"lang={v}" for v in self.lang),
            *(f"feed={v}" for v in self.feed),
            *(f"kind={v.value}" for v in self.kind),
        ]


class Output(BaseModel):
    """One output: its settings (fixed when added) and its delivery state
    (written by the deliverers; see :class:`shared.outputs.registry.OutputRegistry`)."""

    model_config = ConfigDict(frozen=True)

    output_id: str
    kind: OutputKind
    url: str
    name: str | None = None
    secret: SecretStr | None = Field(
        default=None, exclude=True, description="Webhook signing secret; never dumped."
    )
    exchange: str | None = Field(default=None, description="RabbitMQ exchange (topic).")
    routing_key: str | None = Field(default=None, description="RabbitMQ routing key template.")
    subject: str | None = Field(default=None, description="NATS subject template.")
    stream: str | None = Field(
        default=None, description="JetStream stream the deliverer creates when missing."
    )
    filters: Filters = Filters()
    created_at: datetime
    # --- state ---
    enabled: bool = True
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    delivered: int = Field(default=0, description="Items whose receipt was acknowledged.")
    last_delivered_at: datetime | None = None
    failures: int = Field(default=0, description="Failed attempts since the last success.")
    last_error: str | None = None
    last_error_at: datetime | None = None
    dead_lettered: int = 0
    skipped: int = Field(default=0, description="Events not queued because the backlog was full.")
    first_skipped_cursor: str | None = None

    @property
    def label(self) -> str:
        """The ``output`` label of its metrics and the key of its log lines."""
        return self.output_id

    @property
    def target(self) -> str:
        """Where it delivers, safe to log: scheme, host and port only (paths of
        webhook URLs often carry tokens)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        where = f"{parts.scheme}://{host}{port}"
        if self.kind is OutputKind.RABBITMQ:
            return f"{where} exchange {self.exchange}"
        if self.kind is OutputKind.NATS:
            return f"{where} subject {self.subject}"
        return where

    def public(self) -> dict[str, Any]:
        """The contract of ``feedpipe outputs list --json`` and ``GET /outputs``:
        everything but the secret (``set``/``unset``), with the URL redacted."""
        data = self.model_dump(mode="json", exclude={"output_id", "url", "filters"})
        return {
            "id": self.output_id,
            "url": redact_url(self.url),
            **data,
            "secret": "set" if self.secret is not None else "unset",
            "filters": self.filters.describe(),
        }


def redact_url(url: str) -> str:
    """``url`` with the password of its user info and every query value masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.partition(":")[0]
        netloc = f"{name}:***@{host}"
    query = parts.query
    if query:
        query = urlencode([(k, "***") for k, _ in parse_qsl(query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def template_fields(template: str) -> list[str]:
    """The placeholders of a routing key or subject template; raises
    OutputConfigError for anything but ``{lang}``, ``{feed}``, ``{kind}``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise OutputConfigError(f"template {template!r}: {exc}") from exc
    fields: list[str] = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or spec or conversion:
            raise OutputConfigError(
                f"template {template!r}: {{{field}}} is not one of"
                f" {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
            )
        fields.append(field)
    return fields


def nats_stream_subjects(subject: str) -> str:
    """The subject filter of a JetStream stream that holds every subject the
    template renders to: each placeholder token becomes ``*``.

    Raises OutputConfigError when a placeholder is only part of a token
    (``articles-{lang}``): JetStream wildcards match whole tokens only.
    """
    template_fields(subject)
    tokens = subject.split(".")
    out: list[str] = []
    for token in tokens:
        if not token or any(c in token for c in " *>\t"):
            raise OutputConfigError(f"subject {subject!r}: empty token or wildcard")
        if "{" in token:
            if token.strip("{}") not in TEMPLATE_FIELDS or not (
                token.startswith("{") and token.endswith("}")
            ):
                raise OutputConfigError(
                    f"subject {subject!r}: a placeholder must be a whole token, e.g."
                    " feedpipe.articles.{lang}"
                )
            out.append("*")
        else:
            out.append(token)
    return ".".join(out)


_SCHEMES = {
    OutputKind.WEBHOOK: ("http", "https"),
    OutputKind.RABBITMQ: ("amqp", "amqps"),
    OutputKind.NATS: ("nats", "tls"),
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class OutputSpec(BaseModel):
    """What an operator asks for when adding an output (``feedpipe outputs add``,
    ``POST /outputs``); :func:`new_output` checks it."""

    model_config = ConfigDict(frozen=True)

    kind: OutputKind
    url: str
    name: str | None = None
    secret: SecretStr | None = None
    exchange: str | None = None
    routing_key: str | None = None
    subject: str | None = None
    stream: str | None = None
    filters: Filters = Filters()


def new_output(
    spec: OutputSpec,
    *,
    output_id: str,
    created_at: datetime,
    allow_private_networks: bool = False,
) -> Output:
    """An output checked for everything that can be known before delivering:
    raises OutputConfigError naming the problem."""
    kind = spec.kind
    url = spec.url.strip()
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES[kind] or not parts.hostname:
        schemes = " or ".join(f"{s}://" for s in _SCHEMES[kind])
        raise OutputConfigError(f"a {kind.value} output needs a {schemes} URL, not {url!r}")
    if spec.name is not None and not _NAME.match(spec.name):
        raise OutputConfigError(f"name {spec.name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    secret = spec.secret.get_secret_value() if spec.secret is not None else None
    if secret is not None and kind is not OutputKind.WEBHOOK:
        raise OutputConfigError("--secret signs webhooks; broker credentials go in the URL")
    if secret is not None and not secret.strip():
        raise OutputConfigError("the secret is empty")
    broker_fields = {
        "--exchange": spec.exchange,
        "--routing-key": spec.routing_key,
        "--subject": spec.subject,
        "--stream": spec.stream,
    }
    if kind is OutputKind.WEBHOOK:
        _check_webhook_host(parts.hostname, allow_private_networks=allow_private_networks)
        _refuse(broker_fields, "broker outputs")
    elif kind is OutputKind.RABBITMQ:
        if not spec.exchange:
            raise OutputConfigError("a rabbitmq output needs --exchange")
        template_fields(spec.routing_key or DEFAULT_ROUTING_KEY)
        _refuse({k: broker_fields[k] for k in ("--subject", "--stream")}, "nats outputs")
    else:
        if not spec.subject:
            raise OutputConfigError("a nats output needs --subject, e.g. feedpipe.articles.{lang}")
        nats_stream_subjects(spec.subject)
        if not spec.stream or not _STREAM_NAME.match(spec.stream):
            raise OutputConfigError(
                "a nats output needs --stream NAME (letters, digits, '_', '-'): the JetStream"
                " stream that holds its subjects, created when missing"
            )
        _refuse({k: broker_fields[k] for k in ("--exchange", "--routing-key")}, "rabbitmq outputs")
    routing_key = spec.routing_key or DEFAULT_ROUTING_KEY
    return Output(
        output_id=output_id,
        kind=kind,
        url=url,
        name=spec.name,
        secret=spec.secret,
        exchange=spec.exchange,
        routing_key=routing_key if kind is OutputKind.RABBITMQ else None,
        subject=spec.subject,
        stream=spec.stream,
        filters=spec.filters,
        created_at=created_at,
    )


def _refuse(given: dict[str, str | None], belongs_to: str) -> None:
    flags = [flag for flag, value in given.items() if value]
    if flags:
        raise OutputConfigError(f"{', '.join(flags)}: only for {belongs_to}")


def _check_webhook_host(host: str, *, allow_private_networks: bool) -> None:
    """Refuse loopback/private literal addresses and localhost up front; names
    are checked again on every connection by the SSRF guard (the address they
    resolve to then), see shared.fetch.netguard."""
    if allow_private_networks:
        return
    lowered = host.lower().rstrip(".")
    if (
        lowered == "localhost"
        or lowered.endswith(".localhost")
        or (is_ip_literal(host) and not is_public_address(host))
    ):
        raise OutputConfigError(
            f"{host} is not a public address (webhook targets pass the SSRF guard;"
            " FEEDPIPE_ALLOW_PRIVATE_NETWORKS=true allows private ones)"
        )
