"""Members and mail, end to end, on a sandbox server converged with Debian's packages for real.

OpenLDAP holds the members (`sovstack members`), Postfix + Dovecot + Rspamd carry their mail, and
Roundcube is a second tool they log in to with the same password. Everything is reached from this
machine over the network, with TLS checked against the server's Caddy CA for mail.voisins.test.
"""

from __future__ import annotations

import email
import imaplib
import json
import re
import shlex
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import dkim
import pytest
import yaml

from sovstack.wiring.dkim import txt_value
from tests import mailbox, xmpp
from tests.servers import sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
DOMAIN = "voisins.test"
MAIL_HOST = f"mail.{DOMAIN}"
PASSWORDS = {"alice": "alice-Pass-0123456789", "bob": "bob-Pass-0123456789"}


@pytest.fixture(scope="module")
def server(converged_server):
    converged = converged_server("pyinfra")
    for username, name in (("alice", "Alice Martin"), ("bob", "Bob Dupont")):
        sovstack("members", "add", username, "--name", name, "--password-stdin", cwd=converged.work,
                 stdin=PASSWORDS[username] + "\n")
    return converged


@pytest.fixture(scope="module")
def tls(server) -> ssl.SSLContext:
    root = server.work / "caddy-root.crt"
    root.write_text(ssh(server.server, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt").stdout)
    return ssl.create_default_context(cafile=str(root))


def imap(server, tls: ssl.SSLContext) -> imaplib.IMAP4_SSL:
    return mailbox.imap(server.server.address, tls, MAIL_HOST)


def imap_login_ok(server, tls, user: str, password: str) -> bool:
    client = imap(server, tls)
    try:
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        client.shutdown()


def submission(server, tls, port: int = 587) -> smtplib.SMTP:
    return mailbox.submission(server.server.address, tls, MAIL_HOST, port)


def wait_for_message(server, tls, user: str, subject: str, timeout: float = 60) -> bytes:
    return mailbox.wait_for(server.server.address, tls, MAIL_HOST, user, PASSWORDS.get(user, ""), subject, timeout)


def dkim_record(server) -> bytes:
    secrets = yaml.safe_load((server.work / "secrets.yml").read_text())
    return txt_value(secrets["tools"]["postfix-dovecot"]["dkim_key_pem"]).encode()


def dkim_valid(message: bytes, record: bytes) -> bool:
    def dns(name, timeout=5):
        return record if name == f"dkim._domainkey.{DOMAIN}.".encode() or name.rstrip(b".") == \
            f"dkim._domainkey.{DOMAIN}".encode() else None
    return dkim.verify(message, dnsfunc=dns)


def webmail_login(server, tls_root: Path, user: str, password: str) -> str:
    """Log in to Roundcube like a browser; returns the page after the login redirect."""
    jar = server.work / f"roundcube-{user}.jar"
    jar.unlink(missing_ok=True)
    curl = ["curl", "-sS", "--cacert", str(tls_root), "--resolve", f"webmail.{DOMAIN}:443:{server.server.address}",
            "-c", str(jar), "-b", str(jar), "-L"]
    page = subprocess.run([*curl, f"https://webmail.{DOMAIN}/"], capture_output=True, text=True, check=True,
                          timeout=900).stdout
    token = re.search(r'name="_token" value="([^"]+)"', page).group(1)
    return subprocess.run([*curl, "--data-urlencode", f"_user={user}", "--data-urlencode", f"_pass={password}",
                           "-d", f"_token={token}&_task=login&_action=login&_timezone=UTC&_url=",
                           f"https://webmail.{DOMAIN}/?_task=login"], capture_output=True, text=True,
                          check=True, timeout=900).stdout


@pytest.mark.parametrize("login", ["alice", "alice@voisins.test"])
@pytest.mark.proves(("postfix-dovecot", "openldap"), "login")
def test_a_member_added_by_sovstack_logs_in_to_imap_by_name_or_address_with_standins(server, tls, login):
    assert imap_login_ok(server, tls, login, PASSWORDS["alice"])
    assert not imap_login_ok(server, tls, login, "not-her-password")


@pytest.mark.proves("roundcube", "login")
def test_the_same_member_logs_in_to_roundcube_with_the_same_password_with_standins(server, tls):
    root = server.work / "caddy-root.crt"
    inbox = webmail_login(server, root, "alice", PASSWORDS["alice"])
    assert "<title>" in inbox and '"task":"mail"' in inbox
    refused = webmail_login(server, root, "alice", "not-her-password")
    assert '"task":"mail"' not in refused and '"task":"login"' in refused


@pytest.mark.proves("postfix-dovecot", "mail")
def test_mail_sent_by_a_member_through_submission_arrives_with_a_valid_dkim_signature_with_standins(server, tls):
    subject = f"rehearsal {time.time()}"
    message = f"From: Alice <alice@{DOMAIN}>\r\nTo: Bob <bob@{DOMAIN}>\r\nSubject: {subject}\r\n\r\nSee you at 8.\r\n"
    with submission(server, tls) as client:
        client.login("alice", PASSWORDS["alice"])
        client.sendmail(f"alice@{DOMAIN}", [f"bob@{DOMAIN}"], message)
    received = wait_for_message(server, tls, "bob", subject)
    assert b"DKIM-Signature:" in received
    assert dkim_valid(received, dkim_record(server))
    # The same check fails with another key: the signature really is made with the stack's key.
    from sovstack.stack.secrets import new_private_key
    assert not dkim_valid(received, txt_value(new_private_key()).encode())


def test_implicit_tls_submission_on_465_takes_a_members_mail_with_standins(server, tls):
    subject = f"on 465 {time.time()}"
    address = server.server.address

    class Client(smtplib.SMTP_SSL):  # connect to the sandbox's address, check the name mail.voisins.test
        def _get_socket(self, host, port, timeout):
            return tls.wrap_socket(socket.create_connection((address, port), timeout), server_hostname=MAIL_HOST)
    with Client(MAIL_HOST, 465, timeout=30, context=tls) as client:
        client.login("bob", PASSWORDS["bob"])
        client.sendmail(f"bob@{DOMAIN}", [f"alice@{DOMAIN}"], f"From: bob@{DOMAIN}\r\nSubject: {subject}\r\n\r\nhi\r\n")
    assert dkim_valid(wait_for_message(server, tls, "alice", subject), dkim_record(server))


def test_the_welcome_mail_lists_every_tool_and_is_signed_with_standins(server, tls):
    welcome = wait_for_message(server, tls, "alice", "Welcome to Les Voisins")
    body = email.message_from_bytes(welcome).get_payload(decode=True).decode()
    assert f"https://webmail.{DOMAIN}" in body and f"https://pad.{DOMAIN}" in body
    assert "Log in: with your user name (or address) and password" in body  # Roundcube, via the directory
    assert PASSWORDS["alice"] not in body  # she chose it; it is never mailed back
    assert dkim_valid(welcome, dkim_record(server))


def test_relaying_for_a_stranger_is_refused_with_standins(server):
    with smtplib.SMTP(server.server.address, 25, timeout=30) as client:
        client.ehlo("stranger.example")
        # The null sender passes the sender checks (whose DNS lookups a sandbox cannot make), so
        # the answer comes from the relay rule itself.
        client.mail("<>")
        code, reply = client.rcpt("victim@elsewhere.example")
    assert code == 554 and b"Relay access denied" in reply


def test_submission_refuses_strangers_and_members_posing_as_others_with_standins(server, tls):
    with submission(server, tls) as client:
        client.mail(f"alice@{DOMAIN}")
        code, _ = client.rcpt("victim@elsewhere.example")
        assert code in (503, 530, 553, 554)  # no login: refused
    with submission(server, tls) as client:
        client.login("bob", PASSWORDS["bob"])
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(f"alice@{DOMAIN}", [f"alice@{DOMAIN}"], "Subject: forged\r\n\r\nx\r\n")


def smtp_login_ok(server, tls, user: str, password: str, port: int) -> bool:
    """SMTP AUTH on submission: 587 after STARTTLS, 465 in implicit TLS."""
    address = server.server.address

    class Implicit(smtplib.SMTP_SSL):  # connect to the sandbox's address, check the name mail.voisins.test
        def _get_socket(self, host, port, timeout):
            return tls.wrap_socket(socket.create_connection((address, port), timeout), server_hostname=MAIL_HOST)
    with (submission(server, tls) if port == 587 else Implicit(MAIL_HOST, 465, timeout=30, context=tls)) as client:
        try:
            client.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def ldap_bind_ok(server, user: str, password: str) -> bool:
    """A simple bind as the member's own entry, as the tools wired to the directory check a login."""
    result = ssh(server.server, f"umask 077; printf %s {shlex.quote(password)} > /root/.memberpw; "
                                f"ldapwhoami -x -H ldap://127.0.0.1 -D uid={user},ou=people,dc=voisins,dc=test "
                                "-y /root/.memberpw; code=$?; rm -f /root/.memberpw; exit $code", check=False)
    assert result.returncode in (0, 49), result.stderr  # 49: invalid credentials; anything else is a broken probe
    return result.returncode == 0


def logins(server, tls, user: str) -> dict[str, bool]:
    """Every way a member logs in on this stack: IMAP, SMTP submission (587 and 465), Roundcube, chat, LDAP."""
    password = PASSWORDS[user]
    return {"imap": imap_login_ok(server, tls, user, password),
            "submission 587": smtp_login_ok(server, tls, user, password, 587),
            "submission 465": smtp_login_ok(server, tls, user, password, 465),
            "roundcube": '"task":"mail"' in webmail_login(server, server.work / "caddy-root.crt", user, password),
            "chat (xmpp)": xmpp.login_ok(server.server.address, f"{user}@xmpp.{DOMAIN}", password, tls),
            "ldap bind": ldap_bind_ok(server, user, password)}


@pytest.mark.proves(("postfix-dovecot", "roundcube", "prosody", "openldap"), "disabled-refused")
def test_a_disabled_member_cannot_log_in_anywhere_until_enabled_with_standins(server, tls):
    everywhere = {"imap": True, "submission 587": True, "submission 465": True, "roundcube": True, "chat (xmpp)": True,
                  "ldap bind": True}
    assert logins(server, tls, "bob") == everywhere  # each probe can succeed, so a refusal below means something
    sovstack("members", "disable", "bob", cwd=server.work)
    try:
        assert logins(server, tls, "bob") == dict.fromkeys(everywhere, False)
        assert logins(server, tls, "alice") == everywhere  # only bob is locked out
        listed = json.loads(sovstack("members", "list", "--json", cwd=server.work).stdout)
        assert {m["username"]: m["disabled"] for m in listed} == {"alice": False, "bob": True}
    finally:
        sovstack("members", "enable", "bob", cwd=server.work)
    assert logins(server, tls, "bob") == everywhere


def test_imported_members_get_their_chosen_password_by_mail_and_can_log_in_with_standins(server, tls):
    csv = server.work / "new-members.csv"
    # The welcome mail (with the password sovstack chose) goes to each member's own address: here
    # Bob's mailbox, which the test can read.
    csv.write_text('username,name,email\ncarol,"Carol Ünal, treasurer",bob@voisins.test\n', encoding="utf-8")
    sovstack("members", "import", str(csv), cwd=server.work)
    welcome = email.message_from_bytes(wait_for_message(server, tls, "bob", "Welcome to Les Voisins: your member"))
    body = welcome.get_payload(decode=True).decode()
    assert "Carol Ünal, treasurer" in body
    password = re.search(r"Password:\s+(\S+)", body).group(1)
    assert imap_login_ok(server, tls, "carol", password)

    sovstack("members", "remove", "carol", "--purge", cwd=server.work)
    assert not imap_login_ok(server, tls, "carol", password)
    with smtplib.SMTP(server.server.address, 25, timeout=30) as client:
        client.ehlo("friend.example")
        client.mail("<>")
        code, _ = client.rcpt(f"carol@{DOMAIN}")
    assert code == 550  # her address is gone with her


@pytest.mark.parametrize("csv_text, named", [
    ("username,name,email\nBad Name,X,x@example.org\n", "line 2 column username"),
    ("username,name,email\ndan,Dan,not-an-address\n", "line 2 column email"),
    ("user,name,email\ndan,Dan,dan@example.org\n", "line 1"),
    ("username,name,email\ndan,Dan,dan@example.org\ndan,Dan,dan@example.org\n", "already on line 2"),
])
def test_a_bad_csv_names_the_line_and_adds_nobody_with_standins(server, csv_text, named):
    csv = server.work / "bad.csv"
    csv.write_text(csv_text)
    before = sovstack("members", "list", "--json", cwd=server.work).stdout
    result = sovstack("members", "import", str(csv), cwd=server.work, check=False)
    assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr
    assert sovstack("members", "list", "--json", cwd=server.work).stdout == before


def test_adding_an_existing_member_changes_nothing_with_standins(server):
    result = sovstack("members", "add", "alice", "--name", "Another Alice", "--password-stdin", cwd=server.work,
                      stdin="whatever-password-123\n", check=False)
    assert result.returncode == 2 and "already members: alice" in result.stderr
    listed = json.loads(sovstack("members", "list", "--json", cwd=server.work).stdout)
    assert [m["name"] for m in listed if m["username"] == "alice"] == ["Alice Martin"]


def test_the_directory_tells_anonymous_clients_nothing_and_service_accounts_no_hashes_with_standins(server):
    anonymous = ssh(server.server, "ldapsearch -x -LLL -H ldap://127.0.0.1 -b dc=voisins,dc=test uid", check=False)
    assert "uid:" not in anonymous.stdout
    secrets = yaml.safe_load((server.work / "secrets.yml").read_text())
    password = secrets["tools"]["postfix-dovecot"]["ldap_bind_password"]
    # -y reads the whole file as the password: no trailing newline.
    as_service = ssh(server.server, f"umask 077; printf %s '{password}' > /root/.bindpw && ldapsearch -x -LLL "
                     "-H ldap://127.0.0.1 -D cn=postfix-dovecot,ou=services,dc=voisins,dc=test -y /root/.bindpw "
                     "-b ou=people,dc=voisins,dc=test uid userPassword; rm -f /root/.bindpw")
    assert "uid: alice" in as_service.stdout and "userPassword" not in as_service.stdout


def test_a_container_reaches_the_directory_through_the_docker_host_gateway_standin_image(server):
    """What LDAP-wired containers rely on: host.docker.internal:389 from a compose network."""
    probe = ("import socket; s = socket.create_connection(('host.docker.internal', 389), 5); "
             "print('connected')")
    ssh(server.server, "docker network create sovstack-probe >/dev/null 2>&1 || true")
    result = ssh(server.server, "docker run --rm --network sovstack-probe --add-host host.docker.internal:host-gateway "
                 f"--entrypoint python3 etherpad/etherpad:2.6.1 -c \"{probe}\"")
    assert result.stdout.strip() == "connected"
