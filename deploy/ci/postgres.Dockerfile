# Stand-in for postgres:17-alpine, for the container test only: Debian
# bookworm's PostgreSQL 15 with an entrypoint that, like upstream's, creates
# the cluster, user and database named by POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB on the first start. It listens on localhost (host networking).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# No "main" cluster from the package's postinst: the entrypoint makes its own.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
    && chmod 700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
USER postgres
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
