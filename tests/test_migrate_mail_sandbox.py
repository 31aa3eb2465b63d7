"""Moving mail in, for real: Debian 13's Dovecot 2.4 of a deployed postfix-dovecot (with openldap) on a
sandbox server receives a member's mail through `sovstack migrate mail`.

The source is a stand-in for Gmail: a second Dovecot on the same sandbox, 127.0.0.1:10143 only
(tests/standin/gmail-dovecot/), with Gmail-shaped folders, SPECIAL-USE flags under French names, a
non-ASCII folder, flags and a message without Message-ID. It proves what doveadm's imapc does against an
IMAP server that speaks like Gmail's folders, not what Gmail itself does (its throttling, its labels'
own semantics, OAuth). The Takeout source is a generated Takeout-shaped mbox (tests/test_migrate_mail.py).
"""

from __future__ import annotations

import json
import re
import shlex
import socketserver
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from sovstack.engines import sandbox
from sovstack.migrate.movers import mail
from tests.servers import require_docker, sovstack, ssh, write_stack
from tests.test_migrate_mail import TAKEOUT_NAME, takeout

pytestmark = [pytest.mark.sandbox, pytest.mark.docker, pytest.mark.timeout(1500)]
STANDIN = Path(__file__).parent / "standin" / "gmail-dovecot"
TOOLS = {"openldap": {"server": "main"}, "postfix-dovecot": {"server": "main"}}
SOURCE = "imap://alice@old.example@127.0.0.1:10143"  # plain IMAP: the loopback of the sandbox only
SOURCE_PASSWORD = "Src-Secret-0123456789-standin"
SRC = "doveadm -c /etc/dovecot-src/dovecot.conf"
# What must land: every message once, by (folder, Message-ID); All Mail only for label-less mail.
EXPECTED = {("INBOX", "<inbox-1@gmail.example>"), ("INBOX", "<inbox-2@gmail.example>"),
            ("INBOX", "<inbox-3@gmail.example>"), ("INBOX", "<projet-1@gmail.example>"),
            ("Projets", "<projet-1@gmail.example>"), ("Réunions/2024", "<reunion-1@gmail.example>"),
            ("[Gmail]/Sent Mail", "<sent-1@gmail.example>"), ("[Gmail]/All Mail", "<archived-1@gmail.example>")}
SKIPPED_FOLDERS = {"[Gmail]/Spam", "[Gmail]/Corbeille", "[Gmail]/Suivis", "[Gmail]/Important", "[Gmail]/Chats"}


class Deployed:
    def __init__(self, server, work):
        self.server, self.work = server, work


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    require_docker()
    state = tmp_path_factory.mktemp("sandbox-migrate-mail")
    name = "test-migrate-mail"
    server = sandbox.up(name, state_dir=state)
    try:
        work = tmp_path_factory.mktemp("stack-migrate-mail")
        write_stack(work, server, TOOLS)
        sovstack("deploy", "--engine", "pyinfra", cwd=work)
        for member in ("alice", "bob"):
            sovstack("members", "add", member, "--name", member.title(), "--password-stdin", "--no-welcome",
                     cwd=work, stdin=f"{member}-Pass-0123456789\n")
        subprocess.run([*server.ssh_command(), "umask 077; cat > /root/standin-pass"], input=SOURCE_PASSWORD,
                       text=True, check=True, timeout=60, capture_output=True)
        for script in ("start.sh", "seed.sh"):
            subprocess.run([*server.ssh_command(), "sh"], input=(STANDIN / script).read_text(), text=True,
                           check=True, timeout=300, capture_output=True)
        (work / "source.pass").write_text(SOURCE_PASSWORD + "\n")
        (work / "source.pass").chmod(0o600)
        yield Deployed(server, work)
    finally:
        sandbox.down(name, state_dir=state)


def migrate(deployed, *extra: str, source: str = SOURCE, to: str = "alice") -> subprocess.CompletedProcess:
    args = ["migrate", "mail", "--from", source, "--to", to, *extra]
    if source.startswith("imap") and "--token-file" not in extra:
        args += ["--password-file", str(deployed.work / "source.pass")]
    return sovstack(*args, cwd=deployed.work, check=False)


def mailbox(deployed, address: str = "alice@voisins.test") -> set[tuple[str, str]]:
    """(folder, identity) of each message, read with doveadm, independently of the mover's own reading."""
    out = ssh(deployed.server, f"doveadm -f json fetch -u {address} 'mailbox hdr.message-id' all").stdout
    return {("/".join(row["mailbox"].split(".")), row["hdr.message-id"]) for row in json.loads(out or "[]")}


def counts(deployed, address: str = "alice@voisins.test") -> int:
    return len(json.loads(ssh(deployed.server, f"doveadm -f json fetch -u {address} uid all").stdout or "[]"))


def source_folders(deployed) -> list[str]:
    return sorted(ssh(deployed.server, f"{SRC} mailbox list -u alice@old.example").stdout.split("\n"))


def new_mail(message_id: str, subject: str) -> str:
    return (f"From: Bob <bob@example.net>\r\nTo: alice\r\nSubject: {subject}\r\nDate: Tue, 02 Jan 2024 10:00:00 "
            f"+0100\r\nMessage-ID: {message_id}\r\n\r\n{subject}\r\n")


@pytest.fixture(scope="module")
def first_pass(deployed):
    folders_before = source_folders(deployed)
    result = migrate(deployed)
    return result, folders_before


def test_a_first_pass_moves_every_message_once_with_standin_gmail_dovecot(deployed, first_pass):
    result, folders_before = first_pass
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 expected, 9 copied this run, 0 missing" in result.stdout
    found = mailbox(deployed)
    assert EXPECTED <= found
    # the message without Message-ID (label-less, in All Mail) landed once, nothing else did
    assert sorted(found - EXPECTED) == [("[Gmail]/All Mail", "")]
    assert counts(deployed) == len(EXPECTED) + 1
    assert not {folder for folder, _ in found} & SKIPPED_FOLDERS
    # flags came along; the source was only read: no folder created there, nothing marked read
    flags = ssh(deployed.server, "doveadm fetch -u alice@voisins.test flags mailbox INBOX "
                                 "header Message-ID '<inbox-1@gmail.example>'").stdout
    assert "\\Seen" in flags and "\\Flagged" in flags
    assert source_folders(deployed) == folders_before
    unread = ssh(deployed.server, f"{SRC} search -u alice@old.example mailbox INBOX UNSEEN").stdout.split("\n")
    assert len([line for line in unread if line.strip()]) == 2  # inbox-3 and projet-1, as seeded
    # the report beside the stack file names each skipped folder with its reason
    report = json.loads((deployed.work / "migration-report.json").read_text())["moves"][0]
    assert {s["collection"] for s in report["skipped"]} == SKIPPED_FOLDERS | {"[Gmail]/All Mail"}
    assert report["verified"] is True
    # the secret's private directory is gone
    assert ssh(deployed.server, "ls -d /run/sovstack-migrate.* 2>/dev/null; true").stdout == ""


# The server's SSH allows no port forwarding (hardening), so the test reaches the stand-in's loopback port
# through SSH's standard input and output, one SSH session per connection.
RELAY = """
import os, select, socket
s = socket.create_connection(("127.0.0.1", 10143))
while True:
    ready = select.select([0, s], [], [])[0]
    data = os.read(0, 65536) if 0 in ready else s.recv(65536)
    if not data:
        break
    if 0 in ready:
        s.sendall(data)
    else:
        os.write(1, data)
"""


@contextmanager
def standin_port(deployed):
    """A local port that leads to the stand-in on the sandbox's loopback."""
    ssh_command = [*deployed.server.ssh_command(), f"python3 -c {shlex.quote(RELAY)}"]

    class Relay(socketserver.BaseRequestHandler):
        def handle(self):
            with subprocess.Popen(ssh_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL) as far:
                def back():
                    try:
                        for data in iter(lambda: far.stdout.read1(65536), b""):
                            self.request.sendall(data)
                    except (OSError, ValueError):  # either side closed: the connection is over
                        pass
                threading.Thread(target=back, daemon=True).start()
                for data in iter(lambda: self.request.recv(65536), b""):
                    far.stdin.write(data)
                    far.stdin.flush()
                far.stdin.close()

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


def test_the_dry_run_from_the_techies_machine_lists_what_landed_with_standin_gmail_dovecot(deployed, first_pass):
    """--dry-run reads the source from this machine (imaplib), here relayed to the stand-in over SSH."""
    elsewhere = deployed.work.parent / "no-stack-here"
    elsewhere.mkdir(exist_ok=True)
    with standin_port(deployed) as port:
        shown = sovstack("migrate", "mail", "--from", f"imap://alice@old.example@127.0.0.1:{port}", "--dry-run",
                         "--json", "--password-file", str(deployed.work / "source.pass"), cwd=elsewhere)
    listed = json.loads(shown.stdout)
    items = {(i["collection"], i["id"]) for i in listed["items"]}
    assert {i for i in items if not i[1].startswith("no-message-id:")} == EXPECTED
    assert {s["collection"] for s in listed["skipped"]} == SKIPPED_FOLDERS | {"[Gmail]/All Mail"}
    assert list(elsewhere.iterdir()) == []


def test_a_rerun_copies_nothing_with_standin_gmail_dovecot(deployed, first_pass):
    before = counts(deployed)
    result = migrate(deployed)
    assert result.returncode == 0 and "0 copied this run, 0 missing" in result.stdout, result.stdout
    assert counts(deployed) == before


def test_a_message_lost_at_the_destination_is_named_with_standin_gmail_dovecot(deployed, first_pass):
    ssh(deployed.server, "doveadm expunge -u alice@voisins.test mailbox Projets header Message-ID "
                         "'<projet-1@gmail.example>'")
    checked = migrate(deployed, "--verify-only")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "missing: Projets / <projet-1@gmail.example>" in checked.stdout
    report = json.loads((deployed.work / "migration-report.json").read_text())["moves"][0]
    assert report["missing"] == [{"collection": "Projets", "id": "<projet-1@gmail.example>"}]
    assert "**NO**" in (deployed.work / "migration-report.md").read_text()
    repaired = migrate(deployed)  # the next pass brings it back
    assert repaired.returncode == 0 and ("Projets", "<projet-1@gmail.example>") in mailbox(deployed)


def test_mail_arriving_on_both_sides_between_passes_is_in_after_the_final_pass_with_standin_gmail_dovecot(
        deployed, first_pass):
    """The cut-over race, as the facts record it: after a pass, the source and the new mailbox each get a
    message in the same folder (so both have the same next UID). An incremental dsync pass then exits 0
    without the source's message; the verification names it (exit 1), and only --final (-f) brings it."""
    ssh(deployed.server, f"{SRC} mailbox create -u alice@old.example Bureau && printf '"
                         f"{new_mail('<bureau-1@gmail.example>', 'bureau 1')}' | {SRC} save -u alice@old.example -m Bureau")
    assert migrate(deployed).returncode == 0
    ssh(deployed.server, f"printf '{new_mail('<late-source@gmail.example>', 'late at the source')}' | "
                         f"{SRC} save -u alice@old.example -m Bureau")
    ssh(deployed.server, f"printf '{new_mail('<first-local@voisins.test>', 'first local mail')}' | "
                         "doveadm save -u alice@voisins.test -m Bureau")
    late = ("Bureau", "<late-source@gmail.example>")
    for _ in range(2):  # a second incremental pass does not bring it either
        incremental = migrate(deployed)
        assert incremental.returncode == 1 and late not in mailbox(deployed), incremental.stdout
        assert "missing: Bureau / <late-source@gmail.example>" in incremental.stdout
    final = migrate(deployed, "--final")
    assert final.returncode == 0, final.stdout + final.stderr
    found = mailbox(deployed)
    assert late in found and ("Bureau", "<first-local@voisins.test>") in found
    assert EXPECTED <= found


def test_the_source_password_never_shows_in_a_process_list_with_standin_gmail_dovecot(deployed, first_pass):
    """/proc/*/cmdline is sampled on the sandbox during a full pass: doveadm is seen, the password never."""
    sampler = ("rm -f /root/cmdlines; end=$(($(date +%s) + 40)); while [ $(date +%s) -lt $end ] && "
               "[ ! -e /root/stop-sampling ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' "
               ">> /root/cmdlines; echo >> /root/cmdlines; done")
    ssh(deployed.server, "rm -f /root/stop-sampling")
    sampling = subprocess.Popen([*deployed.server.ssh_command(), sampler], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        result = migrate(deployed, "--final")
    finally:
        ssh(deployed.server, "touch /root/stop-sampling")
        sampling.wait(timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = ssh(deployed.server, "cat /root/cmdlines").stdout
    assert "sync -1 -R -f" in seen and "imapc:" in seen  # the sampler saw the migration itself
    assert SOURCE_PASSWORD not in seen
    assert SOURCE_PASSWORD not in result.stdout + result.stderr
    assert SOURCE_PASSWORD not in (deployed.work / "migration-report.json").read_text()


def test_the_secret_file_goes_away_when_doveadm_fails_with_standin_gmail_dovecot(deployed):
    script = mail.migration_script(mail.parse_imap(SOURCE), "/", False,
                                   ["ls \"$d\" > /root/during", "doveadm -c \"$d/migrate.conf\" no-such-command"])
    result = subprocess.run([*deployed.server.ssh_command(), script], input="s3cret-x", text=True,
                            capture_output=True, timeout=120)
    assert result.returncode != 0
    assert ssh(deployed.server, "cat /root/during").stdout.split() == ["migrate.conf", "secret"]
    assert ssh(deployed.server, "ls -d /run/sovstack-migrate.* 2>/dev/null; true").stdout == ""


def test_a_takeout_mbox_lands_by_label_once_with_standin_takeout_file(deployed, tmp_path):
    source = takeout(tmp_path / TAKEOUT_NAME)
    first = migrate(deployed, source=str(source), to="bob")
    assert first.returncode == 0, first.stdout + first.stderr
    found = mailbox(deployed, "bob@voisins.test")
    assert {("INBOX", "<in-1@mail.gmail.com>"), ("Sent", "<to-self@mail.gmail.com>"),
            ("Projets/Subventions", "<arch-1@mail.gmail.com>"), ("Réunions", "<multi@mail.gmail.com>"),
            ("Bureau, CA", "<comma@mail.gmail.com>"), ("Archive", "<upd@mail.gmail.com>")} <= found
    assert not [m for f, m in found if re.search("spam|bin|chat", m)]
    landed = counts(deployed, "bob@voisins.test")
    assert landed == 9  # 13 messages: Spam, Trash, Chat and the repeated one stay out
    again = migrate(deployed, source=str(source), to="bob")
    assert again.returncode == 0 and "0 copied this run" in again.stdout, again.stdout
    assert counts(deployed, "bob@voisins.test") == landed
    # a lost message is named, and the next run imports only that one
    ssh(deployed.server, "doveadm expunge -u bob@voisins.test mailbox Sent header Message-ID '<sent-1@mail.gmail.com>'")
    checked = migrate(deployed, "--verify-only", source=str(source), to="bob")
    assert checked.returncode == 1 and "missing: Sent / <sent-1@mail.gmail.com>" in checked.stdout
    repaired = migrate(deployed, source=str(source), to="bob")
    assert repaired.returncode == 0 and "1 copied this run" in repaired.stdout, repaired.stdout
    assert counts(deployed, "bob@voisins.test") == landed


def test_an_oauth_access_token_logs_in_with_xoauth2_with_standin_gmail_dovecot(deployed, first_pass):
    """--token-file: the inventory (imaplib) and doveadm's imapc (imapc_sasl_mechanisms = xoauth2, the token
    as imapc_password) log in with SASL XOAUTH2. The stand-in checks the token at a local userinfo
    endpoint playing Google's: this proves what Dovecot 2.4.1 and sovstack send, not that Google or
    Microsoft accept a given token (obtaining one is the member's OAuth flow, outside sovstack)."""
    token = "ya29.standin-access-token-0123"
    subprocess.run([*deployed.server.ssh_command(), "umask 077; cat > /root/standin-token"], input=token, text=True,
                   check=True, timeout=60, capture_output=True)
    subprocess.run([*deployed.server.ssh_command(), "sh"], input=(STANDIN / "oauth.sh").read_text(), text=True,
                   check=True, timeout=120, capture_output=True)
    ssh(deployed.server, f"printf '{new_mail('<oauth-1@gmail.example>', 'after oauth')}' | "
                         f"{SRC} save -u alice@old.example -m INBOX")
    (deployed.work / "token").write_text(token)
    (deployed.work / "token").chmod(0o600)
    logins_before = ssh(deployed.server, "grep -c 'method=XOAUTH2' /var/log/dovecot-src.log; true").stdout.strip()
    result = migrate(deployed, "--token-file", str(deployed.work / "token"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("INBOX", "<oauth-1@gmail.example>") in mailbox(deployed)
    logins = int(ssh(deployed.server, "grep -c 'method=XOAUTH2' /var/log/dovecot-src.log").stdout)
    assert logins - int(logins_before or 0) >= 2  # the inventory and the sync
    (deployed.work / "token").write_text("ya29.expired")
    refused = migrate(deployed, "--token-file", str(deployed.work / "token"))
    assert refused.returncode == 2 and "AUTHENTICATIONFAILED" in refused.stderr and "ya29" not in refused.stderr


def test_mail_for_someone_who_is_not_a_member_is_refused_with_standin_gmail_dovecot(deployed, first_pass):
    result = migrate(deployed, to="carol")
    assert result.returncode == 2 and "carol@voisins.test has no mailbox" in result.stderr, result.stderr
    assert "carol" not in ssh(deployed.server, "ls /srv/sovstack/data/postfix-dovecot/mail/voisins.test/").stdout
