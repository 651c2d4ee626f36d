"""deploy/prometheus: promtool accepts the config and rules; rules are complete."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.tools import PROM_DIR, RULE_FILES, alert_rules, require_binary

REQUIRED_ALERTS = {
    "FeedpipeServiceDown",
    "FeedpipeServiceMissing",
    "FeedpipeFeedsFailing",
    "FeedpipeStreamLagGrowing",
    "FeedpipeStreamPendingGrowing",
    "FeedpipeDeadLetters",
    "FeedpipeDeadLetterQueueNotEmpty",
    "FeedpipeScheduleLagHigh",
    "FeedpipeIngestLatencyHigh",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool", package="prometheus")


def test_promtool_accepts_the_scrape_config(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "config", str(PROM_DIR / "prometheus.yml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, RULE_FILES)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_behave_as_their_unit_tests_say(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", "tests/alerts_test.yml"],
        capture_output=True, text=True, timeout=60, cwd=PROM_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_alert_exists() -> None:
    assert {r["alert"] for r in alert_rules()} >= REQUIRED_ALERTS


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (PROM_DIR.parents[1] / "docs" / "OPERATIONS.md").read_text()
    for rule in alert_rules():
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert']}" in runbook, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
