"""The container test: `./dev container-test` (needs root; .ci/run calls it).

Installs what is missing (Debian's docker.io, docker-compose, debootstrap),
starts a private Docker engine without any bridge network, builds the base and
stand-in images (cached between runs) and feedpipe's image from the real
Dockerfile, brings up redis, postgres, the six services, the demo feed site
and Prometheus from docker-compose.yml plus deploy/compose/ci-host-network.yml
(every container on the host's network, on free 127.0.0.1 ports), then checks
from outside the containers:

- articles flow into PostgreSQL and the containerised API finds them;
- every Prometheus target is up, every dashboard panel query and recording
  rule returns data, every rule evaluates, every alert has its inputs;
- a worker whose process is killed is restarted by its restart policy, and no
  demo article is lost;
- `down -v` leaves no container, volume or network, and no bridge appeared;
- the engine is stopped by its pid (also when a step fails).

Nothing here reaches beyond 127.0.0.1 except the package registries the
builds install from. Each step prints its time.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import psycopg
import redis as redis_sync
import yaml

from shared.pipeline import streams
from tests.container.engine import COMPOSE_CLI, Docker, Engine
from tests.container.images import REPO, build, build_base, build_standins, prune_stale
from tests.container.plan import (
    DEMO_FEEDS,
    ONE_SHOT,
    PROJECT,
    STACK,
    WORKERS,
    ArticleCheck,
    Ports,
    Timing,
    article_url,
    bulletin_number,
    check_articles,
    compose_environment,
    demo_opml,
    dockerfile_args,
    for_compose_v1_on_host_network,
    image_tag,
    scrape_targets,
)
from tests.deploy.live import (
    Prometheus,
    accepting_webhook,
    commit_events,
    empty_queries,
    http_get,
    prometheus_config,
    rule_problems,
    targets_down,
)
from tests.deploy.tools import load_script
from tests.support import processes
from tests.support.ports import free_port

OVERLAY = REPO / "deploy" / "compose" / "ci-host-network.yml"
DEFAULT_CACHE = Path("/var/cache/feedpipe-ci")
# Debian packages the test needs, by the command that shows they are there.
PACKAGES = {"dockerd": "docker.io", COMPOSE_CLI: "docker-compose", "debootstrap": "debootstrap"}
# Tools that must not be in the final image.
BUILD_TOOLS = ("uv", "gcc", "cc", "g++", "make")


class Failed(AssertionError):
    pass


class Steps:
    """Prints each step's start, its time and the time since the run began."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.times: list[tuple[str, float]] = []
        self.passed = 0

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"container-test: {name} ...", flush=True)
        begun = time.monotonic()
        try:
            yield
        except BaseException:
            print(f"container-test: {name}: FAILED after {time.monotonic() - begun:.1f} s")
            raise
        took = time.monotonic() - begun
        self.times.append((name, took))
        self.passed += 1
        print(f"container-test: {name}: ok in {took:.1f} s (total {self.total():.1f} s)")

    def total(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> str:
        lines = [f"  {took:6.1f} s  {name}" for name, took in self.times]
        return "\n".join(["container-test: step times", *lines, f"  {self.total():6.1f} s  total"])


def wait_until(what: str, predicate: Callable[[], bool], *, timeout: float) -> None:
    """Check ``predicate`` every second (an exception counts as not yet)."""
    try:
        processes.wait_for(predicate, timeout=timeout, what=what, interval=1)
    except TimeoutError as exc:
        raise Failed(str(exc)) from None


def link_names() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    return {line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()}


def install_missing() -> list[str]:
    missing = sorted({pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None})
    if missing:
        if os.geteuid() != 0:
            raise Failed(f"missing {', '.join(missing)}: install them or run as root")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return missing


class Stack:
    """The compose project on the engine, and what the checks read from it."""

    def __init__(self, docker: Docker, run_dir: Path, ports: Ports, env: dict[str, str]) -> None:
        self.docker = docker
        self.ports = ports
        self.env = env
        production = yaml.safe_load((REPO / "docker-compose.yml").read_text())
        derived = run_dir / "docker-compose.v1.yml"
        derived.write_text(
            yaml.safe_dump(for_compose_v1_on_host_network(production), sort_keys=False)
        )
        self.files = [derived, OVERLAY]
        self.site = f"http://127.0.0.1:{ports.demo}"
        self.db_url = f"postgresql://feedpipe:feedpipe@127.0.0.1:{ports.postgres}/feedpipe"

    def compose(self, *args: str, log: str = "compose.log") -> None:
        self.docker.compose(self.files, REPO, *args, env=self.env, log=log)

    def containers(self) -> dict[str, dict[str, Any]]:
        """Each service's container, inspected."""
        ids = self.docker.run(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}"
        ).split()
        found = json.loads(self.docker.run("inspect", *ids)) if ids else []
        return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}

    def unhealthy(self) -> list[str]:
        """Services not (yet) healthy; a one-shot must have exited with 0."""
        containers = self.containers()
        waiting = []
        for name in STACK:
            state = containers.get(name, {}).get("State", {})
            if name in ONE_SHOT:
                done = state.get("Status") == "exited" and state.get("ExitCode") == 0
            else:
                done = state.get("Health", {}).get("Status") == "healthy"
            if not done:
                status = state.get("Status", "missing")
                if status == "exited":
                    status += f" with {state.get('ExitCode')}"
                waiting.append(f"{name} ({status})")
        return waiting

    def indexed_urls(self) -> set[str]:
        with psycopg.connect(self.db_url, connect_timeout=5) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE tablename IN ('articles', 'duplicates')"
            ).fetchone()
            if not tables or tables[0] < 2:
                return set()
            rows = conn.execute(
                "SELECT url FROM articles UNION SELECT url FROM duplicates"
            ).fetchall()
        return {str(r[0]) for r in rows if r[0]}

    def article_count(self) -> int:
        with psycopg.connect(self.db_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM articles").fetchone()
        return int(row[0]) if row else 0

    def search(self, words: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"q": words})
        api = self.ports.services["api"]
        body = json.loads(http_get(f"http://127.0.0.1:{api}/search?{query}"))
        return list(body["hits"])

    def logs_tail(self) -> str:
        with contextlib.suppress(Exception):
            self.compose("logs", "--no-color", "--tail=25", log="failure-logs.log")
        path = self.docker.logs / "failure-logs.log"
        return path.read_text(errors="replace") if path.exists() else ""


def check_image(docker: Docker, ref: str, *, base: str) -> str:
    """Non-root, a healthcheck, no build tools, `--help` works; returns the
    image's size and how much of it is feedpipe's own (above the Python base)."""
    config = docker.inspect(ref)["Config"]
    user = config.get("User") or "root"
    if user in {"root", "0"} or user.startswith("0:"):
        raise Failed(f"{ref} runs as {user}")
    if not (config.get("Healthcheck") or {}).get("Test"):
        raise Failed(f"{ref} has no HEALTHCHECK")
    script = " ".join(f"command -v {tool};" for tool in BUILD_TOOLS) + " true"
    found = docker.run("run", "--rm", "--network", "host", "--entrypoint", "sh", ref, "-c", script)
    if found.strip():
        raise Failed(f"{ref} contains build tools: {found.split()}")
    usage = docker.run("run", "--rm", "--network", "host", ref, "--help")
    if "Usage" not in usage:
        raise Failed(f"{ref} --help printed no usage:\n{usage}")
    size = int(docker.inspect(ref)["Size"])
    own = size - int(docker.inspect(base)["Size"])
    return f"{size / 1e6:.0f} MB, of which {own / 1e6:.0f} MB above the Python base image"


def load_feedserver() -> ModuleType:
    return load_script(REPO / "deploy" / "demo" / "feedserver.py", "feedpipe_demo_feedserver")


def static_slugs(feedserver: ModuleType) -> set[str]:
    return {slug for name in DEMO_FEEDS for slug in feedserver.FEEDS[name].stories}


def crash(pid: int) -> None:
    """SIGKILL to a container's main process from the host, as the OOM killer
    or a crash ends it. (`docker kill` would not do: Docker counts it as a
    manual stop, after which no restart policy restarts the container.)"""
    os.kill(pid, signal.SIGKILL)


def run(cache_dir: Path, timing: Timing, steps: Steps) -> None:
    links_before = link_names()
    with steps.step("install what is missing"):
        installed = install_missing()
        print(f"container-test: installed {installed or 'nothing'}")
    run_dir = Path(tempfile.mkdtemp(prefix="fpct-"))
    logs = run_dir / "logs"
    logs.mkdir()
    ci_dir = run_dir / "ci"
    ci_dir.mkdir(mode=0o755)
    ci_dir.chmod(0o755)  # read by the containers' non-root users
    engine = Engine(data_root=cache_dir / "docker", run_dir=run_dir)
    docker = Docker(engine, logs=logs)
    stack: Stack | None = None
    up = False
    ok = False
    try:
        with steps.step("start the engine"):
            engine.start()
            # Containers and volumes an interrupted run left in the cached data root.
            leftovers = docker.run("ps", "--all", "--quiet").split()
            if leftovers:
                docker.run("rm", "--force", "--volumes", *leftovers)
            volumes = docker.run("volume", "ls", "--quiet").split()
            if volumes:
                docker.run("volume", "rm", "--force", *volumes)
            print(f"container-test: dockerd pid {engine.proc.pid if engine.proc else '?'}")

        with steps.step("base image (debootstrap bookworm + docker import)"):
            base, built = build_base(docker, work_dir=cache_dir)
            print(f"container-test: {base} ({'built' if built else 'cached'})")

        dockerfile = (REPO / "Dockerfile").read_text()
        args = dockerfile_args(dockerfile)
        with steps.step("stand-in images (python, uv, redis, postgres, prometheus)"):
            standins = build_standins(docker, base, uv_version=image_tag(args["UV_IMAGE"]))
            removed = prune_stale(docker, keep={base, *standins.values()})
            if removed:
                print(f"container-test: removed stale images {removed}")

        production = yaml.safe_load((REPO / "docker-compose.yml").read_text())
        image = str(production["services"]["api"]["image"])
        with steps.step(f"build {image} from the Dockerfile"):
            build(
                docker, image, dockerfile=REPO / "Dockerfile", context=REPO,
                args={"PYTHON_IMAGE": standins["python"], "UV_IMAGE": standins["uv"]},
                log="feedpipe-image.log",
            )  # fmt: skip

        with steps.step("image: non-root, healthcheck, no build tools, --help"):
            size = check_image(docker, image, base=standins["python"])
            print(f"container-test: image {image} size {size}")

        ports = Ports.allocate(free_port)
        env = compose_environment(ports, standins, str(ci_dir), timing)
        write_ci_files(ci_dir, ports)
        stack = Stack(docker, run_dir, ports, env)
        with steps.step("compose up: a healthy stack"):
            up = True
            stack.compose("--compatibility", "up", "--detach", "--no-build", *STACK)
            wait_healthy(stack)
            no_bridge(docker, links_before)
            print(f"container-test: healthy stack after {steps.total():.1f} s from the start")

        slugs = static_slugs(load_feedserver())
        with steps.step("articles flow into PostgreSQL and the API finds them"):
            first = check_flow(stack, slugs)

        with steps.step("a crashed worker is restarted and no article is lost"):
            check_crash_recovery(stack, slugs, first, timing)

        with steps.step("Prometheus: targets up, panel queries and rules have data"):
            check_prometheus(stack)

        with steps.step("down -v leaves nothing behind"):
            stack.compose("--compatibility", "down", "--volumes", "--remove-orphans")
            up = False
            check_nothing_left(docker, links_before)
        ok = True
    finally:
        if not ok and stack is not None:
            print(stack.logs_tail())
        if up and stack is not None:
            with contextlib.suppress(Exception):
                stack.compose("down", "--volumes", "--remove-orphans")
        pid = engine.proc.pid if engine.proc else None
        try:
            engine.stop()
        finally:
            if pid is not None:
                if Path(f"/proc/{pid}").exists():
                    raise Failed(f"dockerd (pid {pid}) is still running")
                print(f"container-test: engine (pid {pid}) stopped")
            if ok:
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                print(f"container-test: logs kept in {logs}")
                print(engine.tail())
    if link_names() - links_before:
        raise Failed(f"network interfaces left: {sorted(link_names() - links_before)}")
    print(steps.summary())
    print(f"container-test: {steps.passed} passed, 0 failed")


def wait_healthy(stack: Stack) -> None:
    waiting: list[str] = []

    def healthy() -> bool:
        waiting[:] = stack.unhealthy()
        return not waiting

    try:
        wait_until("every service healthy", healthy, timeout=240)
    except Failed:
        raise Failed(f"services not healthy: {', '.join(waiting)}") from None


def write_ci_files(ci_dir: Path, ports: Ports) -> None:
    """The generated Prometheus config and demo OPML the overlay mounts at /ci."""
    config = prometheus_config(scrape_targets(ports), ["/etc/prometheus/rules/*.yml"])
    (ci_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    opml = (REPO / "deploy" / "demo" / "feeds.demo.opml").read_text()
    (ci_dir / "feeds.demo.opml").write_text(demo_opml(opml, f"http://127.0.0.1:{ports.demo}"))
    for path in ci_dir.iterdir():
        path.chmod(0o644)


def no_bridge(docker: Docker, links_before: set[str]) -> None:
    networks = set(docker.run("network", "ls", "--format", "{{.Name}}").split())
    if networks != {"host", "none"}:
        raise Failed(f"networks other than host and none exist: {sorted(networks)}")
    new_links = link_names() - links_before
    if new_links:
        raise Failed(f"new network interfaces appeared: {sorted(new_links)}")


def check_flow(stack: Stack, slugs: set[str]) -> int:
    """Every fixed demo story reaches PostgreSQL and /search; returns the oldest
    bulletin indexed (the first poll's window starts there)."""

    first: list[int] = []

    def every_story_indexed() -> bool:
        indexed = stack.indexed_urls()
        numbers = [n for u in indexed if (n := bulletin_number(u, stack.site)) is not None]
        if numbers and all(article_url(stack.site, s) in indexed for s in slugs):
            first[:] = [min(numbers)]
        return bool(first)

    wait_until("every demo story in PostgreSQL", every_story_indexed, timeout=120)
    hits: list[dict[str, Any]] = []

    def found() -> bool:
        hits[:] = stack.search("kelp forest")
        return bool(hits)

    wait_until("a search hit through the API", found, timeout=30)
    if not any(h["url"].endswith("/articles/kelp-survey.html") for h in hits):
        raise Failed(f"search for 'kelp forest' missed the kelp story: {hits}")
    count = stack.article_count()
    print(f"container-test: {count} articles indexed, first bulletin {first[0]}")
    return first[0]


def check_crash_recovery(stack: Stack, slugs: set[str], first: int, timing: Timing) -> None:
    before = stack.containers()
    count_before = stack.article_count()
    for name in WORKERS:
        crash(int(before[name]["State"]["Pid"]))
    print(f"container-test: killed {', '.join(WORKERS)} with {count_before} articles in")

    def restarted() -> bool:
        now = stack.containers()
        return all(
            now[n]["RestartCount"] > before[n]["RestartCount"]
            and now[n]["State"].get("Health", {}).get("Status") == "healthy"
            for n in WORKERS
        )

    wait_until("every killed worker restarted and healthy", restarted, timeout=120)
    # Every bulletin published up to now, including while the workers were
    # down, must arrive; none may be lost.
    last = int(time.time() // timing.new_every)
    result: ArticleCheck | None = None

    def complete() -> bool:
        nonlocal result
        result = check_articles(
            stack.indexed_urls(), site=stack.site, static_slugs=slugs,
            first_bulletin=first, last_bulletin=last,
        )  # fmt: skip
        return not result.missing and not result.unknown

    try:
        wait_until("every published article indexed after the restarts", complete, timeout=90)
    except Failed:
        raise Failed(f"articles after the restarts: {result}") from None
    count_after = stack.article_count()
    if count_after < count_before:
        raise Failed(f"{count_before} articles before the crash, {count_after} after")
    restarts = {n: stack.containers()[n]["RestartCount"] for n in WORKERS}
    print(f"container-test: restarts {restarts}; {count_before} -> {count_after} articles")


def check_prometheus(stack: Stack) -> None:
    # A garbage entry on the parser's input: it must end up as a dead letter,
    # which the dead-letter panels and alerts read. (After the crashes: a
    # restarted parser starts its counters from zero.)
    client = redis_sync.Redis(host="127.0.0.1", port=stack.ports.redis)
    client.xadd(streams.FETCHED, {streams.DATA_FIELD: b'{"not": "an event"}'})
    client.close()
    prom = Prometheus(f"http://127.0.0.1:{stack.ports.prometheus}")
    jobs = set(scrape_targets(stack.ports))

    def all_up() -> bool:
        active = prom.api("/api/v1/targets")["activeTargets"]
        healthy = {t["labels"]["job"] for t in active if t["health"] == "up"}
        return healthy == jobs and not targets_down(prom)

    wait_until("every Prometheus target up", all_up, timeout=60)
    problems: list[str] = []

    def queries_and_rules_have_data() -> bool:
        # The dead letter and the first scrapes after the restarts take a few
        # seconds to show: the checks are repeated until they all pass.
        with contextlib.suppress(OSError):
            stack.search("harbour")  # feeds the API's panels
        problems[:] = [f"no data: {q}" for q in empty_queries(prom)] + rule_problems(prom)
        return not problems

    # A webhook output on the host's loopback (the deliverer shares the host's
    # network) and committed events, so the deliverer's panels have data.
    redis_url = f"redis://127.0.0.1:{stack.ports.redis}/0"
    cli_env = {
        **os.environ,
        "FEEDPIPE_REDIS_URL": redis_url,
        "FEEDPIPE_ALLOW_PRIVATE_NETWORKS": "true",
    }
    with accepting_webhook() as hook:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "outputs", "add", "webhook", hook],
            env=cli_env, cwd=REPO, check=True, timeout=120,
        )  # fmt: skip
        commit_events(redis_url, 5)
        try:
            wait_until("queries and rules", queries_and_rules_have_data, timeout=150)
        except Failed:
            raise Failed("Prometheus:\n" + "\n".join(problems)) from None


def check_nothing_left(docker: Docker, links_before: set[str]) -> None:
    label = f"label=com.docker.compose.project={PROJECT}"
    left = {
        "containers": docker.run("ps", "--all", "--quiet", "--filter", label).split(),
        "volumes": docker.run("volume", "ls", "--quiet").split(),
        "networks": docker.run("network", "ls", "--quiet", "--filter", label).split(),
    }
    if any(left.values()):
        raise Failed(f"left after down -v: {left}")
    no_bridge(docker, links_before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(os.environ.get("FEEDPIPE_CI_CACHE", DEFAULT_CACHE)),
        help="kept between runs: the engine's data root (images, build cache)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGTERM and SIGHUP unwind like Ctrl-C, so the engine is still stopped.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    # One run at a time per cache directory: its engine owns the data root.
    with (args.cache_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            run(args.cache_dir, Timing(), steps)
        except (Exception, KeyboardInterrupt) as exc:
            print(f"container-test: FAILED: {exc}", file=sys.stderr)
            print(steps.summary())
            print(f"container-test: {steps.passed} passed, 1 failed")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
