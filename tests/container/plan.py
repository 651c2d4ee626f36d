"""The pure parts of the container test: which ports and images the stack gets,
the environment and files the compose overlay reads, the Debian mirror of the
machine, and which demo articles must have been indexed. No I/O here, so these
are unit-tested in tests/container/test_plan.py."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.pipeline import stages

PROJECT = "feedpipe"
SERVICES = stages.names(stages.SERVICES)
# The services on the pipeline runtime: the crash test kills each of them.
WORKERS = stages.names(stages.WORKERS)
# Stand-in images built under deploy/ci/, keyed by the name the overlay uses.
STANDINS = ("python", "uv", "redis", "postgres", "prometheus")
# What `docker-compose up` starts: the pipeline, the demo profile, Prometheus.
# Never `init` (it imports deploy/feeds.example.opml: public feeds) nor
# Grafana (no stand-in: its dashboards' queries are run against Prometheus).
BACKENDS = ("redis", "postgres")
DEMO = ("demo-feeds", "demo-init")
STACK = (*BACKENDS, *SERVICES, *DEMO, "prometheus")
ONE_SHOT = ("demo-init",)
# The demo OPML names the site by its compose service name.
DEMO_SITE_IN_OPML = "http://demo-feeds:8000"
DEMO_FEEDS = ("harbour.rss", "science.atom", "quartier.json")


@dataclass(frozen=True, slots=True)
class Ports:
    """Host ports of the stack: every container shares the host's network."""

    redis: int
    postgres: int
    demo: int
    prometheus: int
    services: Mapping[str, int]  # metrics port of each service (the api's HTTP port)

    @classmethod
    def allocate(cls, free_port: Callable[[], int]) -> Ports:
        wanted = 4 + len(SERVICES)
        ports: list[int] = []
        while len(ports) < wanted:
            port = free_port()
            if port not in ports:
                ports.append(port)
        redis, postgres, demo, prometheus, *rest = ports
        return cls(redis, postgres, demo, prometheus, dict(zip(SERVICES, rest, strict=True)))


@dataclass(frozen=True, slots=True)
class Timing:
    """How fast the demo moves: a new bulletin every ``new_every`` seconds,
    every feed polled every ``poll_interval`` seconds. The site's feed keeps
    the last 5 bulletins, so a poller that is down for less than 5 x 8 s
    misses none: any bulletin not indexed after the crashes was lost inside
    the pipeline."""

    new_every: int = 8
    poll_interval: int = 2


def compose_environment(
    ports: Ports, images: Mapping[str, str], ci_dir: str, timing: Timing
) -> dict[str, str]:
    """Variables that docker-compose.yml and deploy/compose/ci-host-network.yml read."""
    env = {
        "FEEDPIPE_CI_REDIS_PORT": str(ports.redis),
        "FEEDPIPE_CI_POSTGRES_PORT": str(ports.postgres),
        "FEEDPIPE_CI_DEMO_PORT": str(ports.demo),
        "FEEDPIPE_CI_PROMETHEUS_PORT": str(ports.prometheus),
        "FEEDPIPE_CI_DIR": ci_dir,
        # What deploy/demo/demo.env sets for users, with faster polling.
        "COMPOSE_PROFILES": "demo",
        "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true",
        "FEEDPIPE_MIN_INTERVAL": "1",
        "DEMO_NEW_EVERY": str(timing.new_every),
        "DEMO_POLL_INTERVAL": str(timing.poll_interval),
    }
    for service, port in ports.services.items():
        env[f"FEEDPIPE_CI_{service.upper()}_PORT"] = str(port)
    for name in ("redis", "postgres", "prometheus"):
        env[f"FEEDPIPE_CI_{name.upper()}_IMAGE"] = images[name]
    return env


def overlay_variables(overlay_text: str) -> set[str]:
    """The FEEDPIPE_CI_* variables an overlay file interpolates."""
    return set(re.findall(r"\$\{(FEEDPIPE_CI_[A-Z_]+)", overlay_text))


def for_compose_v1_on_host_network(compose: Mapping[str, Any]) -> dict[str, Any]:
    """The production compose file as the test feeds it to Debian's
    docker-compose 1.29, under the host-network overlay. Two things are left
    out, and nothing else changes: the top-level ``name:`` (compose v2 only;
    the project name is given with ``-p``), and published ``ports`` (a
    container on the host's network has nothing to publish, and compose 1.29
    refuses the combination)."""
    derived = {key: value for key, value in compose.items() if key != "name"}
    derived["services"] = {
        name: {key: value for key, value in service.items() if key != "ports"}
        for name, service in compose["services"].items()
    }
    return derived


def dockerfile_args(text: str) -> dict[str, str]:
    """Default values of the ``ARG NAME=value`` lines of a Dockerfile."""
    return dict(re.findall(r"(?m)^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$", text))


def image_tag(reference: str) -> str:
    """The tag of an image reference (``ghcr.io/astral-sh/uv:0.13.9`` -> ``0.13.9``)."""
    name = reference.rsplit("/", 1)[-1]
    if ":" not in name:
        raise ValueError(f"{reference}: no tag")
    return name.rsplit(":", 1)[1]


def debian_mirror(sources: Iterable[str]) -> str:
    """The first Debian archive URI of the machine's apt sources (one-line
    ``deb URI suite ...`` files or deb822 ``.sources`` files), skipping the
    security archive."""
    for text in sources:
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(
                (key.strip().lower(), value.strip())
                for key, value in re.findall(r"(?m)^([A-Za-z-]+):(.*)$", stanza)
            )
            if "uris" in fields and "deb" in fields.get("types", "").split():
                suites = fields.get("suites", "").split()
                if suites and all("security" not in s for s in suites):
                    return str(fields["uris"].split()[0])
            for line in stanza.splitlines():
                parts = line.split("#", 1)[0].split()
                if parts[:1] == ["deb"]:
                    uri, suite = [p for p in parts[1:] if not p.startswith("[")][:2]
                    if "security" not in suite:
                        return uri
    raise ValueError("no Debian archive in the apt sources")


def content_key(*parts: str | bytes) -> str:
    """A short stable key of the inputs of an image (its cache tag)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:12]


def demo_opml(production_opml: str, site: str) -> str:
    """The demo OPML with the site's compose name replaced by its host address."""
    if DEMO_SITE_IN_OPML not in production_opml:
        raise ValueError(f"the demo OPML no longer names {DEMO_SITE_IN_OPML}")
    return production_opml.replace(DEMO_SITE_IN_OPML, site)


def scrape_targets(ports: Ports) -> dict[str, str]:
    """Prometheus jobs (the production config's job names) and their one target."""
    targets = {name: f"127.0.0.1:{port}" for name, port in ports.services.items()}
    targets["prometheus"] = f"127.0.0.1:{ports.prometheus}"
    return targets


def article_url(site: str, slug: str) -> str:
    return f"{site}/articles/{slug}.html"


def bulletin_number(url: str, site: str) -> int | None:
    match = re.fullmatch(re.escape(site) + r"/articles/bulletin-(\d+)\.html", url)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class ArticleCheck:
    missing: set[str]  # published by the site in the window, not indexed
    unknown: set[str]  # indexed, but never published by the site


def check_articles(
    indexed: set[str],
    *,
    site: str,
    static_slugs: Iterable[str],
    first_bulletin: int,
    last_bulletin: int,
) -> ArticleCheck:
    """Compare indexed article URLs with what the demo site published: every
    fixed story, and every bulletin from ``first_bulletin`` (the oldest one the
    first poll saw) to ``last_bulletin`` (the newest one that must be in by now).
    Bulletins after ``last_bulletin`` may or may not be in yet."""
    expected = {article_url(site, slug) for slug in static_slugs}
    expected |= {
        article_url(site, f"bulletin-{n}") for n in range(first_bulletin, last_bulletin + 1)
    }
    unknown = {
        url
        for url in indexed - expected
        if (n := bulletin_number(url, site)) is None or n < first_bulletin
    }
    return ArticleCheck(missing=expected - indexed, unknown=unknown)
