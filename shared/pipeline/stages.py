"""Every feedpipe service, and every stream between them, declared once.

Everything that lists services or stages reads it from here: ``feedpipe run``
and ``feedpipe up`` (:data:`SERVICES`), ``feedpipe asyncapi`` (:data:`WORKERS`),
the consumer groups every service creates at start, ``feedpipe status`` and
``feedpipe dlq`` (:data:`STAGES`), the Grafana job selector and the deploy tests.
A worker's ``main.py`` builds its runtime from its declaration
(``ServiceRuntime(stages.PARSER)``, then ``runtime.consume(handler)``), which
names its input stream and group, its outputs and its settings.

Three kinds, each a frozen dataclass:

* :class:`Service`: a program ``feedpipe run <name>`` starts from
  ``services/<name>/main.py`` (the api: its ``main()``, FastAPI with
  ``/metrics`` and health on its own port).
* :class:`Worker`: a service on the pipeline runtime: the ``build()`` of its
  ``main.py`` returns the :class:`shared.pipeline.service.ServiceRuntime` that
  ``feedpipe run`` runs and ``feedpipe asyncapi`` documents, a FastStream app
  with ``/metrics``, ``/healthz`` and ``/readyz`` on its metrics port. It
  declares the streams it writes and how many items it takes at once (the
  poller: due feeds per claim).
* :class:`Stage`: a worker that reads a stream through a consumer group of its
  own, with retries and a dead-letter stream (:mod:`shared.pipeline.stage`).

Per-stage settings are functions of :class:`shared.settings.Settings` declared
with the stage (``batch_size``) or with the stream (``keep``), so no code asks
"is this the parser?".

Adding a stage (say a ``summarizer`` reading a new ``summaries`` stream):

1. name the stream in :mod:`shared.pipeline.streams` and its event model in
   :mod:`shared.pipeline.events`;
2. declare it here as a :class:`Stream` and add it to the ``outputs`` of the
   worker that writes it;
3. declare ``SUMMARIZER = Stage(name="summarizer", input=SUMMARIES_STREAM,
   metrics_port=<the next free port>)`` and add it to :data:`SERVICES`;
4. write ``services/summarizer/main.py`` whose ``build()`` returns
   ``ServiceRuntime(stages.SUMMARIZER)`` with its handler given to ``consume``.

Its consumer group (named after it), ``feedpipe run|up|status|dlq`` and its
metrics port then follow. Generated files follow once regenerated (tests fail
while they are stale): ``feedpipe asyncapi`` and ``deploy/grafana/generate.py``.
The Compose, Kubernetes and Prometheus files are written by hand; the deploy
tests fail until they name the new service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

from shared.pipeline import streams
from shared.pipeline.events import ArticleCommitted, ArticleParsed, ArticleUnique, FeedFetched
from shared.settings import Settings

E = TypeVar("E", bound=BaseModel)
S = TypeVar("S", bound="Service")

PerSettings = Callable[[Settings], int]


def _common_batch_size(settings: Settings) -> int:
    return settings.batch_size


def _common_stream_keep(settings: Settings) -> int:
    return settings.stream_maxlen


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream(Generic[E]):
    """A stream between workers: its key, the event each entry carries, what an
    entry means (the AsyncAPI description of the stream), and how many
    acknowledged entries it keeps when trimmed (FEEDPIPE_STREAM_MAXLEN unless
    declared otherwise). The last belongs to the stream, not to one reader: it
    is trimmed only behind its slowest group."""

    name: str
    model: type[E]
    description: str
    keep: PerSettings = _common_stream_keep


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A program ``feedpipe run <name>`` starts from ``services/<name>/main.py``."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Worker(Service):
    """A service on the pipeline runtime.

    ``metrics_port`` serves ``/metrics``, ``/healthz`` and ``/readyz`` when
    FEEDPIPE_METRICS_PORT is unset; each worker has its own so that
    ``feedpipe up`` runs them all on one host. ``batch_size`` is how many items
    it takes at once: stream entries per read for a stage, due feeds per claim
    for the poller.
    """

    metrics_port: int
    outputs: tuple[Stream[Any], ...] = ()
    batch_size: PerSettings = _common_batch_size

    def port(self, settings: Settings) -> int:
        """Where this worker serves ``/metrics`` and health."""
        return self.metrics_port if settings.metrics_port is None else settings.metrics_port


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage(Worker, Generic[E]):
    """A worker that reads ``input`` through a consumer group named after it;
    its failures go to the dead-letter stream ``streams.dlq_stream(name)``."""

    input: Stream[E]

    @property
    def group(self) -> str:
        """The stage's consumer group on ``input``, shared by its replicas."""
        return self.name


FETCHED_STREAM: Final = Stream(
    name=streams.FETCHED,
    model=FeedFetched,
    description="Feed documents that changed since their last poll (304s and same-hash bodies"
    " are not published).",
    # Whole feed documents: a few hundred kept are worth as much as 100,000 articles.
    keep=lambda s: s.fetched_maxlen,
)
PARSED_STREAM: Final = Stream(
    name=streams.PARSED,
    model=ArticleParsed,
    description="One normalised article per new or changed feed entry (full text when fetched).",
)
UNIQUE_STREAM: Final = Stream(
    name=streams.UNIQUE,
    model=ArticleUnique,
    description="Each story once: new and updated articles, and duplicates linked to their"
    " cluster.",
)
COMMITTED_STREAM: Final = Stream(
    name=streams.COMMITTED,
    model=ArticleCommitted,
    description="What the index committed, in commit order: new and updated articles,"
    " duplicates joined to a cluster, deletions (the public output contract, docs/EVENTS.md).",
)

POLLER: Final = Worker(
    name="poller",
    metrics_port=9101,
    outputs=(FETCHED_STREAM,),
    batch_size=lambda s: s.poll_batch_size or s.batch_size,
)
PARSER: Final = Stage(
    name="parser",
    input=FETCHED_STREAM,
    metrics_port=9102,
    outputs=(PARSED_STREAM,),
    # A feed document holds many entries: see Settings.parser_batch_size.
    batch_size=lambda s: s.parser_batch_size or s.batch_size,
)
DEDUPLICATOR: Final = Stage(
    name="deduplicator",
    input=PARSED_STREAM,
    metrics_port=9103,
    outputs=(UNIQUE_STREAM,),
)
INDEXER: Final = Stage(
    name="indexer",
    input=UNIQUE_STREAM,
    metrics_port=9104,
    # The public output contract of issue 16: one ArticleCommitted per change
    # the index committed (docs/EVENTS.md).
    outputs=(COMMITTED_STREAM,),
)
# Routes each committed event to the queue of every output that wants it, and
# delivers each output's queue on its own (services/deliverer).
DELIVERER: Final = Stage(
    name="deliverer",
    input=COMMITTED_STREAM,
    metrics_port=9105,
)
# FastAPI under uvicorn, with /metrics and health on FEEDPIPE_API_PORT.
API: Final = Service(name="api")

# Every service, in pipeline order (the order `feedpipe up` starts them in).
SERVICES: Final[tuple[Service, ...]] = (POLLER, PARSER, DEDUPLICATOR, INDEXER, DELIVERER, API)
WORKERS: Final[tuple[Worker, ...]] = tuple(s for s in SERVICES if isinstance(s, Worker))
STAGES: Final[tuple[Stage[Any], ...]] = tuple(s for s in SERVICES if isinstance(s, Stage))


def names(services: Iterable[Service]) -> tuple[str, ...]:
    return tuple(service.name for service in services)


def named(services: Iterable[S], name: str, *, kind: str = "service") -> S:
    """The declaration called ``name`` among ``services``.

    Raises LookupError naming the choices, e.g. ``unknown stage 'parsr'; choose
    one of parser, deduplicator, indexer``.
    """
    found = {service.name: service for service in services}
    if name not in found:
        raise LookupError(f"unknown {kind} {name!r}; choose one of {', '.join(found)}")
    return found[name]
