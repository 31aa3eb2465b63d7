"""The one certificate-sync mechanism (deploy.certificates, templates/certs/): for each tool that
does its own TLS, the rendered script is run against a stand-in of Caddy's data directory, with
`docker` and `systemctl` recorded instead of run. What it copies where, with which modes, what it
reloads, and how it is scheduled are the values the per-tool scripts had."""

import os
import stat
import subprocess

import pytest

from sovstack.paths import templates_dir
from sovstack.render.bundle import render
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire

BASE = {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
        "servers": {"main": {"address": "203.0.113.10"}}, "tls": "internal"}
DATA = "/srv/sovstack/data"
APPS = "/srv/sovstack/apps"
TIMERS = {"hourly": "OnBootSec=2min\nOnUnitActiveSec=1h\nPersistent=true",
          "daily": "OnCalendar=daily\nRandomizedDelaySec=1h\nPersistent=true"}

CASES = [
    # (tool, host, script, dest, cert, key, (dir, cert, key modes), compare-with, reload calls, schedule, wait, exit when missing)
    ("postfix-dovecot", "mail", "postfix-dovecot-certs.sh", "/etc/ssl/sovstack", "mail.crt", "mail.key",
     ("755", "644", "600"), None,
     ["systemctl is-active -q postfix", "systemctl reload postfix", "systemctl is-active -q dovecot",
      "systemctl reload dovecot"], "daily", 120, 1),
    ("docker-mailserver", "mail", "docker-mailserver-certs.sh", f"{DATA}/docker-mailserver/certs", "cert.pem",
     "key.pem", ("755", "644", "600"), None,
     [f"docker compose -f {APPS}/docker-mailserver/compose.yml restart mailserver"], "hourly", 0, 0),
    ("kanidm", "idm", "kanidm-certs.sh", f"{DATA}/kanidm/certs", "chain.pem", "key.pem", ("755", "644", "600"), None,
     [f"docker compose -f {APPS}/kanidm/compose.yml restart kanidm"], "hourly", 0, 0),
    ("mailu", "mail", "mailu-certs.sh", f"{DATA}/mailu/certs", "cert.pem", "key.pem", ("755", "644", "600"), None,
     [], "hourly", 0, 0),
    ("prosody", "xmpp", "prosody-certs.sh", "/etc/sovstack/prosody/certs", "xmpp.voisins.example.org.crt",
     "xmpp.voisins.example.org.key", ("700", "600", "600"), "/etc/prosody/certs/xmpp.voisins.example.org.crt",
     ["prosodyctl --root cert import xmpp.voisins.example.org /etc/sovstack/prosody/certs",
      "systemctl is-active -q prosody", "systemctl reload prosody"],
     "daily", 120, 0),
]


def rendered(catalog, tmp_path, tool):
    tools = {tool: {"server": "main"}, **{t: {"server": "main"} for t in catalog.tools[tool].requires_tools}}
    stack = parse_stack({**BASE, "tools": tools}, "sovstack.yml", catalog)
    wired = wire(stack, catalog)
    [bundle] = render(wired, ensure_secrets(stack, tmp_path / "secrets.yml", wired.wanted_secrets()), tmp_path / "build")
    return bundle.files


def run(script: str, root, *args):
    env = {**os.environ, "PATH": f"{root}/bin:{os.environ['PATH']}"}
    return subprocess.run(["sh", "-c", script, "sync", *args], capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_certificate_reaches_the_tool_as_before(catalog, tmp_path, case):
    tool, sub, name, dest, cert, key, modes, current, reloads, schedule, wait, missing_exit = case
    host = f"{sub}.voisins.example.org"
    files = rendered(catalog, tmp_path, tool)
    unit = f"/etc/systemd/system/sovstack-{tool}-certs"
    service, timer = files[f"{unit}.service"].decode(), files[f"{unit}.timer"].decode()
    assert f"ExecStart=/bin/sh /usr/local/lib/sovstack/{name}" + (f" {wait}" if wait else "") + "\n" in service
    assert TIMERS[schedule] in timer and "WantedBy=timers.target" in timer
    assert f"sovstack-{tool}-certs.timer" in catalog.tools[tool].deploy.services

    # The server, under tmp_path/root: Caddy's files, the tool's compose file, recording stand-ins.
    root = tmp_path / "root"
    caddy = root / "caddy"
    (caddy / "certificates" / "local" / host).mkdir(parents=True)
    (caddy / "certificates" / "local" / host / f"{host}.crt").write_text("CERT\n")
    (caddy / "certificates" / "local" / host / f"{host}.key").write_text("KEY\n")
    (caddy / "pki" / "authorities" / "local").mkdir(parents=True)
    (caddy / "pki" / "authorities" / "local" / "root.crt").write_text("CA\n")
    (root / "srv" / "sovstack" / "apps" / tool).mkdir(parents=True)
    (root / "srv" / "sovstack" / "apps" / tool / "compose.yml").write_text("")
    (root / "bin").mkdir()
    for command in ("docker", "systemctl", "prosodyctl"):
        (root / "bin" / command).write_text(f'#!/bin/sh\necho "{command} $*" >> {root}/calls\n')
        (root / "bin" / command).chmod(0o755)
    script = files[f"/usr/local/lib/sovstack/{name}"].decode()
    script = (script.replace("/var/lib/caddy/.local/share/caddy", str(caddy))
              .replace("/srv/sovstack", f"{root}/srv/sovstack").replace("/etc/ssl", f"{root}/etc/ssl")
              .replace("/etc/sovstack", f"{root}/etc/sovstack").replace("/etc/prosody", f"{root}/etc/prosody"))
    where = root / dest.lstrip("/")

    first = run(script, root)
    assert first.returncode == 0, first.stderr
    assert (where / cert).read_text() == "CERT\n" and (where / key).read_text() == "KEY\n"
    found = tuple(f"{stat.S_IMODE(p.stat().st_mode):o}" for p in (where, where / cert, where / key))
    assert found == modes
    assert sorted(p.name for p in where.iterdir()) == sorted([cert, key] + (["local-ca.crt"] if tool == "postfix-dovecot"
                                                                             else []))
    calls = (root / "calls").read_text().splitlines() if (root / "calls").exists() else []
    assert [c.replace(str(root), "") for c in calls] == [c.replace('"', "") for c in reloads]

    if current:  # the tool keeps its own copy: until it has one, the copy is made again
        (root / current.lstrip("/")).parent.mkdir(parents=True)
        (root / current.lstrip("/")).write_text("CERT\n")
    (root / "calls").unlink(missing_ok=True)
    again = run(script, root)
    assert again.returncode == 0 and not (root / "calls").exists(), "unchanged: nothing copied or reloaded"

    (caddy / "certificates" / "local" / host / f"{host}.crt").unlink()
    missing = run(script, root)
    assert missing.returncode == missing_exit
    assert f"Caddy has no certificate for {host} yet" in missing.stderr


def test_no_tool_keeps_its_own_copy_of_the_sync():
    copies = [p for p in (templates_dir() / "apps").rglob("*") if p.is_file() and "certs" in p.name
              and "root" in p.relative_to(templates_dir() / "apps").parts]
    assert not copies, copies
