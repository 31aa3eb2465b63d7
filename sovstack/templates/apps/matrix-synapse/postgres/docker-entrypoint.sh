#!/bin/sh
# First start: an empty data directory is initialised (initdb with POSTGRES_INITDB_ARGS) with
# POSTGRES_USER as superuser, whose password POSTGRES_PASSWORD reaches initdb in a file, never an
# argument; POSTGRES_DB is created. Every start: the server listens for the compose network,
# password (scram-sha-256) over TCP, trust only on the container's own socket (pg_dump, pg_isready).
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is needed on the first start}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
install -d -o postgres -g postgres -m 0700 "$PGDATA"
install -d -o postgres -g postgres -m 2775 /var/run/postgresql
as_pg() { runuser -u postgres -- "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	chown postgres "$pwfile"
	printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, as in the upstream image
	as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		${POSTGRES_INITDB_ARGS:-} >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
	if [ "$db" != postgres ]; then
		as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		as_pg createdb -U "$user" -- "$db"
		as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*'
