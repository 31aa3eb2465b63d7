"""Deploys on real Debian 13 sandbox servers (Docker + systemd + sshd), with Ansible and with pyinfra.

Phase 1 converges a fresh server with tools from Debian packages (they run for real): Postfix +
Dovecot + Rspamd, OpenLDAP, GoAccess. Phase 2 adds Etherpad, whose upstream images cannot be
pulled here: it runs from stand-in images under the same tags (see tests/standin/), which proves
routing, health checks and volumes only.
"""

from __future__ import annotations

import re
import stat
import subprocess

import pytest
import yaml

from tests.servers import REAL_TOOLS, Converged, changed_tasks, changes, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]

@pytest.fixture(scope="module", params=["ansible", "pyinfra"])
def converged(request, converged_server) -> Converged:
    return converged_server(request.param)


@pytest.mark.proves(REAL_TOOLS, "deploy")
@pytest.mark.proves("etherpad", "deploy", standin=True)
def test_fresh_server_converges_and_a_second_run_changes_nothing_incl_etherpad_standin(converged):
    assert changes(converged.runs["fresh"].stdout) >= 5  # Ansible counts tasks, pyinfra operations
    assert changes(converged.runs["again"].stdout) == 0, changed_tasks(converged.runs["again"].stdout)
    assert changes(converged.runs["tools"].stdout) > 0
    assert changes(converged.runs["tools-again"].stdout) == 0, changed_tasks(converged.runs["tools-again"].stdout)
    if converged.engine == "ansible":
        assert re.search(r"main\s+:\s+ok=\d+\s+changed=0\s", converged.runs["tools-again"].stdout)
    assert "plan: main: 0 change(s) would be made" in converged.runs["plan"].stdout


def test_only_ssh_web_mail_and_chat_ports_listen_outside_loopback_with_standins(converged):
    out = ssh(converged.server, "ss -Htln").stdout
    public = set()
    for line in out.splitlines():
        address, _, port = line.split()[3].rpartition(":")
        if not (address.startswith("127.") or address in ("[::1]", "::1")):
            public.add(int(port))
    # 25/465/587/993: Postfix and Dovecot. 5222/5269: Prosody (clients, other XMPP servers).
    # 389: slapd, for containers through Docker's host gateway; the firewall closes it from outside
    # (tests/test_security_audit.py scans for it).
    assert public == {22, 80, 443, 25, 465, 587, 993, 5222, 5269, 389}


@pytest.mark.proves(("goaccess", "postfix-dovecot", "roundcube"), "tls")
@pytest.mark.proves("etherpad", "tls", standin=True)
def test_caddy_answers_https_for_every_subdomain_goaccess_and_etherpad_standin(converged):
    root = converged.work / "caddy-root.crt"
    root.write_text(ssh(converged.server, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt").stdout)
    for fqdn, path in (("pad.voisins.test", "/health"), ("stats.voisins.test", "/health"), ("apps.voisins.test", "/"),
                       ("mail.voisins.test", "/health"), ("webmail.voisins.test", "/")):
        result = subprocess.run(["curl", "-sS", "--cacert", str(root), "--resolve",
                                 f"{fqdn}:443:{converged.server.address}", "-o", "/dev/null", "-D", "-",
                                 f"https://{fqdn}{path}"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("HTTP/2 200") or " 200" in result.stdout.splitlines()[0]
        assert "strict-transport-security" in result.stdout.lower()


def test_the_members_portal_lists_the_tools_under_a_strict_csp_with_standins(converged):
    root = converged.work / "caddy-root.crt"
    root.write_text(ssh(converged.server, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt").stdout)
    result = subprocess.run(["curl", "-sS", "--cacert", str(root), "--resolve",
                             f"apps.voisins.test:443:{converged.server.address}", "-D", "-",
                             "https://apps.voisins.test/"], capture_output=True, text=True, timeout=30, check=True)
    assert "default-src 'none'" in result.stdout
    for tool in ("goaccess", "etherpad", "roundcube"):
        assert f'<li id="{tool}"' in result.stdout


@pytest.mark.proves(("goaccess", "postfix-dovecot", "roundcube", "prosody"), "health")
@pytest.mark.proves("goaccess", "reports")
@pytest.mark.proves("etherpad", "health", standin=True)
def test_health_checks_pass_debian_tools_for_real_and_etherpad_standin(converged):
    out = converged.runs["tools-again"].stdout
    assert "health: main: etherpad https://pad.voisins.test: ok" in out
    for line in ("goaccess https://stats.voisins.test", "postfix-dovecot https://mail.voisins.test",
                 "roundcube https://webmail.voisins.test", "prosody https://xmpp.voisins.test",
                 "portal https://apps.voisins.test"):
        assert f"health: main: {line}: ok" in out
    active = ssh(converged.server, "systemctl is-active postfix dovecot rspamd slapd php8.4-fpm caddy fail2ban "
                                   "sovstack-firewall docker unattended-upgrades").stdout.split()
    assert active == ["active"] * 10
    # GoAccess parses the access log Caddy really writes (a failed parse exits non-zero).
    ssh(converged.server, "systemctl start sovstack-goaccess.service && test -s /srv/sovstack/data/goaccess/html/index.html")


def test_secrets_and_env_files_are_private_and_never_in_the_output_with_standins(converged):
    secrets_file = converged.work / "secrets.yml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    values = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str):
            values.append(node)
    walk(yaml.safe_load(secrets_file.read_text()))
    assert len(values) >= 4
    for run in converged.runs.values():
        for value in values:
            assert value not in run.stdout and value not in run.stderr
    # the files that hold a secret or its hash (slapd.debconf holds none since the admin password is set
    # as a hash through rootpw.ldif)
    modes = ssh(converged.server, "stat -c '%a %n' /srv/sovstack/apps/*/*.env /etc/sovstack/openldap/rootpw.ldif "
                                  "/etc/sovstack/openldap/rootpw.expected /etc/sovstack/openldap/services.ldif").stdout
    assert modes.strip()
    for line in modes.splitlines():
        assert line.startswith("600 "), line


def test_a_port_published_by_mistake_stays_closed_outside_with_a_standin_container(converged):
    ssh(converged.server, "docker run -d --rm --name oops -p 8999:9001 etherpad/etherpad:2.6.1")
    try:
        inside = ssh(converged.server, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8999/health").stdout
        assert inside == "200"  # the mistake is real: it listens
        outside = subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-w", "%{http_code}",
                                  f"http://{converged.server.address}:8999/health"], capture_output=True, text=True,
                                 timeout=900)
        assert outside.stdout != "200"
    finally:
        ssh(converged.server, "docker rm -f oops", check=False)


def test_every_compose_file_passes_compose_v2_validation_on_the_server_with_standins(converged, catalog, tmp_path):
    """Each deployable compose tool rendered alone, then `docker compose config -q` on Debian 13."""
    from sovstack.render.bundle import render
    from sovstack.stack.secrets import ensure_secrets
    from sovstack.stack.stackfile import deployable, parse_stack
    from sovstack.wiring.wire import wire

    base = yaml.safe_load((converged.work / "sovstack.yml").read_text())
    checked = []
    for tool_id, tool in sorted(catalog.tools.items()):
        ok, _ = deployable(tool)
        if not ok or tool.deploy.how != "compose" or tool.role == "addon":
            continue
        tools = {t: {"server": "main"} for t in [tool_id, *tool.requires_tools]}
        stack = parse_stack({**base, "tools": tools}, "sovstack.yml", catalog)
        out = tmp_path / tool_id
        out.mkdir()
        render(wire(stack, catalog), ensure_secrets(stack, out / "secrets.yml", wire(stack, catalog).wanted_secrets()), out / "build")
        if (out / "build/main/files/srv/sovstack/apps" / tool_id / "compose.yml").exists():
            checked.append(tool_id)
    archive = subprocess.run(["tar", "-C", str(tmp_path), "-c", "--transform", "s,^,check/,",
                              *[f"{t}/build/main/files/srv/sovstack/apps/{t}" for t in checked]],
                             capture_output=True, check=True, timeout=900).stdout
    subprocess.run([*converged.server.ssh_command(), "rm -rf /tmp/check && tar -C /tmp -x"], input=archive,
                   check=True, capture_output=True, timeout=900)
    failures = []
    for tool_id in checked:
        result = ssh(converged.server, f"cd /tmp/check/{tool_id}/build/main/files/srv/sovstack/apps/{tool_id} && "
                                       "docker compose config -q", check=False)
        if result.returncode != 0:
            failures.append(f"{tool_id}: {result.stderr.strip()[-300:]}")
    assert len(checked) >= 15
    assert not failures, "\n".join(failures)


# One drift per section of the manifest: (what breaks it, what must hold after a deploy). A no-op
# deploy skips every operation when the drift script finds nothing, so each section must be noticed.
DRIFTS = [
    ("step", "systemctl disable --now sovstack-goaccess.timer", "systemctl is-enabled --quiet sovstack-goaccess.timer"),
    ("file", "chmod 0644 /etc/sovstack/backup.env", "test \"$(stat -c %a /etc/sovstack/backup.env)\" = 600"),
    ("compose", "docker compose -f /srv/sovstack/apps/etherpad/compose.yml stop",
     "/srv/sovstack/bin/sovstack-compose status /srv/sovstack/apps/etherpad"),
    ("service", "systemctl stop fail2ban", "systemctl is-active --quiet fail2ban"),
]


@pytest.mark.parametrize("section,damage,repaired", DRIFTS, ids=[d[0] for d in DRIFTS])
def test_a_drift_in_any_section_is_repaired_and_then_nothing_runs_with_standins(converged, section, damage, repaired):
    from tests.servers import sovstack

    ssh(converged.server, damage)
    assert ssh(converged.server, repaired, check=False).returncode != 0  # the damage is real
    fixed = sovstack("deploy", "--engine", converged.engine, "--wait", "60", cwd=converged.work)
    assert changes(fixed.stdout) >= 1, fixed.stdout[-2000:]
    assert ssh(converged.server, repaired, check=False).returncode == 0, section
    again = sovstack("deploy", "--engine", converged.engine, cwd=converged.work)
    assert changes(again.stdout) == 0, changed_tasks(again.stdout)


def test_a_wrong_health_path_fails_the_deploy_naming_its_last_output_with_standin_etherpad(
        converged, tmp_path, monkeypatch):
    """The etherpad stand-in answers only the catalog's /health: a template polling another path makes
    the deploy fail, and the failure quotes the health command's last output (curl's 404)."""
    from tests.servers import etherpad_templates, sovstack

    right = "curl --silent --fail http://localhost:9001/health | grep -qE 'pass|ok|up'"
    # a wrong path, checked every 2 s from the start, so Docker says unhealthy within seconds
    templates = etherpad_templates(
        tmp_path, "      interval: 2s\n      timeout: 5s\n      retries: 2\n      start_period: 0s",
        {right: "curl -fsS -o /dev/null http://localhost:9001/no-such-health"})
    monkeypatch.setenv("SOVSTACK_TEMPLATES", str(templates))
    try:
        failed = sovstack("deploy", "--engine", converged.engine, cwd=converged.work, check=False)
    finally:
        monkeypatch.delenv("SOVSTACK_TEMPLATES")
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, out[-3000:]
    assert "etherpad-etherpad-1 is unhealthy" in out, out[-3000:]
    assert "returned error: 404" in out, out[-3000:]
    # the right template again: the server converges back, healthy
    again = sovstack("deploy", "--engine", converged.engine, cwd=converged.work)
    assert "health: main: etherpad https://pad.voisins.test: ok" in again.stdout
