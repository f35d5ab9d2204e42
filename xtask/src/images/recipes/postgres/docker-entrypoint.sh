#!/bin/bash
# The image's entrypoint. When the command is `postgres`:
#  1. as root, it hands PGDATA and the socket directory to user postgres and re-runs itself as
#     that user (setpriv, from util-linux: no extra package);
#  2. as postgres, on the first start (no PG_VERSION in PGDATA) it runs initdb with
#     POSTGRES_USER/POSTGRES_PASSWORD, lets other hosts in with a password, starts a private
#     server (socket only), creates POSTGRES_DB, runs /docker-entrypoint-initdb.d/* in name
#     order, and stops it;
#  3. it execs the server, so postgres is PID 1 and gets `docker stop`'s SIGINT itself.
# Any other command (bash, psql …) just runs.
set -Eeo pipefail

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

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
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
        echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
        echo '       Pass a password to docker run with -e POSTGRES_PASSWORD=password' >&2
        echo '       (or -e POSTGRES_HOST_AUTH_METHOD=trust to let anyone in without one).' >&2
        exit 1
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
