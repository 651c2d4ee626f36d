"""Redis connections: one place that knows the URL, the topology and the retry policy.

``FEEDPIPE_REDIS_URL`` selects the topology:

* ``redis://[user:pass@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path``:
  one server (redis-py's own URL parsing);
* ``redis+sentinel://[user:pass@]host:port[,host:port…]/service_name[/db]``
  (``rediss+sentinel://`` for TLS to the master): the master of ``service_name``
  as reported by the listed Sentinels, re-discovered on every reconnect;
* ``redis+cluster://[user:pass@]host:port[,host:port…]`` (``rediss+cluster://``):
  a Redis Cluster, seeded from the listed nodes. feedpipe then puts a hash tag
  in its key prefix (see :mod:`shared.pipeline.streams`) so every key is in one slot.

redis-py parses neither multi-host form, so :func:`parse_redis_url` does (a
dozen lines of ``urllib.parse``); everything else is redis-py's clients.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import (
    AbstractStrategy,
    ClusterNode,
    ClusterPipeline,
    RedisCluster,
    TransactionStrategy,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.pipeline import streams
from shared.settings import Settings


def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes responses or not."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


DEFAULT_LOCAL_URL = "redis://127.0.0.1:6379/0"
RUNTIME_URL_FILE = "redis.url"

Topology = Literal["single", "sentinel", "cluster"]


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where Redis is: one server (``url``), a Sentinel-managed master, or a Cluster."""

    topology: Topology
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_redis_url(url: str) -> RedisTarget:
    """Split a feedpipe Redis URL into its topology (see the module docstring)."""
    scheme, _, rest = url.partition("://")
    base, plus, kind = scheme.partition("+")
    if not plus:
        return RedisTarget("single", url, tls=scheme == "rediss")
    if base not in ("redis", "rediss") or kind not in ("sentinel", "cluster"):
        raise ValueError(f"unsupported Redis URL scheme {scheme!r}")
    parts = urlsplit(f"redis://{rest}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes = tuple(_host_port(item) for item in hosts.split(",") if item)
    if not nodes:
        raise ValueError(f"no host:port in Redis URL {scheme}://…")
    path = [p for p in parts.path.split("/") if p]
    if kind == "cluster":
        if path not in ([], ["0"]):
            raise ValueError("a Redis Cluster URL takes no service name and only db 0")
        return RedisTarget("cluster", url, nodes, None, 0, username, password, tls=base == "rediss")
    if not path or len(path) > 2:
        raise ValueError("a Sentinel URL needs /service_name[/db] after the hosts")
    db = int(path[1]) if len(path) == 2 else 0
    return RedisTarget(
        "sentinel", url, nodes, unquote(path[0]), db, username, password, tls=base == "rediss"
    )


def _host_port(item: str) -> tuple[str, int]:
    host, colon, port = item.rpartition(":")
    if not colon or not port.isdigit():
        raise ValueError(f"expected host:port in a Redis URL, got {item!r}")
    return host.strip("[]"), int(port)


def runtime_url_file(settings: Settings) -> Path:
    """Where ``feedpipe up`` writes the URL of the embedded redis-server it started."""
    return settings.data_dir / RUNTIME_URL_FILE


def redis_url(settings: Settings) -> str:
    """FEEDPIPE_REDIS_URL, else the embedded server of a running ``feedpipe up``
    (so ``feedpipe feeds add`` in another terminal finds it), else localhost."""
    if settings.redis_url:
        return settings.redis_url
    marker = runtime_url_file(settings)
    if marker.is_file():
        url = marker.read_text().strip()
        if url:
            return url
    return DEFAULT_LOCAL_URL


def redis_target(settings: Settings) -> RedisTarget:
    target = parse_redis_url(redis_url(settings))
    if target.topology == "cluster" and not streams.PREFIX.startswith("{"):
        # streams.PREFIX is fixed at import from FEEDPIPE_REDIS_URL; a cluster
        # URL given only in code would leave keys spread over many slots and
        # break every MULTI/EXEC and script that spans several keys.
        raise ValueError(
            "Redis Cluster needs FEEDPIPE_REDIS_URL=redis+cluster://… in the environment"
            " before feedpipe is imported (it selects the {feedpipe} key hash tag)"
        )
    return target


def _route(numkeys: int, keys_and_args: tuple[Any, ...]) -> tuple[Any, ...]:
    """EVALSHA arguments with a script that declares no keys bound to feedpipe's slot.

    Scripts such as the deduplicator's compute their key names from a prefix;
    with no declared key redis-py sends them to a random node. Declaring the
    bare prefix as KEYS[1] (never read; ARGV is unchanged) routes them to the
    node that owns every ``{feedpipe}`` key."""
    if numkeys:
        return (numkeys, *keys_and_args)
    return (1, streams.PREFIX, *keys_and_args)


class _Queued:
    """What a queued pipeline command returns: awaitable (redis-py's AsyncScript
    awaits ``client.evalsha(...)``) without awaiting the pipeline itself, whose
    ``__await__`` re-initialises it and drops every command queued so far."""

    def __init__(self, pipe: ClusterPipeline) -> None:
        self._pipe = pipe

    def __await__(self) -> Generator[Any, None, ClusterPipeline]:
        return self._pipe
        yield  # pragma: no cover - makes this a generator


class _ClusterPipeline(ClusterPipeline):
    """redis-py's cluster pipeline, with EVALSHA allowed.

    redis-py refuses EVALSHA in cluster pipelines (it cannot know that a script
    stays in one slot). feedpipe's scripts do: every key they touch carries the
    ``{feedpipe}`` hash tag. Like redis-py's single-node Pipeline, the scripts
    queued are loaded (SCRIPT EXISTS, then SCRIPT LOAD on every primary) before
    the pipeline runs, so a NOSCRIPT can never hit the middle of a MULTI/EXEC.
    """

    def __init__(self, client: FeedpipeCluster, transaction: bool | None = None) -> None:
        super().__init__(client, transaction)
        self._owner = client
        self._shas: set[str] = set()

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """Queue a command of a MULTI/EXEC without redis-py's helper thread.

        redis-py's TransactionStrategy resolves each queued command's slot in a
        new thread running its own event loop (~400 µs of client CPU per command
        here, against ~17 µs on one server, and connections opened on that loop
        break ``aclose()``). The slot of a queued command is that of its first
        key, computed locally by CRC16; Redis itself still checks the others
        (a CROSSSLOT error aborts the whole EXEC, so nothing half-applies).
        Tied to redis-py's strategy internals: redis is pinned in uv.lock, and
        tests/e2e/test_redis_cluster.py exercises this path."""
        strategy = self._execution_strategy
        name = str(args[0]).upper()
        if (
            isinstance(strategy, TransactionStrategy)
            and not strategy._watching
            and name not in strategy.IMMEDIATE_EXECUTE_COMMANDS
            and len(args) > 1
        ):
            key = args[3] if name in ("EVAL", "EVALSHA") and len(args) > 3 else args[1]
            strategy._pipeline_slots.add(self._owner.keyslot(key))
            AbstractStrategy.execute_command(strategy, *args, **kwargs)
            return self
        return super().execute_command(*args, **kwargs)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> _Queued:
        self._shas.add(sha)
        self.execute_command("EVALSHA", sha, *_route(numkeys, keys_and_args))
        return _Queued(self)

    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        if self._owner._initialize:  # the queued commands did not connect (see above)
            await self._owner.initialize()
        shas, self._shas = self._shas, set()
        if shas:
            await self._owner.load_scripts(shas)
        return await super().execute(raise_on_error, allow_redirections)


class FeedpipeCluster(RedisCluster):
    """RedisCluster that knows the scripts registered on it (to load them before
    a pipeline uses them) and runs key-less scripts in feedpipe's slot."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._script_texts: dict[str, str] = {}

    def register_script(self, script: Any) -> AsyncScript:  # type: ignore[override]
        registered = AsyncScript(self, script)
        self._script_texts[registered.sha] = (
            registered.script.decode()
            if isinstance(registered.script, bytes)
            else str(registered.script)
        )
        return registered

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute_command("EVALSHA", sha, *_route(numkeys, keys_and_args))

    async def load_scripts(self, shas: set[str]) -> None:
        known = [sha for sha in shas if sha in self._script_texts]
        if not known:
            return
        exists = await self.script_exists(*known)
        for sha, present in zip(known, exists, strict=True):
            if not present:
                await self.script_load(self._script_texts[sha])

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            raise ValueError("shard_hint is not supported in cluster mode")
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]


def _retry_options() -> dict[str, Any]:
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=6),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 15,
        "socket_keepalive": True,
    }


def make_redis(
    settings: Settings, *, decode: bool = False, max_connections: int | None = None
) -> Redis:
    """An asyncio client that reconnects with jittered backoff instead of failing fast.

    With ``max_connections``, callers beyond that many concurrent commands wait
    for a free connection (BlockingConnectionPool) instead of failing with
    "Too many connections" (the default pool's behaviour at 100). On Sentinel
    and Cluster it is the per-node pool size.

    On a Cluster the client is a :class:`redis.asyncio.cluster.RedisCluster`:
    it has the same command methods, pipelines (MULTI/EXEC when every key is in
    one slot) and scripts as :class:`Redis`, so callers keep the ``Redis`` type.
    """
    target = redis_target(settings)
    options: dict[str, Any] = {"decode_responses": decode, **_retry_options()}
    if target.topology == "cluster":
        cluster = FeedpipeCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            username=target.username,
            password=target.password,
            ssl=target.tls,
            max_connections=max_connections or 100,
            **options,
        )
        return cast(Redis, cluster)
    if target.topology == "sentinel":
        assert target.service is not None
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes),
            # The Sentinels themselves: plain TCP, no auth, bounded timeouts.
            sentinel_kwargs={"socket_timeout": 2.0, "socket_connect_timeout": 2.0},
            username=target.username,
            password=target.password,
            ssl=target.tls,
            db=target.db,
            **options,
        )
        extra: dict[str, Any] = (
            {} if max_connections is None else {"max_connections": max_connections}
        )
        return cast(Redis, sentinel.master_for(target.service, **extra))
    if max_connections is None:
        return Redis.from_url(target.url, **options)
    pool = BlockingConnectionPool.from_url(
        target.url, max_connections=max_connections, timeout=30, **options
    )
    client = Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() closes the pool, as from_url does
    return client
