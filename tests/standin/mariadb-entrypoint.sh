#!/bin/sh
# The upstream mariadb image's first start, for the stand-in: an empty /var/lib/mysql is initialised,
# root gets MARIADB_ROOT_PASSWORD, MARIADB_DATABASE and MARIADB_USER (MARIADB_PASSWORD) are created
# and the init scripts run. The *_FILE variants are read too.
set -eu
for var in MARIADB_ROOT_PASSWORD MARIADB_PASSWORD; do
	eval "file=\${${var}_FILE:-}"
	[ -z "$file" ] || eval "$var=\$(cat \"\$file\")"
done
: "${MARIADB_ROOT_PASSWORD:?the mariadb image needs MARIADB_ROOT_PASSWORD}"
install -d -o mysql -g mysql /var/lib/mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
	mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=normal >/dev/null
	mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
	pid=$!
	for _ in $(seq 60); do mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break; sleep 1; done
	sql() { mariadb --socket=/run/mysqld/init.sock -uroot "$@"; }
	q() { printf '%s' "$1" | sed "s/'/''/g; s/\\\\/\\\\\\\\/g"; }
	{
		# no anonymous accounts (they would shadow MARIADB_USER on localhost) and no test database, as upstream
		echo "DROP USER IF EXISTS ''@'localhost'; DROP USER IF EXISTS ''@'$(hostname)'; DROP DATABASE IF EXISTS test;"
		# root in the container by its socket (healthcheck.sh), else by password, as upstream
		echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password" \
			"USING PASSWORD('$(q "$MARIADB_ROOT_PASSWORD")');"
		echo "CREATE USER 'root'@'%' IDENTIFIED BY '$(q "$MARIADB_ROOT_PASSWORD")'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		[ -z "${MARIADB_DATABASE:-}" ] || echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
		if [ -n "${MARIADB_USER:-}" ]; then
			echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(q "${MARIADB_PASSWORD:-}")';"
			[ -z "${MARIADB_DATABASE:-}" ] || echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
		fi
	} | sql
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh) . "$f" ;;
		*.sql) sql -p"$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} < "$f" ;;
		esac
	done
	mariadb-admin --socket=/run/mysqld/init.sock -uroot -p"$MARIADB_ROOT_PASSWORD" shutdown
	wait "$pid" || true
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock
