# One image for every feedpipe service; the command picks the service:
#   docker run feedpipe:0.1.0 run parser
# Stage 1 resolves the locked dependencies with uv (no compiler needed: every
# dependency ships a manylinux wheel); stage 2 copies only the virtualenv.
#
# No `# syntax=` line: Docker's built-in Dockerfile frontend handles
# `RUN --mount`, so a build needs no frontend image from a registry. Both base
# images are build arguments, so that a machine without registry access can
# build with local stand-ins (the CI container test does: tests/container/):
#   docker build --build-arg PYTHON_IMAGE=... --build-arg UV_IMAGE=... .
# UV_IMAGE must hold the uv binary at /uv, as the upstream image does.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY pyproject.toml uv.lock README.md ./
COPY shared ./shared
COPY services ./services
# --no-editable installs feedpipe itself into the venv, so the runtime stage
# needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 feedpipe \
    && useradd --system --uid 10001 --gid feedpipe --home-dir /app --shell /usr/sbin/nologin feedpipe \
    && mkdir -p /data \
    && chown feedpipe:feedpipe /data
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FEEDPIPE_DATA_DIR=/data \
    FEEDPIPE_LOG_JSON=true \
    FEEDPIPE_METRICS_HOST=0.0.0.0 \
    FEEDPIPE_METRICS_PORT=9100
WORKDIR /app
USER feedpipe
EXPOSE 9100
# Liveness of the process's HTTP side (/metrics, /healthz, /readyz). The port
# is the one the service serves them on (FEEDPIPE_HEALTH_PORT overrides it,
# e.g. for the api container).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; p = os.environ.get('FEEDPIPE_HEALTH_PORT') or os.environ.get('FEEDPIPE_METRICS_PORT') or '9100'; u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4)"]
ENTRYPOINT ["feedpipe"]
CMD ["--help"]
