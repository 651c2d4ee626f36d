"""deploy/grafana: committed dashboards equal the generator's output and only
use metrics that exist."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.tools import (
    DASHBOARD_DIR,
    DEPLOY,
    load_dashboards,
    load_script,
    metric_names,
    panel_queries,
    recording_rules,
    rules,
)

DATASOURCE_UID = "feedpipe-prometheus"


def load_generator() -> ModuleType:
    return load_script(DEPLOY / "grafana" / "generate.py", "feedpipe_dashboards")


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


def known_metric_names() -> set[str]:
    """Series the services can export, plus recording rules and Prometheus's own."""
    from prometheus_client import REGISTRY

    import shared.metrics  # noqa: F401 - registers every feedpipe metric

    names: set[str] = set()
    for family in REGISTRY.collect():
        for sample in family.samples:
            names.add(sample.name)
        names.add(family.name)
        names.add(family.name + "_total")
        for suffix in ("_bucket", "_count", "_sum"):
            names.add(family.name + suffix)
    names |= {r["record"] for r in recording_rules()}
    names |= {"up", "scrape_duration_seconds", "process_open_fds"}
    prefix = "faststream_"
    for base in (
        "received_messages_total",
        "received_processed_messages_duration_seconds_bucket",
        "received_messages_in_process",
    ):
        names.add(prefix + base)
    return names


def test_committed_dashboards_equal_the_generator_output(generator: ModuleType) -> None:
    rendered = generator.render_all()
    committed = {p.name for p in DASHBOARD_DIR.glob("*.json")}
    assert committed == set(rendered)
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, f"regenerate {name}"


def test_runbook_dashboard_section_equals_the_generator_output(generator: ModuleType) -> None:
    doc = Path(generator.DOC).read_text()
    assert generator.splice_doc(doc) == doc, "run deploy/grafana/generate.py"


def test_every_panel_queries_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert provisioned["datasources"][0]["uid"] == DATASOURCE_UID
    for name, dash in load_dashboards().items():
        for panel in dash["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            assert panel["description"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == DATASOURCE_UID


def test_dashboard_uids_are_unique_and_pinned() -> None:
    uids = [d["uid"] for d in load_dashboards().values()]
    assert len(uids) == len(set(uids)) == 4
    assert all(uid.startswith("feedpipe-") for uid in uids)


def test_panels_and_rules_only_select_metrics_that_exist() -> None:
    known = known_metric_names()
    unknown = {
        (where, name)
        for where, expr in [(f"{d}: {t}", e) for d, t, e in panel_queries()]
        + [(r.get("alert") or r["record"], r["expr"]) for r in rules()]
        for name in metric_names(expr)
        if name not in known
    }
    assert not unknown


def test_dashboards_cover_every_feedpipe_metric() -> None:
    used = set()
    for _, _, expr in panel_queries():
        used |= metric_names(expr)
    for rule in recording_rules():
        if rule["record"] in used:
            used |= metric_names(rule["expr"])
    from prometheus_client import REGISTRY

    import shared.metrics  # noqa: F401

    exported = {f.name for f in REGISTRY.collect() if f.name.startswith("feedpipe_")}
    uncovered = {
        name for name in exported if not any(u == name or u.startswith(name + "_") for u in used)
    }
    # feedpipe_redis_up is only set by /readyz; the runtime panels show `up` instead.
    assert uncovered <= {"feedpipe_redis_up"}


def test_generated_json_is_stable_json() -> None:
    for path in DASHBOARD_DIR.glob("*.json"):
        assert json.loads(path.read_text())["schemaVersion"] >= 39
