#!/bin/sh
# Berth lab stand-in for nginx's /docker-entrypoint.sh: nothing to configure,
# so it says so and runs the command (by default `nginx -g 'daemon off;'`).
echo "/docker-entrypoint.sh: Berth lab stand-in for nginx (busybox httpd)"
echo "/docker-entrypoint.sh: Configuration complete; ready for start up"
exec "$@"
