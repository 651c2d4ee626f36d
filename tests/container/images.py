"""Images of the container test: a Debian bookworm base made with debootstrap
from the machine's own mirror, the stand-ins of deploy/ci/ built on it, and
feedpipe's image from the real Dockerfile. Base and stand-ins are tagged by a
key of their inputs and built only when that tag is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.container.engine import Docker
from tests.container.plan import STANDINS, content_key, debian_mirror

REPO = Path(__file__).resolve().parents[2]
CI_DIR = REPO / "deploy" / "ci"
SUITE = "bookworm"
# Bump when build_base puts something else into the image.
BASE_RECIPE = "minbase-1"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def apt_source_files() -> list[Path]:
    """The machine's active apt source files (apt ignores other suffixes)."""
    files = [Path("/etc/apt/sources.list")]
    parts = Path("/etc/apt/sources.list.d")
    files += sorted(parts.glob("*.list")) + sorted(parts.glob("*.sources"))
    return [f for f in files if f.is_file() and f.read_text().strip()]


def local_cas() -> list[Path]:
    return sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []


def build_base(docker: Docker, *, work_dir: Path) -> tuple[str, bool]:
    """The base image's reference, and whether it had to be built."""
    sources = apt_source_files()
    texts = [p.read_text() for p in sources]
    mirror = debian_mirror(texts)
    key = content_key(
        BASE_RECIPE, SUITE, mirror, *texts, CA_BUNDLE.read_bytes(),
        *(p.read_bytes() for p in local_cas()),
    )  # fmt: skip
    ref = f"feedpipe-ci/{SUITE}:{key}"
    if docker.image_exists(ref):
        return ref, False
    rootfs = work_dir / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    with (docker.logs / "debootstrap.log").open("ab") as log:
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            stdout=log, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    prepare_rootfs(rootfs, sources)
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    docker.run(
        "import",
        "--change", f"ENV SSL_CERT_FILE={CA_BUNDLE}",
        "--change", 'CMD ["bash"]',
        "-", ref,
        stdin=tar.stdout,
    )  # fmt: skip
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0:
        raise RuntimeError(f"tar of {rootfs} exited with {tar.returncode}")
    shutil.rmtree(rootfs)
    return ref, True


def prepare_rootfs(rootfs: Path, sources: list[Path]) -> None:
    """What builds on the base need from this machine, and what a container
    base image leaves out."""
    # The machine's apt sources (its mirror and security archive) replace
    # debootstrap's one-line list.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for path in sources:
        target = rootfs / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    # The machine's CA bundle: HTTPS to the package registries may pass a proxy
    # with its own CA. The local CAs go along, so that an update-ca-certificates
    # run by a package in a build keeps them.
    (rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
    shutil.copy(CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    target_cas = rootfs / LOCAL_CAS.relative_to("/")
    target_cas.mkdir(parents=True, exist_ok=True)
    for ca in local_cas():
        shutil.copy(ca, target_cas / ca.name)
    # No init system in a container: package scripts must not try to start services.
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (rootfs / "etc/apt/apt.conf.d/99feedpipe-ci").write_text(
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
    )
    for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        cached.unlink()
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)


def standin_files(name: str) -> list[Path]:
    """A stand-in's Dockerfile and the files it copies (deploy/ci/NAME-*)."""
    return [CI_DIR / f"{name}.Dockerfile", *sorted(CI_DIR.glob(f"{name}-*"))]


def build_standins(docker: Docker, base: str, *, uv_version: str) -> dict[str, str]:
    """Reference of each stand-in image, built when missing."""
    refs = {}
    for name in STANDINS:
        args = {"BASE_IMAGE": base}
        if name == "uv":
            args["UV_VERSION"] = uv_version
        files = standin_files(name)
        key = content_key(*(f"{k}={v}" for k, v in sorted(args.items())))
        key = content_key(key, *(f.read_bytes() for f in files))
        ref = f"feedpipe-ci/{name}:{key}"
        if not docker.image_exists(ref):
            build(docker, ref, dockerfile=files[0], context=CI_DIR, args=args, log=f"{name}.log")
        refs[name] = ref
    return refs


def build(
    docker: Docker, ref: str, *, dockerfile: Path, context: Path, args: dict[str, str], log: str
) -> None:
    """docker build with the host's network (the engine has no bridge)."""
    build_args = [a for k, v in args.items() for a in ("--build-arg", f"{k}={v}")]
    docker.run(
        "build", "--network", "host", "--progress", "plain", *build_args,
        "--file", str(dockerfile), "--tag", ref, str(context),
        log=log,
    )  # fmt: skip


def prune_stale(docker: Docker, *, keep: set[str]) -> list[str]:
    """Remove base and stand-in images of earlier inputs from the cache."""
    listed = docker.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "feedpipe-ci/*")
    stale = sorted(set(listed.split()) - keep)
    if stale:
        docker.run("image", "rm", *stale)
        docker.run("image", "prune", "--force")
    return stale
