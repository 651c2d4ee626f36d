# Stand-in for python:3.11-slim-bookworm, for the container test only (no
# registry is reachable where it runs): Debian bookworm's own Python 3.11 on
# the debootstrapped base image that tests/container/images.py imports.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python-is-python3 \
    && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
