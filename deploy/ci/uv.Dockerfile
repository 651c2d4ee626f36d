# Stand-in for ghcr.io/astral-sh/uv:VERSION, for the container test only: the
# same static uv binary at /uv, taken from uv's wheel on PyPI.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS fetch
ARG UV_VERSION
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-pip \
    && pip install --break-system-packages --no-deps --target /opt/uv "uv==${UV_VERSION}"

FROM scratch
COPY --from=fetch /opt/uv/bin/uv /uv
ENTRYPOINT ["/uv"]
