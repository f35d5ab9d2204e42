#!/bin/bash
# The image's entrypoint. When the command is `postgres`:
#  1. as root, it hands PGDATA and the socket directory to user postgres and re-runs itself as
#     that user (setpriv, from util-linux: no extra package);
#  2. as postgres, on the first start (no PG_VERSION in PGDATA) it runs initdb with
#     POSTGRES_USER/POSTGRES_PASSWORD, lets other hosts in with that password (or, without
#     one, as postgres:12.1 did: without a password, after a warning), starts a private
#     server (socket only), creates POSTGRES_DB, runs /docker-entrypoint-initdb.d/* in name
#     order, and stops it;
#  3. it execs the server, so postgres is PID 1 and gets `docker stop`'s SIGINT itself.
# Any other command (bash, psql …) just runs.
set -Eeo pipefail

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"

# `docker run postgres -c shared_buffers=256MB` passes server options.
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != 'postgres' ]; then
    exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

# One client command against the private first-start server, as the superuser.
psql_private() {
    PGPASSWORD= psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password "$@"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The tag is the course's 12.1, so the image starts as 12.1's did without a password:
    # trusting every connection, with a warning (images from 12.2 on refuse to start).
    if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
        if [ -n "$POSTGRES_PASSWORD" ]; then
            POSTGRES_HOST_AUTH_METHOD=scram-sha-256
        else
            POSTGRES_HOST_AUTH_METHOD=trust
            cat >&2 <<-'WARNING'
			****************************************************
			WARNING: No password has been set for the database.
			         This will allow anyone with access to the
			         Postgres port to access your database. In
			         Docker's default configuration, this is
			         effectively any other container on the same
			         system.

			         Use "-e POSTGRES_PASSWORD=password" to set
			         it in "docker run".
			****************************************************
			WARNING
        fi
    fi
    echo "initialising $PGDATA for user $POSTGRES_USER"
    # The password goes through a file descriptor, never the command line (ps would show it).
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" $POSTGRES_INITDB_ARGS
    # initdb lets in localhost only; a container is reached over its network.
    printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

    # A private server: no TCP, so nothing connects before the setup is done.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != 'postgres' ]; then
        # Through stdin: psql expands :"db" (quoted as an identifier) there, not in -c.
        echo 'CREATE DATABASE :"db";' | psql_private --dbname postgres --set db="$POSTGRES_DB"
    fi
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
        *.sh) echo "$0: running $file"; . "$file" ;;
        *.sql) echo "$0: running $file"; psql_private --dbname "$POSTGRES_DB" -f "$file" ;;
        *.sql.gz) echo "$0: running $file"; gunzip -c "$file" | psql_private --dbname "$POSTGRES_DB" ;;
        *) if [ -e "$file" ]; then echo "$0: ignoring $file"; fi ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
