#!/bin/sh
# The image's entrypoint: when the command is nginx, first run the executable scripts in
# /docker-entrypoint.d (as the upstream image does, so a lab can drop one in), then exec the
# command, so nginx is PID 1 and receives `docker stop`'s SIGQUIT itself.
set -e
case "$1" in
nginx | nginx-debug)
    for script in /docker-entrypoint.d/*; do
        [ -f "$script" ] && [ -x "$script" ] || continue
        echo "$0: running $script"
        "$script"
    done
    ;;
esac
exec "$@"
