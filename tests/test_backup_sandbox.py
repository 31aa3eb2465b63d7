"""Restore drill on a sandbox server converged by Ansible with the sample stack (Debian tools for real,
the etherpad stand-in): write known data into every tool, back up, destroy it, restore, compare.

Etherpad's database runs from the postgres stand-in, Debian's real PostgreSQL 17 under the upstream tag
(tests/standin/Dockerfile.postgres): the drill writes real rows and the backup dumps and restores them
with the real commands of sovstack/backup/dumps.py (pg_dump -Fc, pg_restore --clean --if-exists).
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

import pytest
import yaml

from sovstack.backup.dumps import commands
from sovstack.catalog import load_catalog
from sovstack.engines import sandbox
from tests.servers import REAL_TOOLS, build_standins, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
BASE = "dc=voisins,dc=test"
DATA = "/srv/sovstack/data"
ROUNDCUBE_DB = "/var/lib/dbconfig-common/sqlite3/roundcube/roundcube"
MAILDIR = f"{DATA}/postfix-dovecot/mail/voisins.test/drill/Maildir/cur"
COMPOSE = "docker compose -f /srv/sovstack/apps/etherpad/compose.yml"
PSQL = f"{COMPOSE} exec -T postgres psql -q -tA -v ON_ERROR_STOP=1 -U etherpad -d etherpad -c"
ROWS = 500
PROSODY = "/var/lib/prosody"
ROOM = "association@rooms.xmpp.voisins.test"
PASSWORD = "drill-Pass-0123456789"


@pytest.fixture(scope="module")
def server(converged_server):
    # SOVSTACK_BACKUP_DRILL_WORK: the work directory of a sandbox already converged (a local re-run).
    work = os.environ.get("SOVSTACK_BACKUP_DRILL_WORK")
    if work:
        from types import SimpleNamespace

        from sovstack.engines.apply import load
        loaded = load(Path(work) / "sovstack.yml")
        return SimpleNamespace(work=Path(work), server=loaded.target("main"))
    return converged_server("ansible")


def run(server, command: str) -> str:
    return ssh(server.server, command).stdout


def state(server) -> dict[str, str]:
    """What the drill compares: file checksums per tool, LDAP entries, Roundcube rows, the database rows."""
    found = {}
    for tool in ("postfix-dovecot", "goaccess", "etherpad", "openldap", "roundcube"):
        found[f"files:{tool}"] = run(server, f"cd {DATA}/{tool} && find . -path ./postgres -prune -o -type f "
                                             "-print0 | sort -z | xargs -0 -r sha256sum")
    found["ldap:entries"] = run(server, f"slapcat -b {BASE} | grep -c '^dn:'")
    found["ldap:drill"] = run(server, f"ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// -b {BASE} uid=drill uid cn mail "
                                      "userPassword | sha256sum")
    found["roundcube:rows"] = run(server, f"sqlite3 {ROUNDCUBE_DB} 'SELECT count(*) FROM users'")
    found["roundcube:dump"] = run(server, f"sqlite3 {ROUNDCUBE_DB} '.dump users' | sha256sum")
    found["etherpad:rows"] = run(server, f"{PSQL} 'SELECT count(*) FROM drill'")
    found["etherpad:db"] = run(server, f"{PSQL} 'SELECT n, note FROM drill ORDER BY n' | sha256sum")
    # The association's chat room as Prosody serves it: its members (the drill member among them).
    found["prosody:room"] = run(server, f"prosodyctl shell \"muc:affiliations('{ROOM}')\" 2>/dev/null | sort || true")
    return found


@pytest.fixture(scope="module")
def known(server):
    """Known data in every tool, backed up once; removed again after the module (shared server)."""
    cleanup(server)
    sovstack("members", "add", "drill", "--name", "Drill Member", "--password-stdin", "--no-welcome",
             cwd=server.work, stdin=PASSWORD + "\n")
    payload = hashlib.sha256(b"drill").hexdigest()
    run(server, f"install -d -o vmail -g vmail {MAILDIR} && printf 'Subject: drill\\n\\n{payload}\\n' > "
                f"{MAILDIR}/1700000000.drill:2,S && chown vmail:vmail {MAILDIR}/1700000000.drill:2,S")
    run(server, f"sqlite3 {ROUNDCUBE_DB} \"INSERT INTO users (username, mail_host, created, language) "
                f"VALUES ('drill', 'localhost', datetime('now'), 'fr_FR')\"")
    run(server, f"install -d {DATA}/etherpad/uploads && head -c 1048576 /dev/urandom > {DATA}/etherpad/uploads/known.bin")
    run(server, "systemctl start sovstack-prosody-room.service")  # the drill member joins the room
    run(server, f"{PSQL} \"DROP TABLE IF EXISTS drill; CREATE TABLE drill (n int PRIMARY KEY, note text); "
                f"INSERT INTO drill SELECT n, md5(n::text) FROM generate_series(1, {ROWS}) AS n\"")
    before = state(server)
    result = sovstack("backup", cwd=server.work)
    assert "backup: main: snapshot " in result.stdout
    yield before
    cleanup(server)


def cleanup(server) -> None:
    sovstack("members", "remove", "drill", "--purge", cwd=server.work, check=False)
    run(server, f"rm -rf {DATA}/etherpad/uploads /srv/sovstack/pre-restore && "
                f"sqlite3 {ROUNDCUBE_DB} \"DELETE FROM users WHERE username = 'drill'\"")


def test_the_backup_timer_is_enabled_daily_with_standin_etherpad(server):
    assert run(server, "systemctl is-enabled sovstack-backup.timer").strip() == "enabled"
    assert "sovstack-backup.service" in run(server, "systemctl list-timers --all sovstack-backup.timer")


def test_a_wrong_password_fails_clearly_and_changes_nothing_with_standin_etherpad(server, known):
    secrets_path = server.work / "secrets.yml"
    original = secrets_path.read_text()
    data = yaml.safe_load(original)
    data["backup"]["password"] = "not-the-password-" + "x" * 30
    secrets_path.write_text(yaml.safe_dump(data))
    try:
        result = sovstack("restore", cwd=server.work, check=False)
    finally:
        secrets_path.write_text(original)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not open the restic repository" in result.stderr and "nothing was changed" in result.stderr
    assert "fix:" in result.stderr and "not-the-password" not in result.stdout + result.stderr
    assert run(server, "systemctl is-active slapd postfix dovecot php8.4-fpm").split() == ["active"] * 4
    assert run(server, "ls /srv/sovstack/pre-restore 2>/dev/null || true").strip() == ""
    assert state(server) == known


@pytest.mark.proves(REAL_TOOLS, "backup", "restore")
@pytest.mark.proves("etherpad", "backup", "restore", standin=True)
def test_restore_drill_brings_back_identical_data_with_standin_etherpad(server, known):
    run(server, f"ldapdelete -Q -Y EXTERNAL -H ldapi:/// uid=drill,ou=people,{BASE}")
    run(server, f"rm -rf {DATA}/postfix-dovecot/mail/voisins.test/drill {DATA}/etherpad/uploads "
                f"{DATA}/goaccess/html/*")
    # Prosody keeps rooms in memory and saves them when it stops: stop it first, then remove them.
    run(server, f"systemctl stop prosody && rm -rf {PROSODY}/rooms* && systemctl start prosody")
    run(server, f"sqlite3 {ROUNDCUBE_DB} \"DELETE FROM users WHERE username = 'drill'\"")
    run(server, f"{PSQL} 'DELETE FROM drill WHERE n > 10'")
    assert state(server) != known

    result = sovstack("restore", cwd=server.work)
    assert ("restore: main: etherpad, goaccess, openldap, postfix-dovecot, prosody, roundcube from snapshot"
            in result.stdout), result.stdout
    assert "FAILING" not in result.stdout
    after = state(server)
    assert after == known
    assert int(after["roundcube:rows"]) >= 1 and int(after["ldap:entries"]) > 5
    assert int(after["etherpad:rows"]) == ROWS
    # The member logs in again with the same password (slapd serves the restored database).
    run(server, f"ldapwhoami -x -H ldap://127.0.0.1 -D uid=drill,ou=people,{BASE} -w {PASSWORD}")
    # Prosody serves the restored room, the drill member still in it.
    assert "drill@xmpp.voisins.test" in after["prosody:room"], after["prosody:room"]


def test_one_tool_is_restored_alone_from_a_chosen_snapshot_with_standin_etherpad(server, known):
    listing = sovstack("restore", "--list", cwd=server.work).stdout
    snapshot = listing.splitlines()[-1].split()[1]  # the newest: the one `known` took
    run(server, f"rm -f {DATA}/etherpad/uploads/known.bin")
    result = sovstack("restore", "--tool", "etherpad", "--snapshot", snapshot, cwd=server.work)
    assert f"restore: main: etherpad from snapshot {snapshot}" in result.stdout
    assert state(server) == known
    bad = sovstack("restore", "--tool", "nosuchtool", cwd=server.work, check=False)
    assert bad.returncode == 2 and "--tool 'nosuchtool'" in bad.stderr


MARIADB_DRILL = "/srv/mariadb-drill"


@pytest.mark.proves("limesurvey", "backup", "restore", standin=True)
def test_limesurvey_s_mariadb_dump_and_load_bring_back_every_row_with_standin_mariadb(server):
    """The mariadb commands of sovstack/backup/dumps.py for LimeSurvey's catalog dump, run as the backup and
    restore scripts run them (docker compose exec, sovstack-restore's own wait helper), against the MariaDB
    stand-in: Debian's mariadb-server under LimeSurvey's pinned tag, with the image's MARIADB_* contract."""
    tool = load_catalog().tools["limesurvey"]
    image = next(i for i in tool.deploy.images if i.startswith("mariadb:"))
    [dump] = [d for d in tool.deploy.backup.dumps if d.kind == "mariadb"]
    sandbox.load_images(server.server, build_standins({image: []}))
    save, load = commands(dump, MARIADB_DRILL, BASE)
    environment = {"MARIADB_ROOT_PASSWORD": "drill-root-0123456789", "MARIADB_USER": "limesurvey",
                   "MARIADB_PASSWORD": "drill-db-0123456789", "MARIADB_DATABASE": dump.database}
    compose = yaml.safe_dump({"services": {dump.service: {"image": image, "environment": environment}}})
    exec_sql = (f"docker compose -f {MARIADB_DRILL}/compose.yml exec -T {dump.service} sh -c "
                + shlex.quote(f'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb -u"$MARIADB_USER" -N {dump.database}'))

    def sql(statement: str) -> str:
        return run(server, f"printf '%s\\n' {shlex.quote(statement)} | {exec_sql}").strip()

    # The restore script's helper, taken from the script the deploy installed.
    helper = "eval \"$(sed -n '/^sovstack_wait()/,/^}/p' /srv/sovstack/bin/sovstack-restore)\"; "
    try:
        run(server, f"install -d -m 0700 {MARIADB_DRILL} && printf %s {shlex.quote(compose)} > "
                    f"{MARIADB_DRILL}/compose.yml && docker compose -f {MARIADB_DRILL}/compose.yml up -d")
        wait = next(line for line in load.splitlines() if line.startswith("sovstack_wait "))
        run(server, helper + wait)  # until it answers
        sql(f"CREATE TABLE drill (n INT PRIMARY KEY, note VARCHAR(40)); INSERT INTO drill WITH RECURSIVE s(n) AS "
            f"(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS}) SELECT n, MD5(n) FROM s;")
        checksum = ("SET SESSION group_concat_max_len = 1048576; "
                    "SELECT COUNT(*), MD5(GROUP_CONCAT(n, note ORDER BY n)) FROM drill;")
        before = sql(checksum)
        assert before.split()[0] == str(ROWS)
        run(server, f"export DUMP={MARIADB_DRILL}/dump\n{save}")
        assert "CREATE TABLE `drill`" in run(server, f"cat {MARIADB_DRILL}/dump")
        sql("DROP TABLE drill;")
        run(server, helper + f"export DUMP={MARIADB_DRILL}/dump\n{load}")
        assert sql(checksum) == before
    finally:
        run(server, f"docker compose -f {MARIADB_DRILL}/compose.yml down -v >/dev/null 2>&1; rm -rf {MARIADB_DRILL}")
