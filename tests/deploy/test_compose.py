"""docker-compose.yml: valid against the compose-spec schema, and scalable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest
import yaml

from shared.pipeline import stages
from tests.deploy.tools import DEPLOY, REPO, compose_schema, load_compose

WORKERS = stages.names(stages.WORKERS)
SERVICES = stages.names(stages.SERVICES)
ONE_SHOT = ("init", "demo-init")
PUBLISHED = {"api", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def test_compose_file_is_valid_against_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    assert schema.get("$id") == "compose_spec.json"
    jsonschema.Draft7Validator(schema).validate(compose)


def test_every_pipeline_service_and_backend_is_defined(services: dict[str, Any]) -> None:
    wanted = {"redis", "postgres", *SERVICES, "prometheus", "grafana", "init"}
    assert wanted <= set(services)


@pytest.mark.parametrize("name", WORKERS)
def test_workers_can_be_scaled(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert "container_name" not in service
    assert "ports" not in service
    assert service["command"] == ["run", name]
    assert service["environment"]["FEEDPIPE_METRICS_PORT"] == "9100"
    assert service["environment"]["FEEDPIPE_METRICS_HOST"] == "0.0.0.0"


def test_only_api_and_grafana_publish_host_ports(services: dict[str, Any]) -> None:
    assert {name for name, s in services.items() if s.get("ports")} == PUBLISHED


def test_no_service_has_a_fixed_container_name(services: dict[str, Any]) -> None:
    assert [n for n, s in services.items() if "container_name" in s] == []


def test_long_running_services_have_healthchecks_restart_policies_and_limits(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name}: no healthcheck"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("cpus"), f"{name}: no CPU limit"
        assert limits.get("memory"), f"{name}: no memory limit"


def test_dependencies_wait_for_health(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for target, spec in depends.items():
            assert spec["condition"] == "service_healthy", f"{name} -> {target}"
            assert "test" in services[target].get("healthcheck", {}), f"{target} has no check"


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: {image}"


def test_redis_persists_with_aof_on_a_named_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_workers_reach_redis_and_the_index_by_service_name(services: dict[str, Any]) -> None:
    env = services["indexer"]["environment"]
    assert env["FEEDPIPE_REDIS_URL"].startswith("redis://redis:")
    assert env["FEEDPIPE_INDEX_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["FEEDPIPE_INDEX_URL"]


def test_bind_mounts_point_at_files_in_the_repository(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} missing"


def test_init_imports_the_example_opml(services: dict[str, Any]) -> None:
    command = services["init"]["command"]
    assert command[:2] == ["feeds", "import"]
    assert "/deploy/feeds.example.opml" in command[2]
    assert services["init"]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("path", ["feeds.example.opml", "demo/feeds.demo.opml"])
def test_opml_files_list_feed_urls(path: str) -> None:
    root = ET.parse(DEPLOY / path).getroot()
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert urls
    assert all(u and u.startswith(("http://", "https://")) for u in urls)


def test_demo_profile_adds_a_feed_server_and_allows_private_networks(
    services: dict[str, Any],
) -> None:
    for name in ("demo-feeds", "demo-init"):
        assert services[name]["profiles"] == ["demo"]
    env_file = DEPLOY / "demo" / "demo.env"
    settings = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["COMPOSE_PROFILES"] == "demo"
    assert settings["FEEDPIPE_ALLOW_PRIVATE_NETWORKS"] == "true"
    poller_env = services["poller"]["environment"]
    assert "FEEDPIPE_ALLOW_PRIVATE_NETWORKS" in poller_env["FEEDPIPE_ALLOW_PRIVATE_NETWORKS"]


def test_prometheus_discovers_every_replica_through_dns(services: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICES:
        job = jobs[name]
        assert "static_configs" not in job, name
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name]
        assert sd["type"] == "A"
        port = services[name]["environment"]["FEEDPIPE_METRICS_PORT"]
        assert sd["port"] == int(port), name
