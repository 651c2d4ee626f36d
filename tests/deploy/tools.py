"""Helpers of the deploy tests: external tools, the compose schema, PromQL found
in the dashboards and rules."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
PROM_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"


def load_script(path: Path, name: str) -> ModuleType:
    """Import a deploy script that is not part of a package (e.g. deploy/demo/feedserver.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The compose-spec JSON schema (Apache-2.0, from the compose-spec project) as
# shipped inside the MIT-licensed npm package dclint; fetched from the npm
# registry at test time and cached, not vendored.
SCHEMA_PACKAGE = "dclint@3.1.0"
SCHEMA_MEMBER = "package/schemas/compose.schema.json"

# What Grafana would put in place of its variables, for running panel queries.
GRAFANA_VARS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": ".+",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Missing tooling skips a developer's run but fails CI."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def require_binary(name: str, *, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} not found: install the Debian package {package!r}")
    assert found is not None
    return found


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "feedpipe-tests"


def compose_schema() -> dict[str, Any]:
    """The compose-spec schema, from FEEDPIPE_COMPOSE_SCHEMA, the cache, or npm."""
    override = os.environ.get("FEEDPIPE_COMPOSE_SCHEMA")
    if override:
        return dict(json.loads(Path(override).read_text()))
    cached = cache_dir() / f"{SCHEMA_PACKAGE.replace('@', '-')}-compose.schema.json"
    if not cached.exists():
        npm = shutil.which("npm")
        if npm is None:
            skip_or_fail("npm not found: it fetches the compose-spec schema")
        assert npm is not None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = subprocess.run(
                    [npm, "pack", SCHEMA_PACKAGE, "--pack-destination", tmp, "--silent"],
                    capture_output=True, text=True, check=True, timeout=120,
                )  # fmt: skip
            except (subprocess.SubprocessError, OSError) as exc:
                skip_or_fail(f"could not fetch {SCHEMA_PACKAGE} from npm: {exc}")
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                member = tar.extractfile(SCHEMA_MEMBER)
                assert member is not None, f"{SCHEMA_MEMBER} missing from {SCHEMA_PACKAGE}"
                data = member.read()
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    return dict(json.loads(cached.read_text()))


def load_compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every query of every panel."""
    found = []
    for name, dash in load_dashboards().items():
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                found.append((name, panel["title"], target["expr"]))
    return found


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def alert_rules() -> list[dict[str, Any]]:
    return [r for r in rules() if "alert" in r]


def recording_rules() -> list[dict[str, Any]]:
    return [r for r in rules() if "record" in r]


def substitute(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "or", "and", "unless", "bool", "offset"}


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects. A few regexes, not a parser:
    enough for the expressions written in this repository."""
    cleaned = re.sub(r"\{[^}]*\}", " ", substitute(expr))  # label matchers
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)  # range selectors
    cleaned = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", cleaned)
    names = set()
    for name, call in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", cleaned):
        if not call and name not in PROMQL_KEYWORDS:
            names.add(name)
    return names
