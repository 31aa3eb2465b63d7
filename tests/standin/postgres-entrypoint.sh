#!/bin/sh
# The upstream postgres image's first start, for the stand-in: an empty data directory is initialised
# with POSTGRES_USER (password POSTGRES_PASSWORD), POSTGRES_DB is created and the init scripts run.
set -eu
: "${POSTGRES_PASSWORD:?the postgres image needs POSTGRES_PASSWORD}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
install -d -o postgres -g postgres -m 0700 "$PGDATA"
install -d -o postgres -g postgres -m 2775 /var/run/postgresql
as_pg() { runuser -u postgres -- "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
	chown postgres "$pwfile"
	as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
	as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	[ "$db" = postgres ] || as_pg psql -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh) . "$f" ;;
		*.sql) as_pg psql -q -v ON_ERROR_STOP=1 -U "$user" -d "$db" -f "$f" ;;
		esac
	done
	as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*'
