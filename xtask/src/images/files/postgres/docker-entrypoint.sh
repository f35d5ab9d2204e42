#!/bin/sh
# Berth lab stand-in for postgres:12.1's docker-entrypoint.sh: on first start
# it "initialises" an empty PGDATA (writing PG_VERSION and the config files
# there, so the volume holds real files), then runs the command, by default
# the stand-in `postgres` server. There is no SQL engine here.
set -e

if [ "$1" = postgres ]; then
	mkdir -p "$PGDATA"
	chown postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"

	if [ -s "$PGDATA/PG_VERSION" ]; then
		echo
		echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
		echo
	else
		echo "The files belonging to this database system will be owned by user \"postgres\"."
		echo "This user must also own the server process."
		echo
		echo "creating subdirectories ... ok"
		mkdir -p "$PGDATA/base" "$PGDATA/global" "$PGDATA/pg_wal"
		echo "$PG_MAJOR" >"$PGDATA/PG_VERSION"
		cat >"$PGDATA/postgresql.conf" <<-CONF
			# Berth lab stand-in for postgres $PG_VERSION
			listen_addresses = '*'
			port = 5432
		CONF
		echo "host all all all md5" >"$PGDATA/pg_hba.conf"
		chown -R postgres:postgres "$PGDATA"
		echo "syncing data to disk ... ok"
		echo
		echo "Success. You can now start the database server."
		echo
		echo "PostgreSQL init process complete; ready for start up."
		echo
	fi
fi

exec "$@"
