#!/bin/sh
# Entrypoint of the PostgreSQL stand-in (deploy/ci/postgres.Dockerfile). On an
# empty data directory: initdb with POSTGRES_USER as superuser (password
# POSTGRES_PASSWORD, required over TCP), then POSTGRES_DB created in
# single-user mode. Then the command runs (postgres; PGPORT picks the port).
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}" > "$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres stand-in: created database $POSTGRES_DB owned by $POSTGRES_USER"
fi
exec "$@"
