"""The redis-server launcher and its one binary rule (tests.support.redis_servers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.redis_servers import BINARY_ENV, RedisServer, redis_server_binary


def _fake_binary(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / "redis-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_the_virtualenv_copy_is_passed_over_for_the_system_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "venv"
    system = _fake_binary(tmp_path / "usr" / "bin")
    _fake_binary(venv / "bin")
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:{system.parent}")
    monkeypatch.delenv(BINARY_ENV, raising=False)
    assert redis_server_binary() == str(system)


def test_the_environment_variable_names_the_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINARY_ENV, "/opt/redis-6.2/bin/redis-server")
    assert redis_server_binary() == "/opt/redis-6.2/bin/redis-server"


def test_a_killed_persistent_server_restarts_on_its_port_with_its_data() -> None:
    with RedisServer(persist=True) as server:
        port = server.port
        server.client().set("k", "v")
        server.stop(kill=True)
        server.start()
        assert server.port == port
        assert server.client().get("k") == b"v"


def test_a_taken_port_makes_a_first_start_move_to_another() -> None:
    with RedisServer() as first:
        second = RedisServer(args=[])
        second.port = first.port  # as if another process took the port in between
        with second:
            assert second.port != first.port
            assert second.client().ping()
