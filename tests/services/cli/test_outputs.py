"""`feedpipe outputs` on a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from services.cli.main import app
from shared.settings import get_settings
from tests.support.webhooks import Answer, WebhookReceiver

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SECRET = "cli-secret-value"


@pytest.fixture
def cli(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("FEEDPIPE_REDIS_URL", redis_url)
    monkeypatch.setenv("FEEDPIPE_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("COLUMNS", "250")  # rich's tables: one row per output
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(app, ["outputs", *args])


def add(cli: CliRunner, *args: str) -> str:
    result = run(cli, "add", *args)
    assert result.exit_code == 0, result.output
    return result.output.split("output ")[1].split()[0]


def listed(cli: CliRunner) -> list[dict[str, object]]:
    result = run(cli, "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def test_add_prints_the_new_output_and_list_shows_it(cli: CliRunner) -> None:
    output_id = add(
        cli, "webhook", "https://hooks.example/in", "--secret", SECRET, "--filter", "lang=fr"
    )
    [row] = listed(cli)
    assert (row["id"], row["kind"], row["filters"], row["secret"]) == (
        output_id, "webhook", ["lang=fr"], "set",
    )  # fmt: skip


def test_the_secret_is_never_printed(cli: CliRunner) -> None:
    added = run(cli, "add", "webhook", "https://u:pw@hooks.example/in", "--secret", SECRET)
    table = run(cli, "list")
    as_json = run(cli, "list", "--json")
    for text in (added.output, table.output, as_json.output):
        assert SECRET not in text
        assert ":pw@" not in text
    assert "set" in table.output


def test_a_bad_output_is_refused_with_the_reason_and_exit_2(cli: CliRunner) -> None:
    result = run(cli, "add", "rabbitmq", "amqp://guest:guest@127.0.0.1/")
    assert result.exit_code == 2
    assert "needs --exchange" in result.output
    assert listed(cli) == []


def test_brokers_are_added_with_their_exchange_or_subject(cli: CliRunner) -> None:
    add(cli, "rabbitmq", "amqp://guest:guest@127.0.0.1:5672/", "--exchange", "news")
    add(cli, "nats", "nats://127.0.0.1:4222", "--subject", "news.{lang}", "--stream", "NEWS")
    rows = {row["kind"]: row for row in listed(cli)}
    assert (rows["rabbitmq"]["exchange"], rows["rabbitmq"]["routing_key"]) == (
        "news", "{lang}.{feed}",
    )  # fmt: skip
    assert rows["rabbitmq"]["url"] == "amqp://guest:***@127.0.0.1:5672/"
    assert (rows["nats"]["subject"], rows["nats"]["stream"]) == ("news.{lang}", "NEWS")


def test_disable_enable_and_remove_by_name(cli: CliRunner) -> None:
    add(cli, "webhook", "https://hooks.example/in", "--name", "crm")
    assert run(cli, "disable", "crm").exit_code == 0
    assert listed(cli)[0]["enabled"] is False
    assert "disabled: disabled by an operator" in run(cli, "list").output
    assert run(cli, "enable", "crm").exit_code == 0
    assert listed(cli)[0]["enabled"] is True
    assert run(cli, "remove", "crm").exit_code == 0
    assert listed(cli) == []
    assert run(cli, "remove", "crm").exit_code == 1


async def feedpipe(redis_url: str, *args: str) -> tuple[int, str]:
    """The CLI in its own process, so a receiver in this event loop can answer it."""
    env = {**os.environ, "FEEDPIPE_REDIS_URL": redis_url, "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args,
        env=env, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_test_sends_a_signed_sample_and_prints_the_answer(redis_url: str) -> None:
    async with WebhookReceiver(secret=SECRET.encode()) as receiver:
        code, out = await feedpipe(
            redis_url, "outputs", "add", "webhook", receiver.url, "--secret", SECRET,
            "--name", "hook",
        )  # fmt: skip
        assert code == 0, out
        code, out = await feedpipe(redis_url, "outputs", "test", "hook")
        assert code == 0, out
        assert "ok: HTTP 200" in out
        assert '{"accepted": true}' in out
        assert receiver.keys == ["feedpipe-test:1"]

        receiver.script.append(Answer(503))
        code, out = await feedpipe(redis_url, "outputs", "test", "hook")
        assert code == 1
        assert "error: HTTP 503" in out
