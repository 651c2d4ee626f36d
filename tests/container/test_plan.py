"""tests/container/plan.py and the overlay it fills in (the container test's
pure parts; the test itself runs with `./dev container-test`)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from tests.container.plan import (
    SERVICES,
    STACK,
    STANDINS,
    Ports,
    Timing,
    bulletin_number,
    check_articles,
    compose_environment,
    content_key,
    debian_mirror,
    demo_opml,
    dockerfile_args,
    for_compose_v1_on_host_network,
    image_tag,
    overlay_variables,
    scrape_targets,
)
from tests.deploy.tools import COMPOSE_FILE, DEPLOY

OVERLAY = DEPLOY / "compose" / "ci-host-network.yml"
SITE = "http://127.0.0.1:8123"


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


@pytest.fixture(scope="module")
def overlay() -> dict[str, Any]:
    return dict(yaml.safe_load(OVERLAY.read_text()))


def sample_ports() -> Ports:
    counter = itertools.count(20000)
    return Ports.allocate(lambda: next(counter))


def test_ports_are_distinct_even_when_the_allocator_repeats_itself() -> None:
    repeated = iter([5000, 5000, 5001, 5001, *range(5002, 5100)])
    ports = Ports.allocate(lambda: next(repeated))
    every = [ports.redis, ports.postgres, ports.demo, ports.prometheus, *ports.services.values()]
    assert len(every) == len(set(every)) == 4 + len(SERVICES)


def test_compose_environment_sets_every_variable_the_overlay_requires() -> None:
    images = {name: f"feedpipe-ci/{name}:k" for name in STANDINS}
    env = compose_environment(sample_ports(), images, "/tmp/ci", Timing())
    assert overlay_variables(OVERLAY.read_text()) <= set(env)
    assert env["COMPOSE_PROFILES"] == "demo"
    assert env["FEEDPIPE_CI_REDIS_IMAGE"] == "feedpipe-ci/redis:k"


def test_every_service_of_the_production_file_is_on_the_host_network(
    production: dict[str, Any], overlay: dict[str, Any]
) -> None:
    # With no service on compose's default network, compose creates no network.
    for name in production["services"]:
        assert overlay["services"][name]["network_mode"] == "host", name


def test_every_pipeline_service_gets_its_own_metrics_port_and_healthcheck(
    overlay: dict[str, Any],
) -> None:
    for name in SERVICES:
        service = overlay["services"][name]
        port = f"${{FEEDPIPE_CI_{name.upper()}_PORT:?}}"
        assert service["environment"]["FEEDPIPE_METRICS_PORT"] == port, name
        assert "FEEDPIPE_METRICS_PORT" in " ".join(service["healthcheck"]["test"]), name


def test_the_container_test_entry_point_imports() -> None:
    # It runs outside pytest (./dev container-test): an import it lost would
    # otherwise show only in CI's last step.
    from tests.container import run

    assert callable(run.main)


def test_stack_starts_neither_init_nor_grafana() -> None:
    assert "init" not in STACK
    assert "grafana" not in STACK
    assert {"redis", "postgres", "prometheus", "demo-feeds", "demo-init", *SERVICES} == set(STACK)


@pytest.mark.parametrize("service", ["redis", "prometheus"])
def test_overlay_commands_keep_every_production_argument(
    production: dict[str, Any], overlay: dict[str, Any], service: str
) -> None:
    ci_command = overlay["services"][service]["command"]
    for argument in production["services"][service]["command"]:
        if argument.startswith("--config.file="):
            continue  # the generated config with static targets
        assert argument in ci_command, argument


def test_derived_compose_file_drops_only_the_name_and_published_ports(
    production: dict[str, Any],
) -> None:
    derived = for_compose_v1_on_host_network(production)
    assert "name" not in derived
    assert set(derived) == set(production) - {"name"}
    for name, service in production["services"].items():
        assert derived["services"][name] == {k: v for k, v in service.items() if k != "ports"}


def test_dockerfile_args_reads_defaults_only() -> None:
    text = "ARG A=1\nARG B\n  ARG C=2\nARG D=x:y/z\nRUN echo ARG E=3\n"
    assert dockerfile_args(text) == {"A": "1", "D": "x:y/z"}


@pytest.mark.parametrize(
    ("reference", "tag"),
    [("ghcr.io/astral-sh/uv:0.13.9", "0.13.9"), ("localhost:5000/uv:1.0", "1.0")],
)
def test_image_tag(reference: str, tag: str) -> None:
    assert image_tag(reference) == tag


def test_image_tag_refuses_an_untagged_reference() -> None:
    with pytest.raises(ValueError, match="no tag"):
        image_tag("localhost:5000/uv")


def test_debian_mirror_from_deb822_skips_the_security_archive() -> None:
    security = (
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    main = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
    assert debian_mirror([security + "\n" + main]) == "http://mirror.example/debian"


def test_debian_mirror_from_a_one_line_list() -> None:
    text = (
        "# comment\ndeb [arch=amd64] http://sec.example/x bookworm-security main\n"
        "deb http://mirror.example/debian bookworm main\n"
    )
    assert debian_mirror(["", text]) == "http://mirror.example/debian"


def test_debian_mirror_without_an_archive_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Debian archive"):
        debian_mirror(["Types: deb-src\nURIs: http://x\nSuites: bookworm\n"])


def test_content_key_separates_its_parts() -> None:
    assert content_key("ab", "c") != content_key("a", "bc")
    assert content_key("a", b"b") == content_key(b"a", "b")


def test_demo_opml_points_the_committed_demo_feeds_at_the_site() -> None:
    committed = (DEPLOY / "demo" / "feeds.demo.opml").read_text()
    opml = demo_opml(committed, SITE)
    assert "demo-feeds:8000" not in opml
    assert f'xmlUrl="{SITE}/feeds/harbour.rss"' in opml


def test_demo_opml_refuses_a_file_that_no_longer_names_the_site() -> None:
    with pytest.raises(ValueError, match="no longer names"):
        demo_opml("<opml/>", SITE)


def test_scrape_targets_use_the_production_job_names() -> None:
    production_jobs = {
        job["job_name"]
        for job in yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())[
            "scrape_configs"
        ]
    }
    assert set(scrape_targets(sample_ports())) == production_jobs


def test_bulletin_number() -> None:
    assert bulletin_number(f"{SITE}/articles/bulletin-42.html", SITE) == 42
    assert bulletin_number(f"{SITE}/articles/kelp-survey.html", SITE) is None


def urls(*slugs: str) -> set[str]:
    return {f"{SITE}/articles/{slug}.html" for slug in slugs}


def test_check_articles_accepts_every_story_and_the_bulletin_window() -> None:
    indexed = urls("a", "b", "bulletin-10", "bulletin-11", "bulletin-12", "bulletin-13")
    result = check_articles(
        indexed, site=SITE, static_slugs=["a", "b"], first_bulletin=10, last_bulletin=12
    )
    assert result.missing == set()
    assert result.unknown == set()  # bulletin-13 came after the window: allowed


def test_check_articles_reports_a_gap_in_the_bulletins() -> None:
    indexed = urls("a", "bulletin-10", "bulletin-12")
    result = check_articles(
        indexed, site=SITE, static_slugs=["a"], first_bulletin=10, last_bulletin=12
    )
    assert result.missing == urls("bulletin-11")


def test_check_articles_reports_what_the_site_never_published() -> None:
    indexed = urls("a", "bulletin-3", "other") | {"http://elsewhere/x"}
    result = check_articles(
        indexed, site=SITE, static_slugs=["a"], first_bulletin=5, last_bulletin=4
    )
    assert result.unknown == urls("bulletin-3", "other") | {"http://elsewhere/x"}
