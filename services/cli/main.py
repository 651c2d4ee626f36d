"""The ``feedpipe`` command line (typer + rich)."""

from __future__ import annotations

import asyncio
import html
import importlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from shared.feeds import FeedRegistry
from shared.outputs import Filters, OutputConfigError, OutputKind, OutputRegistry, OutputSpec
from shared.pipeline import stages
from shared.pipeline.events import FullContent
from shared.pipeline.redisconn import make_redis, runtime_url_file
from shared.settings import Settings, get_settings

app = typer.Typer(help="feedpipe: event-driven feed ingestion.", no_args_is_help=True)
feeds_app = typer.Typer(help="Manage the feed registry.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)
outputs_app = typer.Typer(
    help="Where committed articles go: webhooks, RabbitMQ, NATS.", no_args_is_help=True
)
app.add_typer(feeds_app, name="feeds")
app.add_typer(dlq_app, name="dlq")
app.add_typer(outputs_app, name="outputs")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

SERVICES = stages.names(stages.SERVICES)


def _with_redis(func: Callable[[Redis, Settings], Awaitable[T]]) -> T:
    settings = get_settings()

    async def runner() -> T:
        redis = make_redis(settings)
        try:
            return await func(redis, settings)
        finally:
            await redis.aclose()

    return asyncio.run(runner())


# --- running ------------------------------------------------------------------


@app.command()
def run(service: Annotated[str, typer.Argument(help=" | ".join(SERVICES))]) -> None:
    """Run one service in the foreground (what each container runs)."""
    try:
        declared = stages.named(stages.SERVICES, service)
    except LookupError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc
    # Services are separate programs: the launcher only knows their module name.
    module = importlib.import_module(f"services.{service}.main")
    if isinstance(declared, stages.Worker):
        module.build().run()  # the worker's runtime, wired from its declaration
    else:
        module.main()


def _parse_scale(values: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in SERVICES or not count.isdigit():
            raise typer.BadParameter(f"--scale takes SERVICE=N with SERVICE in {SERVICES}")
        scale[name] = int(count)
    return scale


@app.command()
def up(
    scale: Annotated[
        list[str] | None, typer.Option(help="SERVICE=N replicas, e.g. --scale parser=2")
    ] = None,
    feeds: Annotated[Path | None, typer.Option(help="OPML file to import before starting.")] = None,
) -> None:
    """Start the whole pipeline locally: embedded Redis and SQLite unless configured."""
    from services.cli.embedded import EmbeddedRedis
    from services.cli.supervisor import Supervisor

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("FEEDPIPE_DATA_DIR", str(settings.data_dir.resolve()))
    embedded: EmbeddedRedis | None = None
    marker = runtime_url_file(settings)
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        embedded.start()
        marker.write_text(embedded.url)
        env["FEEDPIPE_REDIS_URL"] = embedded.url
        err.print(f"[bold]Embedded Redis[/] at {embedded.url} (AOF in {embedded.dir})")
    err.print(f"[bold]Index[/] {settings.resolved_index_url}")
    err.print(f"[bold]API[/] http://{settings.api_host}:{settings.api_port}/")
    try:
        if feeds is not None:
            os.environ["FEEDPIPE_REDIS_URL"] = env.get("FEEDPIPE_REDIS_URL", "")
            get_settings.cache_clear()
            import_feeds(feeds, interval=None)
        asyncio.run(Supervisor(scale=_parse_scale(scale or []), env=env).run())
    finally:
        if embedded is not None:
            embedded.stop()
            marker.unlink(missing_ok=True)


# --- feeds --------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    interval: Annotated[float | None, typer.Option(help="Fixed poll interval (s).")] = None,
    full_content: Annotated[FullContent, typer.Option(help="Fetch article pages.")] = (
        FullContent.AUTO
    ),
    title: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register a feed (adding a known URL updates its settings)."""

    async def go(redis: Redis, settings: Settings) -> None:
        feed, created = await FeedRegistry(redis).add(
            url, interval=interval, full_content=full_content, title=title, category=category
        )
        verb = "Added" if created else "Updated"
        console.print(f"{verb} feed [bold]{feed.feed_id}[/] {feed.url}")

    _with_redis(go)


@feeds_app.command("import")
def feeds_import(
    file: Path,
    interval: Annotated[float | None, typer.Option(help="Fixed poll interval (s).")] = None,
) -> None:
    """Import an OPML file (nested outlines become categories)."""
    import_feeds(file, interval=interval)


def import_feeds(file: Path, *, interval: float | None) -> None:
    from services.cli.opml import parse_opml

    entries = parse_opml(file.read_bytes())

    async def go(redis: Redis, settings: Settings) -> None:
        registry = FeedRegistry(redis)
        created = 0
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("Importing feeds", total=len(entries))
            for entry in entries:
                _, new = await registry.add(
                    entry.url,
                    interval=interval,
                    title=entry.title,
                    category=entry.category,
                    site_url=entry.site_url,
                )
                created += int(new)
                progress.advance(task)
        console.print(f"Imported {len(entries)} feeds ({created} new) from {file}")

    _with_redis(go)


@feeds_app.command("export")
def feeds_export(
    file: Annotated[Path | None, typer.Argument(help="Output file (default stdout).")] = None,
) -> None:
    """Export the registry as OPML."""
    from services.cli.opml import render_opml

    async def go(redis: Redis, settings: Settings) -> bytes:
        feeds = await FeedRegistry(redis).all()
        return render_opml(feeds, title="feedpipe subscriptions")

    data: bytes = _with_redis(go)
    if file is None:
        sys.stdout.buffer.write(data)
    else:
        file.write_bytes(data)


@feeds_app.command("list")
def feeds_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    errors: Annotated[bool, typer.Option("--errors", help="Only feeds in error.")] = False,
) -> None:
    """Feeds with their health."""

    async def go(redis: Redis, settings: Settings) -> list[Any]:
        return await FeedRegistry(redis).all()

    feeds = _with_redis(go)
    if errors:
        feeds = [f for f in feeds if not f.healthy]
    if as_json:
        sys.stdout.write(json.dumps([f.public() for f in feeds], indent=2) + "\n")
        return
    table = Table(title=f"{len(feeds)} feeds", expand=True)
    columns = ("id", "url", "status", "errors", "last polled", "next poll", "last error", "warning")
    for column in columns:
        table.add_column(column, overflow="fold")
    for feed in feeds:
        data = feed.public()
        style = "red" if not feed.healthy else "yellow" if feed.warning else None
        status = data["last_status"] + ("" if feed.enabled else " (disabled)")
        table.add_row(
            feed.feed_id,
            feed.url,
            status,
            str(feed.error_count),
            data["last_polled_at"] or "-",
            data["next_poll_at"] or "-",
            feed.last_error or "",
            feed.warning or "",
            style=style,
        )
    console.print(table)


@feeds_app.command("remove")
def feeds_remove(ref: Annotated[str, typer.Argument(help="Feed id or URL.")]) -> None:
    """Remove a feed."""

    async def go(redis: Redis, settings: Settings) -> bool:
        return await FeedRegistry(redis).remove(ref)

    if not _with_redis(go):
        err.print(f"[red]no feed {ref!r}[/]")
        raise typer.Exit(1)
    console.print(f"Removed {ref}")


def _set_enabled(ref: str, enabled: bool) -> None:
    async def go(redis: Redis, settings: Settings) -> bool:
        registry = FeedRegistry(redis)
        feed_id = await registry.resolve(ref)
        if feed_id is None:
            return False
        await registry.set_enabled(feed_id, enabled)
        return True

    if not _with_redis(go):
        err.print(f"[red]no feed {ref!r}[/]")
        raise typer.Exit(1)
    console.print(f"{'Enabled' if enabled else 'Disabled'} {ref}")


@feeds_app.command("enable")
def feeds_enable(ref: str) -> None:
    """Enable a feed and poll it now."""
    _set_enabled(ref, True)


@feeds_app.command("disable")
def feeds_disable(ref: str) -> None:
    """Stop polling a feed (kept in the registry)."""
    _set_enabled(ref, False)


@feeds_app.command("poll")
def feeds_poll(ref: Annotated[str, typer.Argument(help="Feed id or URL, or 'all'.")]) -> None:
    """Make a feed (or all) due now."""

    async def go(redis: Redis, settings: Settings) -> int:
        registry = FeedRegistry(redis)
        if ref == "all":
            ids = await registry.ids()
        else:
            found = await registry.resolve(ref)
            ids = [found] if found else []
        await registry.poll_now(ids)
        return len(ids)

    count = _with_redis(go)
    console.print(f"{count} feed(s) due now")


# --- outputs ------------------------------------------------------------------


@outputs_app.command("add")
def outputs_add(
    kind: Annotated[OutputKind, typer.Argument(help="webhook | rabbitmq | nats")],
    url: Annotated[str, typer.Argument(help="https://…, amqp://user:pass@host/vhost, nats://…")],
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", help="key=value with key lang, feed (id or URL) or kind; repeatable."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to refer to it by.")] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="FEEDPIPE_OUTPUT_SECRET",
            help="webhook: signing secret (or whsec_<base64>); never shown again.",
        ),
    ] = None,
    exchange: Annotated[str | None, typer.Option(help="rabbitmq: topic exchange.")] = None,
    routing_key: Annotated[
        str | None, typer.Option(help="rabbitmq: routing key template; default {lang}.{feed}.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="nats: subject template, e.g. feedpipe.articles.{lang}.")
    ] = None,
    stream: Annotated[
        str | None, typer.Option(help="nats: JetStream stream (created when missing).")
    ] = None,
) -> None:
    """Add an output: it receives every article committed from now on that its
    filters admit (templates take {lang}, {feed} and {kind})."""
    try:
        spec = OutputSpec(
            kind=kind,
            url=url,
            name=name,
            secret=secret,
            exchange=exchange,
            routing_key=routing_key,
            subject=subject,
            stream=stream,
            filters=Filters.parse(filters or []),
        )
    except OutputConfigError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc

    async def go(redis: Redis, settings: Settings) -> Any:
        return await OutputRegistry(redis).add(
            spec, allow_private_networks=settings.allow_private_networks
        )

    try:
        output = _with_redis(go)
    except OutputConfigError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from exc
    console.print(
        f"Added {output.kind.value} output [bold]{output.output_id}[/]"
        f" ({escape(output.target)}), filters: {' '.join(output.filters.describe()) or 'none'}"
    )


@outputs_app.command("list")
def outputs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Outputs with their state, backlog (lag) and delivery health; secrets show as set/unset."""
    from services.cli.outputs import list_outputs

    _with_redis(lambda redis, settings: list_outputs(redis, console, as_json=as_json))


@outputs_app.command("remove")
def outputs_remove(ref: Annotated[str, typer.Argument(help="Output id or name.")]) -> None:
    """Remove an output and its undelivered backlog."""

    async def go(redis: Redis, settings: Settings) -> Any:
        return await OutputRegistry(redis).remove(ref)

    if _with_redis(go) is None:
        err.print(f"[red]no output {escape(ref)!r}[/]")
        raise typer.Exit(1)
    console.print(f"Removed output {escape(ref)}")


def _set_output_enabled(ref: str, enabled: bool) -> None:
    async def go(redis: Redis, settings: Settings) -> bool:
        registry = OutputRegistry(redis)
        output = await registry.resolve(ref)
        if output is None:
            return False
        reason = None if enabled else "disabled by an operator"
        return await registry.set_enabled(output.output_id, enabled, reason=reason)

    if not _with_redis(go):
        err.print(f"[red]no output {escape(ref)!r}[/]")
        raise typer.Exit(1)
    console.print(f"{'Enabled' if enabled else 'Disabled'} output {escape(ref)}")


@outputs_app.command("enable")
def outputs_enable(ref: str) -> None:
    """Deliver to an output again (its queued backlog first)."""
    _set_output_enabled(ref, True)


@outputs_app.command("disable")
def outputs_disable(ref: str) -> None:
    """Stop delivering to an output; what is already queued for it is kept."""
    _set_output_enabled(ref, False)


@outputs_app.command("test")
def outputs_test(ref: Annotated[str, typer.Argument(help="Output id or name.")]) -> None:
    """Send a signed sample article once and print the receiver's answer."""
    from services.cli.outputs import print_attempt
    from shared.outputs import Verdict, send_sample

    async def go(redis: Redis, settings: Settings) -> Any:
        output = await OutputRegistry(redis).resolve(ref)
        if output is None:
            return None
        return output, await send_sample(output, settings)

    found = _with_redis(go)
    if found is None:
        err.print(f"[red]no output {escape(ref)!r}[/]")
        raise typer.Exit(1)
    output, attempt = found
    print_attempt(console, output, attempt)
    if attempt.verdict is not Verdict.OK:
        raise typer.Exit(1)


# --- search -------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[
        list[str], typer.Argument(help="Words; quotes for phrases, -word to exclude.")
    ],
    limit: Annotated[int, typer.Option(min=1, max=200)] = 10,
    lang: Annotated[str | None, typer.Option(help="Only this language (e.g. fr).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Full-text search of indexed articles."""
    from shared.index import QuerySyntaxError, open_index

    settings = get_settings()
    text = " ".join(query)

    async def go() -> Any:
        index = open_index(settings.resolved_index_url)
        try:
            await index.setup()
            return await index.search(text, limit=limit, lang=lang)
        finally:
            await index.close()

    try:
        page = asyncio.run(go())
    except QuerySyntaxError as exc:
        err.print(f"[red]bad query: {exc}[/]")
        raise typer.Exit(2) from exc
    if as_json:
        sys.stdout.write(page.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"{page.total} results for {text!r}", expand=True, show_lines=True)
    table.add_column("published", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("title / snippet", ratio=3)
    table.add_column("sources", justify="right")
    table.add_column("url", overflow="fold", ratio=2)
    for hit in page.hits:
        published = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "-"
        table.add_row(
            published,
            hit.language or "-",
            f"[bold]{hit.title}[/]\n{_plain_snippet(hit.snippet)}",
            str(1 + hit.duplicates),
            hit.url or "",
        )
    console.print(table)


def _plain_snippet(snippet: str) -> str:
    """The API's HTML snippet (escaped text, matches in <mark>) as rich markup."""
    parts = re.split(r"(</?mark>)", snippet)
    out: list[str] = []
    for part in parts:
        if part == "<mark>":
            out.append("[reverse]")
        elif part == "</mark>":
            out.append("[/reverse]")
        else:
            out.append(escape(html.unescape(part)))
    return "".join(out)


# --- status and dead letters ----------------------------------------------------


@app.command()
def status(
    watch: Annotated[bool, typer.Option("--watch/--once", help="Refresh live.")] = True,
    interval: Annotated[float, typer.Option(help="Refresh every N seconds.")] = 2.0,
) -> None:
    """Per stage: throughput, stream lag and pending, DLQ size; feeds in error."""
    from services.cli.status import show_status

    _with_redis(lambda redis, settings: show_status(redis, console, watch=watch, interval=interval))


@app.command()
def asyncapi(
    out: Annotated[Path, typer.Option(help="Directory for <service>.json.")] = Path(
        "docs/asyncapi"
    ),
) -> None:
    """Write each worker's AsyncAPI document, generated from its FastStream app."""
    from services.cli.asyncapi import write_all

    for path in write_all(out):
        console.print(f"Wrote {path}")


@dlq_app.command("list")
def dlq_list(
    stage: Annotated[str | None, typer.Argument()] = None,
    limit: Annotated[int, typer.Option()] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Dead letters per stage (newest first)."""
    from services.cli import dlq

    _with_redis(lambda redis, s: dlq.list_letters(redis, console, stage, limit, as_json))


@dlq_app.command("show")
def dlq_show(stage: str, entry_id: str) -> None:
    """One dead letter with its error and payload."""
    from services.cli import dlq

    if not _with_redis(lambda redis, s: dlq.show_letter(redis, console, stage, entry_id)):
        raise typer.Exit(1)


@dlq_app.command("replay")
def dlq_replay(
    stage: str,
    entry_id: Annotated[str | None, typer.Argument(help="One entry; default all.")] = None,
) -> None:
    """Put dead letters back where they were read from (an output's queue for
    the deliverer's delivery failures, else the stage's input stream)."""
    from services.cli import dlq

    done = _with_redis(lambda redis, s: dlq.replay(redis, stage, entry_id))
    console.print(f"Replayed {done.replayed} dead letter(s) of {stage}")
    if done.kept:
        err.print(f"[yellow]Kept {done.kept} letter(s) whose output was removed[/]")


@dlq_app.command("purge")
def dlq_purge(
    stage: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete every dead letter of a stage."""
    from services.cli import dlq

    if not yes:
        typer.confirm(f"Delete all dead letters of {stage}?", abort=True)
    count = _with_redis(lambda redis, s: dlq.purge(redis, stage))
    console.print(f"Purged {count} dead letter(s) of {stage}")


if __name__ == "__main__":  # pragma: no cover
    app()
