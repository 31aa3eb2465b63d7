"""The diagnosis drill on a sandbox server converged by pyinfra: break one thing at a time, check that
`sovstack check` names it and its fix, repair it, and check that it is fine again.

The sandbox is shared with the other sandbox tests of the session: every break is undone in `finally`.
A deleted DNS record is drilled without a server, against a real DNS server, in tests/test_dns.py.
"""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest

from tests.servers import REAL_TOOLS, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
STAMP = "/srv/sovstack/backups/last-success"
DRILL_DISK = "/srv/sovstack/drill-disk"


@pytest.fixture(scope="module")
def server(converged_server):
    return converged_server("pyinfra")


def check(server, *only: str) -> tuple[int, list[dict]]:
    args = [a for name in only for a in ("--only", name)]
    result = sovstack("check", "--json", *args, cwd=server.work, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def about(findings: list[dict], subject: str) -> dict:
    [found] = [f for f in findings if f["subject"] == f"main: {subject}"]
    return found


def problems(findings: list[dict]) -> list[str]:
    return [f"{f['severity']} {f['subject']}: {f['what']}" for f in findings if not f["ok"]]


@pytest.mark.proves(REAL_TOOLS, "diagnosis")
@pytest.mark.proves("etherpad", "diagnosis", standin=True)
def test_a_converged_server_passes_the_checks_that_depend_on_sovstack_with_standins(server):
    code, found = check(server, "services", "health", "ports", "tls")
    # What the manifest set up is fine (a failed unit of its own is said apart, in the drill's output).
    assert not [p for p in problems(found) if ": systemd unit " not in p], problems(found)
    assert {f["check"] for f in found} == {"services", "health", "ports", "tls"}
    # Every web tool answers, and Caddy's internal certificates (12 h) are not taken for expiring ones.
    for fqdn in ("pad.voisins.test", "webmail.voisins.test", "mail.voisins.test"):
        assert about(found, f"https://{fqdn}")["ok"], problems(found)
    for unit in ("dovecot", "postfix", "slapd", "caddy", "sovstack-diagnose.timer"):
        assert about(found, unit)["ok"]
    # The other checks run too, whatever this machine's disk, memory and updates are.
    code, found = check(server, "disk", "memory", "updates", "reboot", "backup")
    assert {f["check"] for f in found} == {"disk", "memory", "updates", "reboot", "backup"}


def test_a_stopped_service_is_named_with_its_fix_with_standins(server):
    try:
        ssh(server.server, "systemctl stop dovecot")
        code, found = check(server, "services", "ports")
        assert code == 1
        stopped = about(found, "dovecot")
        assert not stopped["ok"] and stopped["severity"] == "error" and "inactive" in stopped["what"]
        assert "systemctl restart dovecot" in stopped["fix"] and "journalctl -u dovecot" in stopped["fix"]
        assert stopped["why"]
        imaps = about(found, "port 993")
        assert not imaps["ok"] and "nothing listens" in imaps["what"]
        human = sovstack("check", "--only", "services", cwd=server.work, check=False)
        assert human.returncode == 1
        assert "dovecot is inactive" in human.stdout and "fix: see why it stopped" in human.stdout
    finally:
        ssh(server.server, "systemctl start dovecot")
    code, found = check(server, "services", "ports")
    assert about(found, "dovecot")["ok"] and about(found, "port 993")["ok"]


# The disk check watches every filesystem sovstack writes to: those holding /, /srv/sovstack and
# /var/lib/docker, and any filesystem mounted under /srv/sovstack (a data or backup disk). The drill
# mounts a small tmpfs there, as an admin mounts a data disk, and fills it: the sandbox's root
# filesystem is this machine's own disk, which a test must not fill, and a threshold lowered for
# the test would not prove the real one.
@pytest.mark.parametrize("fill_kib,severity", [(8 * 1024, None), (14 * 1024, "warning"), (15 * 1024 + 512, "error")])
def test_a_full_disk_is_named_with_its_fix_with_standins(server, fill_kib, severity):
    try:
        ssh(server.server, f"mkdir -p {DRILL_DISK} && mount -t tmpfs -o size=16m sovstack-drill {DRILL_DISK} && "
                           f"fallocate -l {fill_kib}K {DRILL_DISK}/filler")
        code, found = check(server, "disk")
        disk = about(found, f"disk {DRILL_DISK}")
        if severity is None:
            assert disk["ok"] and "% free" in disk["what"]
            return
        assert not disk["ok"] and disk["severity"] == severity and "almost full" in disk["what"]
        assert "du -xh" in disk["fix"] and DRILL_DISK in disk["fix"] and disk["why"], disk
        # The exit code says whether some finding is an error: this one, or another filesystem's (the
        # sandbox's other filesystems are this machine's disks, which the drill does not control).
        errors = [f["subject"] for f in found if not f["ok"] and f["severity"] == "error"]
        assert (f"main: disk {DRILL_DISK}" in errors) is (severity == "error"), errors
        assert code == (1 if errors else 0), (code, errors)
    finally:
        ssh(server.server, f"umount {DRILL_DISK} 2>/dev/null; rmdir {DRILL_DISK} 2>/dev/null; true")
    _, found = check(server, "disk")
    assert not [f for f in found if DRILL_DISK in f["subject"]]


HOUR = 3600


@pytest.mark.parametrize("stamp,severity,words", [
    (None, "warning", "no backup yet"),
    (lambda now: str(int(now - 2 * HOUR)), None, "last backup 2 hours ago"),
    (lambda now: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30 * HOUR)), "warning", "30 hours old"),
    (lambda now: str(int(now - 5 * 24 * HOUR)), "error", "5 days old"),
    (lambda now: "yesterday", "warning", "does not hold a time"),
], ids=["missing", "fresh epoch", "30 h ISO", "5 days", "garbage"])
def test_the_age_of_the_last_backup_with_standins(server, stamp, severity, words):
    kept = ssh(server.server, f"cat {STAMP} 2>/dev/null || echo MISSING", check=False).stdout
    try:
        if stamp is None:
            ssh(server.server, f"rm -f {STAMP}")
        else:
            value = stamp(time.time())
            ssh(server.server, f"mkdir -p $(dirname {STAMP}) && printf '%s\\n' {shlex.quote(value)} > {STAMP}")
        code, found = check(server, "backup")
        backup = about(found, "last backup")
        assert words in backup["what"], backup
        if severity is None:
            assert backup["ok"]
        else:
            assert not backup["ok"] and backup["severity"] == severity and backup["fix"] and backup["why"]
        assert code == (1 if severity == "error" else 0)
    finally:
        restore = (f"rm -f {STAMP}" if kept.strip() == "MISSING"
                   else f"printf '%s' {shlex.quote(kept)} > {STAMP}")
        ssh(server.server, restore)


def mailed(output: str) -> tuple[int, int]:
    match = re.search(r"mailed admin@voisins.test: (\d+) new problem\(s\), (\d+) fixed", output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


def test_the_daily_timer_mails_only_what_changed_with_standins(server):
    diagnose = "python3 /srv/sovstack/bin/sovstack-diagnose --mail --only services,ports --state /root/drill-state.json"
    inbox = "/srv/sovstack/data/postfix-dovecot/mail/voisins.test/admin"
    assert ssh(server.server, "systemctl is-enabled sovstack-diagnose.timer").stdout.strip() == "enabled"
    assert ssh(server.server, "systemctl is-active sovstack-diagnose.timer").stdout.strip() == "active"
    # The admin's address is a member here, so the mail lands in a mailbox this test can read.
    sovstack("members", "add", "admin", "--name", "Admin", "--password-stdin", "--no-welcome", cwd=server.work,
             stdin="admin-Pass-0123456789\n")
    try:
        ssh(server.server, "rm -f /root/drill-state.json")
        ssh(server.server, diagnose)  # the first run mails whatever is already wrong, and remembers it
        already = set(json.loads(ssh(server.server, "cat /root/drill-state.json").stdout))
        assert "nothing changed since the last check" in ssh(server.server, diagnose).stdout
        ssh(server.server, "systemctl stop dovecot")
        new, fixed = mailed(ssh(server.server, diagnose).stdout)
        # Exactly what stopping Dovecot broke is new: the service and its IMAPS port, nothing else.
        state = json.loads(ssh(server.server, "cat /root/drill-state.json").stdout)
        assert set(state) - already == {"services|dovecot", "ports|port 993"} and already <= set(state), (already, state)
        assert state["services|dovecot"]["what"] == "dovecot is inactive", state["services|dovecot"]
        assert "nothing listens" in state["ports|port 993"]["what"], state["ports|port 993"]
        assert (new, fixed) == (2, 0)
        assert "nothing changed since the last check" in ssh(server.server, diagnose).stdout
        ssh(server.server, "systemctl start dovecot")
        new, fixed = mailed(ssh(server.server, diagnose).stdout)
        assert (new, fixed) == (0, 2)
        assert set(json.loads(ssh(server.server, "cat /root/drill-state.json").stdout)) == already
        # Postfix delivered the mails: the one naming dovecot and its fix (queued while Dovecot, which stores
        # the admin's mail here, was down: flushed now), then the one saying it is fixed.
        ssh(server.server, "postqueue -f")
        deadline = time.monotonic() + 60
        while not ssh(server.server, f"grep -rl 'dovecot is inactive' {inbox} || true").stdout.strip():
            assert time.monotonic() < deadline, ssh(server.server, "mailq").stdout
            time.sleep(2)
        mails = ssh(server.server, f"grep -rh -A3 'dovecot is inactive' {inbox}").stdout
        assert "fix: see why it stopped: journalctl -u dovecot" in mails
        assert ssh(server.server, f"grep -rl 'Subject: \\[sovstack\\] main: 0 new problem(s), ' {inbox}").stdout
        # The timer's own unit runs the same script and logs what it did.
        ssh(server.server, "systemctl start sovstack-diagnose.service")
        log = ssh(server.server, "journalctl -u sovstack-diagnose.service --no-pager -n 20").stdout
        said = re.search(r"mailed admin@voisins\.test: \d+ new problem\(s\), \d+ fixed|nothing changed since the last check",
                         log)
        assert said, log
        assert ssh(server.server, "systemctl show -p Result --value sovstack-diagnose.service").stdout.strip() == "success"
    finally:
        ssh(server.server, "systemctl start dovecot; rm -f /root/drill-state.json")
        sovstack("members", "remove", "admin", "--purge", cwd=server.work, check=False)
