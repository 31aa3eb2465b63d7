"""The base layer every server gets: packages and services, directories, the firewall, Caddy with
every site, SSH and update hardening, the members' portal, backups, the server's own mail, diagnosis."""

from __future__ import annotations

from sovstack.backup import plan as backup_plan
from sovstack.layout import BASE_PORTS, DIAGNOSE_CONFIG, DIAGNOSE_TIMER, ROOT
from sovstack.render import portal
from sovstack.render.diagnose import server_config
from sovstack.render.job import Job
from sovstack.wiring import mail

# Debian 13: docker.io no longer carries the CLI (docker-cli), docker-compose is Compose v2.
# The rest answer Lynis: PAM temp dirs, package audit, restart hints, accounting, password quality.
BASE_PACKAGES = ["ca-certificates", "curl", "docker.io", "docker-cli", "docker-compose",
                 "libpam-tmpdir", "apt-listchanges", "needrestart", "debsums", "apt-show-versions", "acct",
                 "sysstat", "libpam-passwdqc", "caddy", "nftables", "fail2ban",
                 "python3-systemd", "unattended-upgrades", "iproute2"]
# Units of the base layer, started and enabled on every server.
BASE_SERVICES = ["docker", "caddy", "fail2ban", "sovstack-firewall", "unattended-upgrades", "ssh", "acct", "sysstat"]
# Who may already hold a port on a converged server (the rest means "taken by something else").
PORT_OWNERS = {port: list(owners) for port, owners in BASE_PORTS.items()}
PUBLIC_PORTS = list(BASE_PORTS)
DIRECTORIES = [{"path": ROOT, "mode": "0755"}, {"path": f"{ROOT}/bin", "mode": "0755"},
               {"path": f"{ROOT}/apps", "mode": "0755"}, {"path": f"{ROOT}/data", "mode": "0711"},
               {"path": f"{ROOT}/steps", "mode": "0700"}, {"path": f"{ROOT}/pending", "mode": "0700"}]
# Only root reads the scheduled jobs (Lynis FILE-7524).
DIRECTORIES += [{"path": f"/etc/cron.{d}", "mode": "0700"} for d in ("d", "daily", "weekly", "monthly")]

# Steps of the base layer, run before the tools' steps.
BASE_STEPS = [
    {"id": "security-updates", "name": "security updates installed once at provisioning (then daily, unattended)",
     "unless": f"[ -e {ROOT}/.security-updates-applied ]",
     "run": f"unattended-upgrade\ntouch {ROOT}/.security-updates-applied"},
    {"id": "sshd-config-mode", "name": "sshd_config readable by root only",
     "unless": "[ \"$(stat -c %a /etc/ssh/sshd_config)\" = 600 ]", "run": "chmod 600 /etc/ssh/sshd_config"},
    {"id": "ssh-host-keys", "name": "SSH host keys: ed25519 and 4096-bit RSA only",
     "unless": "ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub | grep -q '^4096 ' && ! ls /etc/ssh/ssh_host_ecdsa_key*",
     "run": "rm -f /etc/ssh/ssh_host_ecdsa_key* /etc/ssh/ssh_host_rsa_key*\n"
            "ssh-keygen -q -t rsa -b 4096 -N '' -f /etc/ssh/ssh_host_rsa_key\nsystemctl reload ssh"},
]


def start_lists() -> dict[str, list]:
    """The manifest lists as the base layer opens them, before any tool adds to them."""
    return {"packages": list(BASE_PACKAGES), "directories": [dict(d) for d in DIRECTORIES],
            "ports": [{"port": p, "owners": o} for p, o in PORT_OWNERS.items()], "public_ports": list(PUBLIC_PORTS)}


def add_base(job: Job) -> None:
    """After the tools: the portal, base steps, backups, the server's own mail, server files, diagnosis."""
    add_portal(job)
    for step in BASE_STEPS:
        dest = f"{ROOT}/steps/00-base-{step['id']}.sh"
        job.files.step(dest, step["name"], step["unless"], step["run"])
        job.steps.insert(0, {"tool": None, "name": f"base: {step['name']}", "script": dest})
    if job.wiring.stack.backup.enabled:
        add_backup(job)
    add_host_mail(job)
    # The Caddyfile includes every site, so the server's own files come after the tools'.
    ctx = {**job.base_ctx, "sites": job.sites, "public_ports": sorted(set(job.public_ports))}
    job.files.render_tree(job.files.templates / "server" / "root", ctx, "/", [])
    add_diagnosis(job)


def add_portal(job: Job) -> None:
    """The members' portal: a static page Caddy serves itself, like a tool's site (render/portal.py)."""
    members_portal = portal.portal_site(job.wiring, job.server)
    if members_portal:
        for dest, content in members_portal.files.items():
            job.files.add(dest, content, [])
        job.sites.append(members_portal.site)
        job.health.append(members_portal.health)


def add_backup(job: Job) -> None:
    """Backups (backup/plan.py): restic, the daily timer, and the backup/restore scripts."""
    stack, catalog, tools = job.wiring.stack, job.wiring.catalog, job.base_ctx["tools"]
    plan = backup_plan.server_plan(stack, job.secrets, job.server, [
        backup_plan.tool_plan(stack, catalog, t, tools[t], {**job.base_ctx, "app": tools[t]}, job.files.env)
        for t in stack.tools_on(job.server)])
    job.add_packages(backup_plan.PACKAGES)
    job.files.render_tree(job.files.templates / "backup", {**job.base_ctx, "backup": plan}, "/", [])
    job.service(backup_plan.TIMER)
    step = backup_plan.init_step(plan)
    dest = f"{ROOT}/steps/00-backup-repository.sh"
    job.files.step(dest, step["name"], step["unless"], step["run"])
    job.steps.append({"tool": None, "name": f"backup: {step['name']}", "script": dest})


def add_host_mail(job: Job) -> None:
    """A server that does not run the mail server sends its own mail (cron, diagnosis) through it."""
    host_mail = mail.server_context(job.wiring, job.secrets.data.get("servers", {}),
                                    job.secrets.get("mail_relay.password"), job.server)
    if host_mail:
        job.add_packages(["postfix", "libsasl2-modules"])
        job.files.render_tree(job.files.templates / "mailclient", {**job.base_ctx, "mail": host_mail}, "/",
                              ["restart:postfix"])
        job.service("postfix")


def add_diagnosis(job: Job) -> None:
    """Diagnosis (render/diagnose.py; check/servers.py runs it): the daily timer, and what bin/sovstack-diagnose checks here."""
    job.service(DIAGNOSE_TIMER)
    here = job.wiring.stack.tools_on(job.server)
    job.files.add(DIAGNOSE_CONFIG, server_config(
        job.server, job.wiring.stack.admin_email, BASE_SERVICES + [s["name"] for s in job.services],
        [c["dir"] for c in job.compose], job.ports, job.health, {t: job.wiring.catalog.tools[t].name for t in here},
        job.cert_copies), [])
