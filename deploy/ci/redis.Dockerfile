# Stand-in for redis:7.x-alpine, for the container test only: Debian
# bookworm's redis-server 7.0, run as the redis user in /data like upstream's.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
CMD ["redis-server"]
