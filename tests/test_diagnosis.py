"""The diagnosis without a server: parsing and thresholds of bin/sovstack-diagnose, the change mail of
the daily timer, what render puts on the server for it, and how `sovstack check` reads the script."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json

import pytest
import yaml

from sovstack.check.run import CHECKS, CheckInput
from sovstack.check.servers import parse_output, server_findings, servers_to_examine
from sovstack.engines.apply import load, render_all
from sovstack.paths import templates_dir

SCRIPT_PATH = templates_dir() / "server" / "root" / "srv" / "sovstack" / "bin" / "sovstack-diagnose"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("sovstack_diagnose", str(SCRIPT_PATH))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


script = _load_script()
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def test_the_script_and_sovstack_check_know_the_same_checks():
    assert [name for name in CHECKS if name not in ("dns", "wiring")] == script.CHECK_NAMES


@pytest.mark.parametrize("free,total,ok,severity", [
    (50, 100, True, "info"),
    (15, 100, True, "info"),  # exactly at the threshold: fine
    (14.9, 100, False, "warning"),
    (5, 100, False, "warning"),
    (4.9, 100, False, "error"),
    (0, 100, False, "error"),
    (0, 0, False, "error"),  # a filesystem without blocks counts as full
])
def test_disk_thresholds(free, total, ok, severity):
    found = script.disk_verdict("/srv", free * 2**30, total * 2**30)
    assert (found["ok"], found["severity"]) == (ok, severity)
    assert found["subject"] == "disk /srv"
    if not ok:
        assert "almost full" in found["what"] and found["fix"] and found["why"]


@pytest.mark.parametrize("available,ok,severity", [(50, True, "info"), (10, True, "info"), (9, False, "warning"),
                                                    (2, False, "error")])
def test_memory_thresholds(available, ok, severity):
    found = script.memory_verdict(available * 2**20, 100 * 2**20)
    assert (found["ok"], found["severity"]) == (ok, severity)


def test_meminfo():
    info = script.parse_meminfo("MemTotal:       16318412 kB\nMemFree:  1 kB\nMemAvailable:    8000000 kB\nHugePages_Total:       0\n")
    assert info["MemTotal"] == 16318412 * 1024 and info["MemAvailable"] == 8000000 * 1024


@pytest.mark.parametrize("lifetime,left,ok,severity", [
    (90 * D, 60 * D, True, "info"),  # Let's Encrypt, renewed at 30 days left
    (90 * D, 15 * D, True, "info"),
    (90 * D, 13 * D, False, "warning"),
    (90 * D, -H, False, "error"),
    (12 * H, 11 * H, True, "info"),  # Caddy's internal CA: 12 h certificates are not "expiring soon"
    (12 * H, 3 * H, True, "info"),  # ... nor when Caddy is about to renew them
    (12 * H, 1.5 * H, False, "warning"),  # past a sixth of its lifetime: Caddy failed to renew
    (12 * H, -dt.timedelta(minutes=1), False, "error"),
    (365 * D, 20 * D, True, "info"),
])
def test_certificate_thresholds(lifetime, left, ok, severity):
    not_after = NOW + left
    found = script.tls_verdict("https://pad.example.org", not_after - lifetime, not_after, NOW)
    assert (found["ok"], found["severity"]) == (ok, severity), found
    if severity == "error":
        assert "expired" in found["what"] and "journalctl -u caddy" in found["fix"]


def test_a_certificate_from_the_future_is_an_error():
    found = script.tls_verdict("https://x", NOW + H, NOW + 90 * D, NOW)
    assert not found["ok"] and found["severity"] == "error" and "not valid yet" in found["what"]


def test_openssl_dates():
    before, after = script.parse_openssl_dates("notBefore=Jun  1 00:00:00 2025 GMT\nnotAfter=Aug 30 23:59:59 2025 GMT\n")
    assert before == dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
    assert after == dt.datetime(2025, 8, 30, 23, 59, 59, tzinfo=dt.timezone.utc)
    with pytest.raises(KeyError):
        script.parse_openssl_dates("unable to load certificate\n")


@pytest.mark.parametrize("text,ok,severity,words", [
    (None, False, "warning", "no backup yet"),
    (str(int((NOW - 2 * H).timestamp())), True, "info", "2 hours ago"),
    (f"{(NOW - 2 * H).timestamp():.3f}\n", True, "info", "2 hours ago"),
    ((NOW - 30 * H).isoformat(), False, "warning", "30 hours old"),
    ((NOW - 30 * H).strftime("%Y-%m-%dT%H:%M:%SZ"), False, "warning", "30 hours old"),
    ((NOW - 4 * D).isoformat(), False, "error", "4 days old"),
    ("", False, "warning", "does not hold a time"),
    ("last tuesday", False, "warning", "does not hold a time"),
    ((NOW + 3 * H).isoformat(), False, "warning", "in the future"),
])
def test_backup_age(text, ok, severity, words):
    found = script.backup_verdict(text, NOW)
    assert (found["ok"], found["severity"]) == (ok, severity), found
    assert words in found["what"]
    if not ok:
        assert found["fix"]


@pytest.mark.parametrize("stamp,status,text", [
    (None, None, None),
    ("1748779200\n", None, "1748779200\n"),
    (None, "time=2025-06-01T10:00:00Z\nsnapshot=4f2a\nremote=\n", "2025-06-01T10:00:00Z"),
    ("1748779200", "time=2025-06-01T10:00:00Z\n", "1748779200"),  # the stamp file first
    (None, "snapshot=4f2a\n", None),
])
def test_where_the_last_backup_time_is_read(stamp, status, text):
    assert script.last_backup_text(stamp, status) == text


@pytest.mark.parametrize("status,ok,severity", [
    ("time=2025-06-01T10:00:00Z\nsnapshot=4f2a\nremote=failed\n", False, "error"),
    ("time=2025-06-01T10:00:00Z\nsnapshot=4f2a\nremote=ok\n", True, "info"),
    ("time=2025-06-01T10:00:00Z\nsnapshot=4f2a\nremote=none\n", None, None),  # no remote set: nothing to say
    (None, None, None),
])
def test_a_failed_off_site_copy_is_an_error(status, ok, severity):
    found = script.remote_backup_verdict(status)
    if ok is None:
        assert found is None
        return
    assert (found["ok"], found["severity"]) == (ok, severity), found
    assert ok or ("remote" in found["what"] and "sovstack backup" in found["fix"])


SS = """LISTEN 0 4096 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))
LISTEN 0 4096 [::]:443 [::]:* users:(("caddy",pid=2,fd=7))
LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("master",pid=3,fd=13))
LISTEN 0 4096 127.0.0.1:9001 0.0.0.0:* users:(("docker-proxy",pid=4,fd=7))
LISTEN 0 4096 127.0.0.1:8080 0.0.0.0:* users:(("python3",pid=5,fd=3))
"""


def test_listening_ports_as_the_manifest_says():
    listeners = script.parse_listeners(SS)
    assert ("::", 443, "caddy") in listeners and ("127.0.0.1", 9001, "docker-proxy") in listeners
    config = {"ports": [{"port": 22, "owners": ["sshd"]}, {"port": 443, "owners": ["caddy"]},
                        {"port": 993, "owners": ["dovecot"]}, {"port": 8080, "owners": ["docker-proxy", "caddy"]}]}
    found = {f["subject"]: f for f in script.ports_findings(config, listeners)}
    assert found["port 22"]["ok"] and found["port 443"]["ok"]
    assert "nothing listens on port 993" in found["port 993"]["what"] and found["port 993"]["severity"] == "error"
    assert "held by python3" in found["port 8080"]["what"] and "systemctl disable" in found["port 8080"]["fix"]


def test_failed_units_and_security_updates():
    assert script.parse_failed_units("● foo.service loaded failed failed Foo\nbar.timer loaded failed failed B\n") == \
        ["foo.service", "bar.timer"]
    apt = ("Inst libssl3t64 [3.5.0-1] (3.5.1-1 Debian-Security:13/stable-security [amd64])\n"
           "Inst tzdata [2025a-1] (2025b-0+deb13u1 Debian:13.1/stable [all])\n"
           "Conf libssl3t64 (3.5.1-1 Debian-Security:13/stable-security [amd64])\n")
    assert script.parse_security_upgrades(apt) == ["libssl3t64"]
    assert not script.updates_finding(["libssl3t64"])["ok"]
    assert script.updates_finding([])["ok"]
    assert script.reboot_finding(True, ["linux-image-amd64"])["what"] == "a reboot is required (for linux-image-amd64)"


@pytest.mark.parametrize("mounts,watched", [
    (["/", "/proc", "/run"], ["/"]),
    (["/", "/srv", "/var/lib/docker", "/var/lib/docker/overlay2/abc/merged"], ["/", "/srv", "/var/lib/docker"]),
    (["/", "/srv/sovstack/data", "/srv/sovstack/backups"], ["/", "/srv/sovstack/data", "/srv/sovstack/backups"]),
    (["/", "/srv/sovstack-old"], ["/"]),  # a neighbour of /srv/sovstack is not under it
])
def test_the_filesystems_watched(mounts, watched):
    assert script.watched_mounts(mounts) == watched


def problem(subject, severity="error", what="broken"):
    return {"check": "services", "subject": subject, "ok": False, "severity": severity, "what": what,
            "why": "w", "fix": "f"}


@pytest.mark.parametrize("before,after,new,gone", [
    ([], [], [], []),
    ([], [problem("dovecot")], ["dovecot"], []),
    ([problem("dovecot")], [problem("dovecot")], [], []),  # known: not mailed again
    ([problem("dovecot")], [], [], ["dovecot"]),
    ([problem("disk /", "warning")], [problem("disk /", "error")], ["disk /"], []),  # worse
    ([problem("backup", what="30 hours old")], [problem("backup", what="31 hours old")], ["backup"], []),
])
def test_the_timer_mails_only_what_changed(before, after, new, gone):
    got_new, got_gone = script.changes(script.problems(before), script.problems(after))
    assert [f["subject"] for f in got_new] == new and [f["subject"] for f in got_gone] == gone


def test_mail_without_postfix_is_a_log_line(tmp_path, monkeypatch):
    monkeypatch.setattr(script.os.path, "exists", lambda path: False)  # no /usr/sbin/postfix
    said = []
    state = tmp_path / "state.json"
    config = {"server": "main", "admin_email": "admin@example.org"}
    assert script.mail_changes(config, [problem("dovecot")], str(state), said.append) == 0
    assert said[0].startswith("no Postfix on this server: not mailed; 1 new problem(s), 0 fixed")
    assert "To: admin@example.org" in said[1] and "fix: f" in said[1]
    assert json.loads(state.read_text()) == script.problems([problem("dovecot")])
    said.clear()
    script.mail_changes(config, [problem("dovecot")], str(state), said.append)
    assert said == ["nothing changed since the last check (1 problem(s) known)"]


def test_the_script_refuses_a_missing_config(tmp_path, capsys):
    assert script.main(["--json", "--config", str(tmp_path / "none.json")]) == 2
    assert "run `sovstack deploy`" in capsys.readouterr().err


# --- what render puts on the server, and how `sovstack check` reads the script -------------------------

STACK = {"organisation": "Les Voisins", "domain": "voisins.test", "admin_email": "admin@voisins.test",
         "tls": "internal", "servers": {"main": {"address": "127.0.0.1", "ssh_port": 1}},
         "tools": {"postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"},
                   "etherpad": {"server": "main"}, "roundcube": {"server": "main"}}}


@pytest.fixture
def rendered(tmp_path):
    path = tmp_path / "sovstack.yml"
    path.write_text(yaml.safe_dump(STACK))
    loaded = load(path, generate_secrets=True)  # it renders: the one step that writes secrets.yml
    [bundle] = render_all(loaded)
    return loaded, bundle


def test_render_ships_the_script_its_config_and_the_timer(rendered):
    loaded, bundle = rendered
    manifest = bundle.manifest
    files = {e["dest"]: e for e in manifest["files"]}
    assert files["/srv/sovstack/bin/sovstack-diagnose"]["mode"] == "0755"
    assert not files["/srv/sovstack/diagnose.json"]["secret"]
    assert "/etc/systemd/system/sovstack-diagnose.timer" in files
    assert {"name": "sovstack-diagnose.timer", "tool": None, "phase": "after-steps"} in manifest["services"]
    config = json.loads(bundle.files["/srv/sovstack/diagnose.json"])
    assert config["services"] == [s["name"] for s in manifest["services"]]
    assert config["ports"] == manifest["ports"]
    assert config["compose"] == [c["dir"] for c in manifest["compose"]]
    assert config["admin_email"] == "admin@voisins.test"
    assert {h["fqdn"] for h in config["health"]} == {h["fqdn"] for h in manifest["health"]} == set(config["sites"])
    pad = next(h for h in config["health"] if h["tool"] == "etherpad")
    assert pad["name"] == "Etherpad" and "--resolve pad.voisins.test:443:127.0.0.1" in pad["probe"]
    for secret in loaded.secrets.values():
        assert secret.encode() not in bundle.files["/srv/sovstack/diagnose.json"]


def test_only_deployed_servers_are_examined(rendered, tmp_path):
    loaded, _ = rendered
    given = CheckInput(loaded.stack, loaded.catalog, loaded.secrets, loaded.path)
    assert servers_to_examine(given) == ["main"]
    elsewhere = CheckInput(loaded.stack, loaded.catalog, loaded.secrets, tmp_path / "other" / "sovstack.yml")
    assert servers_to_examine(elsewhere) == []
    assert server_findings(elsewhere, "disk") == []


def test_the_script_output_becomes_findings():
    rows = [script.disk_verdict("/", 1, 100), script.backup_verdict(None, NOW)]
    found = parse_output("main", 1, json.dumps(rows), "")
    assert [(f.check, f.subject, f.severity) for f in found] == [("disk", "main: disk /", "error"),
                                                                   ("backup", "main: last backup", "warning")]
    [missing] = parse_output("main", 2, "", "python3: can't open file '/srv/sovstack/bin/sovstack-diagnose'")
    assert not missing.ok and missing.severity == "error" and "sovstack deploy" in missing.fix


def test_an_unreachable_server_is_said_once(rendered):
    loaded, _ = rendered  # port 1 on this machine: refused at once
    given = CheckInput(loaded.stack, loaded.catalog, loaded.secrets, loaded.path)
    from sovstack.check.run import run_checks

    [only] = run_checks(given, ["disk", "backup", "tls"])
    assert only.check == "tls"  # the first of them in CHECKS
    assert only.subject == "server main" and "cannot connect over SSH" in only.what and only.fix


def _pem(tmp_path, name: str, days: tuple[int, int]) -> bytes:
    """A self-signed certificate for xmpp.example.org valid from NOW+days[0] to NOW+days[1], as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xmpp.example.org")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + days[0] * D).not_valid_after(NOW + days[1] * D).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


# (Caddy's certificate, the tool's copy: validity in days from NOW, or "same" / None for none) -> ok, severity, words
COPIES = [
    ((-30, 60), "same", True, "info", "certificate valid for 60 days"),
    ((-1, 89), (-80, 10), False, "warning", "still serves the certificate that expires 2025-06-11; Caddy has renewed it"),
    ((-1, 89), (-90, -1), False, "error", "still serves the certificate that expired 2025-05-31; Caddy has renewed it"),
    ((-1, 89), None, False, "error", "no readable copy"),
    # Nothing from Caddy to compare with: the copy's own dates count (the site's own check names Caddy's trouble).
    (None, (-30, 60), True, "info", "certificate valid"),
    (None, (-90, -1), False, "error", "expired"),
]


@pytest.mark.parametrize("caddy,copy,ok,severity,words", COPIES)
def test_a_tools_copy_of_caddys_certificate_must_follow_its_renewals(tmp_path, caddy, copy, ok, severity, words):
    root = tmp_path / "caddy"
    fqdn = "xmpp.example.org"
    if caddy:
        (root / "local" / fqdn).mkdir(parents=True)
        (root / "local" / fqdn / f"{fqdn}.crt").write_bytes(_pem(tmp_path, "caddy", caddy))
    target = tmp_path / "prosody" / f"{fqdn}.crt"
    target.parent.mkdir()
    if copy == "same":
        target.write_bytes((root / "local" / fqdn / f"{fqdn}.crt").read_bytes())
    elif copy:
        target.write_bytes(_pem(tmp_path, "copy", copy))
    entry = {"tool": "prosody", "name": "Prosody (XMPP)", "fqdn": fqdn, "copy": str(target), "unit": "sovstack-prosody-certs"}
    found = script.copy_finding(entry, NOW, str(root))
    assert (found["ok"], found["severity"]) == (ok, severity), found
    assert words in found["what"], found
    assert found["subject"] == "xmpp.example.org (prosody's own TLS)"
    if "Caddy has renewed" in words or copy is None:  # the copy is the trouble: make it again
        assert "systemctl start sovstack-prosody-certs.service" in found["fix"]


def test_the_diagnosis_watches_every_tools_copy_of_the_certificate(tmp_path):
    stack = tmp_path / "sovstack.yml"
    stack.write_text(yaml.safe_dump({
        "organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
        "servers": {"main": {"address": "127.0.0.1", "ssh_port": 1}},
        "tools": {t: {"server": "main"} for t in ("openldap", "postfix-dovecot", "prosody", "goaccess")}}))
    render_all(load(stack, generate_secrets=True))
    config = json.loads((tmp_path / "build" / "main" / "files" / "srv" / "sovstack" / "diagnose.json").read_text())
    assert {c["tool"]: c["copy"] for c in config["cert_copies"]} == {
        "postfix-dovecot": "/etc/ssl/sovstack/mail.crt",
        "prosody": "/etc/prosody/certs/xmpp.voisins.example.org.crt"}
