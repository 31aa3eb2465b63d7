"""A stack on two sandbox servers: mail, members and webmail on "main"; analytics on "web".

Deploy and check pass across both; the server "web" sends its own mail through the mail server
on "main" (Postfix null client, with its own account), and it arrives signed in a member's mailbox.
"""

from __future__ import annotations

import imaplib
import json
import socket
import ssl
import time

import dkim
import pytest
import yaml

from sovstack.engines import sandbox
from sovstack.wiring.dkim import txt_value
from tests.servers import changes, require_docker, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
DOMAIN = "voisins.test"
PASSWORD = "alice-Pass-0123456789"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    require_docker()
    state = tmp_path_factory.mktemp("multi")
    servers = {}
    try:
        for name in ("main", "web"):
            servers[name] = sandbox.up(f"multi-{name}", state_dir=state)
        work = tmp_path_factory.mktemp("stack-multi")
        (work / "sovstack.yml").write_text(yaml.safe_dump({
            "organisation": "Les Voisins", "domain": DOMAIN, "admin_email": f"admin@{DOMAIN}", "tls": "internal",
            "servers": {name: {"address": s.ssh_host, "ssh_port": s.ssh_port, "ssh_key": s.ssh_key,
                               "public_ip": s.address, "check_host_key": False} for name, s in servers.items()},
            "tools": {"postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"},
                      "roundcube": {"server": "main"}, "goaccess": {"server": "web"}}}))
        runs = {"fresh": sovstack("deploy", "--engine", "pyinfra", cwd=work),
                "again": sovstack("deploy", "--engine", "pyinfra", cwd=work)}
        sovstack("members", "add", "alice", "--name", "Alice Martin", "--password-stdin", "--no-welcome", cwd=work,
                 stdin=PASSWORD + "\n")
        yield {"servers": servers, "work": work, "runs": runs}
    finally:
        for name in servers:
            sandbox.down(f"multi-{name}", state_dir=state)


def test_both_servers_converge_and_a_second_run_changes_nothing(two):
    out = two["runs"]["again"].stdout
    changed, operation = [], ""
    for line in out.splitlines():  # name what changed, should it fail
        if line.startswith("--> Starting operation:"):
            operation = line
        elif "Success" in line:
            changed.append(f"{operation} {line.strip()}")
    assert "main: 0 change(s), web: 0 change(s)" in out, changed
    fresh = two["runs"]["fresh"].stdout
    assert "health: web: goaccess https://stats.voisins.test: ok" in fresh
    assert "health: main: roundcube https://webmail.voisins.test: ok" in fresh
    assert changes(fresh) > 0


def test_check_passes_on_both_servers(two):
    result = sovstack("check", "--json", "--only", "services", "--only", "health", "--only", "ports", "--only", "tls",
                      cwd=two["work"], check=False)
    findings = json.loads(result.stdout)
    errors = [f for f in findings if not f["ok"] and f["severity"] == "error"]
    assert result.returncode == 0 and not errors, errors
    assert {f["subject"].split(":")[0] for f in findings if f["check"] == "services"} == {"main", "web"}


def test_mail_from_server_web_relays_through_the_mail_server_on_main_signed(two, tmp_path):
    main, web = two["servers"]["main"], two["servers"]["web"]
    subject = f"from web {time.time()}"
    ssh(web, f"printf 'Subject: {subject}\\n\\nthe backup of web ran\\n' | /usr/sbin/sendmail alice@{DOMAIN}")
    root = tmp_path / "root.crt"
    root.write_text(ssh(main, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt").stdout)
    tls = ssl.create_default_context(cafile=str(root))

    class Client(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            return tls.wrap_socket(socket.create_connection((main.address, 993), timeout),
                                   server_hostname=f"mail.{DOMAIN}")
    deadline, raw = time.monotonic() + 60, None
    while raw is None and time.monotonic() < deadline:
        client = Client(f"mail.{DOMAIN}", 993, ssl_context=tls, timeout=30)
        client.login("alice", PASSWORD)
        client.select("INBOX")
        _, found = client.search(None, "SUBJECT", f'"{subject}"')
        if found[0]:
            raw = client.fetch(found[0].split()[-1], "(RFC822)")[1][0][1]
        client.logout()
        time.sleep(0 if raw else 2)
    assert raw, ssh(web, "postqueue -p; journalctl -n 30 --no-pager | grep postfix", check=False).stdout
    assert b"From: sovstack-web@voisins.test" in raw or b"sovstack-web@voisins.test" in raw.split(b"\r\n\r\n")[0]
    # The fake DNS holds exactly the TXT records `sovstack dns` publishes, and answers only the names
    # they have: the signature verifies only if its selector (s=) and domain (d=) name the published key.
    published = json.loads(sovstack("dns", "--json", cwd=two["work"]).stdout)["records"]
    txt = {r["name"]: r["value"].encode() for r in published if r["type"] == "TXT"}
    secrets = yaml.safe_load((two["work"] / "secrets.yml").read_text())
    assert txt["dkim._domainkey.voisins.test"] == txt_value(secrets["tools"]["postfix-dovecot"]["dkim_key_pem"]).encode()

    def zone(records: dict[str, bytes]):
        def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
            return records.get(name.decode().removesuffix("."))
        return dnsfunc

    assert dkim.verify(raw, dnsfunc=zone(txt))
    # The same key under another selector is not found: the fake DNS does not answer any name.
    elsewhere = {"other._domainkey.voisins.test": txt["dkim._domainkey.voisins.test"]}
    assert not dkim.verify(raw, dnsfunc=zone(elsewhere))


def test_server_web_takes_no_mail_from_outside(two):
    """Its Postfix only sends: nothing listens on 25 beyond its loopback address."""
    listening = ssh(two["servers"]["web"], "ss -Htln 'sport = :25'").stdout
    assert listening and all(line.split()[3].startswith(("127.0.0.1", "[::1]")) for line in listening.splitlines())


def test_backups_also_go_to_a_remote_repository_over_sftp(two):
    """Server "web" doubles as the off-site SFTP host for both servers' restic snapshots."""
    main, web = two["servers"]["main"], two["servers"]["web"]
    for server in (main, web):  # what the README asks the techie to do: let root's key in, once
        key = ssh(server, "test -f /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; "
                          "cat /root/.ssh/id_ed25519.pub").stdout.strip()
        ssh(web, f"install -d -m 0700 /root/.ssh /srv/offsite && echo '{key}' >> /root/.ssh/authorized_keys")
        ssh(server, f"ssh-keyscan -t ed25519 {web.address} >> /root/.ssh/known_hosts 2>/dev/null")
    path = two["work"] / "sovstack.yml"
    stack = yaml.safe_load(path.read_text())
    stack["backup"] = {"remote": f"sftp:root@{web.address}:/srv/offsite/repo"}
    path.write_text(yaml.safe_dump(stack))
    sovstack("deploy", "--engine", "pyinfra", cwd=two["work"])
    out = sovstack("backup", cwd=two["work"]).stdout
    assert out.count(f"and sftp:root@{web.address}:/srv/offsite/repo") == 2, out
    snapshots = ssh(main, "set -a; . /etc/sovstack/backup.env; set +a; "
                          f"restic -r sftp:root@{web.address}:/srv/offsite/repo snapshots --json").stdout
    assert {snap["hostname"] for snap in json.loads(snapshots)} == {"main", "web"}


def test_a_tool_others_need_is_not_removed(two):
    before = (two["work"] / "sovstack.yml").read_text()
    result = sovstack("remove", "postfix-dovecot", cwd=two["work"], check=False)
    assert result.returncode == 2 and "roundcube needs postfix-dovecot" in result.stderr
    assert (two["work"] / "sovstack.yml").read_text() == before


def test_removing_a_tool_keeps_its_data_and_purge_deletes_it(two):
    main, web = two["servers"]["main"], two["servers"]["web"]
    kept = sovstack("remove", "roundcube", "--engine", "pyinfra", cwd=two["work"])
    assert "kept: /srv/sovstack/data/roundcube" in kept.stdout
    assert "webmail" not in ssh(main, "cat /etc/caddy/Caddyfile").stdout
    assert ssh(main, "test -d /srv/sovstack/data/roundcube && ! test -e /etc/php/8.4/fpm/pool.d/roundcube.conf",
               check=False).returncode == 0

    sovstack("remove", "goaccess", "--purge", "--engine", "pyinfra", cwd=two["work"])
    stack = yaml.safe_load((two["work"] / "sovstack.yml").read_text())
    assert set(stack["tools"]) == {"postfix-dovecot", "openldap"}
    assert ssh(web, "test -e /srv/sovstack/data/goaccess || dpkg -s goaccess >/dev/null 2>&1 || "
                    "grep -q stats /etc/caddy/Caddyfile", check=False).returncode == 1
    assert "stats.voisins.test" not in sovstack("dns", cwd=two["work"]).stdout
    assert "main: 0 change(s), web: 0 change(s)" in sovstack("deploy", "--engine", "pyinfra", cwd=two["work"]).stdout
