"""Database dumps of the backup set: per catalog `deploy.backup.dumps` kind, the shell that writes the
dump to "$DUMP" before the snapshot and the shell that loads it back on restore (the tool stopped).

postgres, mariadb and mongodb run inside the tool's compose service (`docker compose exec -T`), with
credentials from the container's own environment; sqlite, slapd and a mariadb dump without a service
(Debian's server) run on the host.
"""

from __future__ import annotations

import shlex

from sovstack.catalog import Dump

WAIT = "sovstack_wait"  # the restore script's helper: retry a command for up to two minutes


def dump_name(index: int, dump: Dump) -> str:
    return f"{index + 1}-{dump.kind}.dump"


def commands(dump: Dump, app_dir: str, base_dn: str, path: str | None = None) -> tuple[str, str]:
    """(dump, load) shell for one dump; `path` is the sqlite file, already rendered."""
    compose = f"docker compose -f {app_dir}/compose.yml"
    service = dump.service or ""
    if dump.kind == "postgres":
        user, db = shlex.quote(dump.user or "postgres"), shlex.quote(dump.database or "")
        run = f"{compose} exec -T {service}"
        return (f'{run} pg_dump -U {user} -Fc {db} > "$DUMP"',
                f"{compose} up -d {service}\n{WAIT} {shlex.quote(f'{run} pg_isready -U {user}')}\n"
                f'{run} pg_restore -U {user} -d {db} --clean --if-exists < "$DUMP"')
    if dump.kind == "mariadb" and not dump.service:
        # Debian's server on the host: root logs in over the Unix socket (unix_socket authentication).
        databases = " ".join(shlex.quote(d) for d in (dump.database or "").split())
        return (f'mariadb-dump --single-transaction --routines --events --databases {databases} > "$DUMP"',
                f"systemctl start mariadb\n{WAIT} 'mariadb-admin ping'\nmariadb < \"$DUMP\"")
    if dump.kind == "mariadb":
        user = dump.user or "$MARIADB_USER"
        env = dump.password_env or "MARIADB_PASSWORD"
        login = f'MYSQL_PWD="${env}" exec %s -u"{user}"'
        databases = " ".join(shlex.quote(d) for d in (dump.database or "").split())
        run = f"{compose} exec -T {service} sh -c"
        dump_sh = login % "mariadb-dump" + f" --single-transaction --routines --events --databases {databases}"
        return (f"{run} {shlex.quote(dump_sh)} > \"$DUMP\"",
                f"{compose} up -d {service}\n"
                # The password variable expands in the container, so it stays in single quotes here.
                "# shellcheck disable=SC2016\n"
                f"{WAIT} {shlex.quote(run + ' ' + shlex.quote(login % 'mariadb-admin' + ' ping'))}\n"
                f"{run} {shlex.quote(login % 'mariadb')} < \"$DUMP\"")
    if dump.kind == "mongodb":
        run = f"{compose} exec -T {service}"
        return (f'{run} mongodump --archive --quiet > "$DUMP"',
                f"{compose} up -d {service}\n{WAIT} {shlex.quote(f'{run} mongosh --quiet --eval 1')}\n"
                f'{run} mongorestore --archive --drop --quiet < "$DUMP"')
    if dump.kind == "sqlite":
        file = shlex.quote(path or "")
        load = (f"mkdir -p \"$(dirname {file})\"\nrm -f {file}-wal {file}-shm {file}-journal\n"
                f"cat \"$DUMP\" > {file}")
        if dump.owner:
            load += f"\nchown {dump.owner} {file}"
        return f"sqlite3 {file} \".backup '$DUMP'\"", load
    # slapd: the directory's MDB database, by its base DN (cn=config is rebuilt by `sovstack deploy`).
    base = shlex.quote(base_dn)
    return (f'slapcat -b {base} -l "$DUMP"',
            f'rm -f /var/lib/ldap/data.mdb /var/lib/ldap/lock.mdb\nslapadd -q -b {base} -l "$DUMP"\n'
            "chown -R openldap:openldap /var/lib/ldap")
