"""Dockerfile: buildable without registry access for the frontend, with both
base images as build arguments whose defaults are the upstream images."""

from __future__ import annotations

from tests.container.plan import dockerfile_args
from tests.deploy.tools import REPO


def test_dockerfile_takes_both_base_images_as_build_arguments() -> None:
    text = (REPO / "Dockerfile").read_text()
    args = dockerfile_args(text)
    assert args["PYTHON_IMAGE"].startswith("python:3.11")
    assert args["UV_IMAGE"].startswith("ghcr.io/astral-sh/uv:")
    assert "FROM ${UV_IMAGE} AS uv" in text
    assert "FROM ${PYTHON_IMAGE} AS build" in text
    assert "FROM ${PYTHON_IMAGE} AS runtime" in text


def test_dockerfile_needs_no_frontend_image() -> None:
    lines = (REPO / "Dockerfile").read_text().lower().splitlines()
    assert not [line for line in lines if line.replace(" ", "").startswith("#syntax=")]


def test_runtime_stage_is_non_root_with_a_healthcheck_and_no_uv() -> None:
    runtime = (REPO / "Dockerfile").read_text().split(" AS runtime", 1)[1]
    assert "\nUSER feedpipe\n" in runtime
    assert "\nHEALTHCHECK " in runtime
    assert "--from=uv" not in runtime
