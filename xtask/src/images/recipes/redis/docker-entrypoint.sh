#!/bin/bash
# The image's entrypoint. When the command is the server:
#  - started as root, it hands /data to user redis and re-runs itself as that user
#    (setpriv, from util-linux: no extra package);
#  - it turns protected mode off, as Docker Hub's build does: without a password Redis
#    would refuse every client but localhost, and the labs connect from other containers.
#    A config file given first stays first (redis-server reads it from there).
set -e

# `docker run redis --appendonly yes` passes server options.
if [ "${1:0:1}" = '-' ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ]; then
    if [ "$(id -u)" = '0' ]; then
        chown -R redis:redis /data 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$BASH_SOURCE" "$@"
    fi
    shift
    if [ $# -gt 0 ] && [ "${1:0:1}" != '-' ]; then
        config=$1
        shift
        set -- redis-server "$config" --protected-mode no "$@"
    else
        set -- redis-server --protected-mode no "$@"
    fi
fi

exec "$@"
