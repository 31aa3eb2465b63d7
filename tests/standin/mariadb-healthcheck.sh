#!/bin/sh
# The upstream image's healthcheck.sh, for the stand-in: --connect (the server answers on its socket)
# and --innodb_initialized (InnoDB is up); --mariadbupgrade is accepted (a fresh Debian server needs none).
set -eu
for test in "$@"; do
	case $test in
	--connect) mariadb-admin --socket=/run/mysqld/mysqld.sock ping >/dev/null ;;
	--innodb_initialized)
		[ "$(mariadb --socket=/run/mysqld/mysqld.sock -N -e "SELECT 1 FROM information_schema.ENGINES
			WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')")" = 1 ] ;;
	--mariadbupgrade) ;;
	*) echo "healthcheck.sh (stand-in): unknown test $test" >&2; exit 1 ;;
	esac
done
