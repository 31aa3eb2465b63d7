"""Stack file + secrets -> `build/<server>/`: one manifest and the files it lists.

The manifest is the only thing the engines (Ansible, pyinfra) read: packages, directories, files
with owner and mode and what each change restarts, services, images to build, compose projects,
post-deploy steps with their guards, the ports the server must have free, the health checks.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from sovstack.backup import plan as backup_plan
from sovstack.catalog import Catalog, Tool
from sovstack.errors import UserError
from sovstack.layout import BASE_PORTS, DIAGNOSE_CONFIG, DIAGNOSE_TIMER, ROOT
from sovstack.paths import templates_dir
from sovstack.render import certs, envfile, portal
from sovstack.render.diagnose import server_config
from sovstack.stack import passwords
from sovstack.stack.secrets import Secrets
from sovstack.stack.stackfile import Stack
from sovstack.wiring import analytics
from sovstack.wiring import core as wiring
from sovstack.yamlio import dump_yaml

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
# A post-deploy step as a script: `sh script --check` says whether it is done (exit 0), `sh script`
# runs it unless done and prints "changed" when it ran. Both engines only call it.
STEP_SCRIPT = """#!/bin/sh
# sovstack step: {name}
set -e
done_already() {{
{unless}
}}
if done_already >/dev/null 2>&1; then exit 0; fi
[ "${{1:-}}" = --check ] && exit 1
{run}
echo changed
"""


@dataclass
class Bundle:
    server: str
    path: Path
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # dest -> content


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)


def _mem_limit(tool: Tool) -> str:
    return f"{int(tool.resources.ram_mb.recommended)}m"


def app_context(stack: Stack, catalog: Catalog, tool_id: str) -> dict[str, Any]:
    tool = catalog.tools[tool_id]
    deploy = tool.deploy
    fqdn = stack.fqdn(tool_id, catalog)
    return {
        "id": tool_id, "name": tool.name, "fqdn": fqdn, "url": f"https://{fqdn}" if fqdn else None,
        "web_port": deploy.web_port, "dir": f"{ROOT}/apps/{tool_id}", "data": f"{ROOT}/data/{tool_id}",
        "mem_limit": _mem_limit(tool), "server": stack.tools[tool_id].server,
        "images": {image.rsplit(":", 1)[0]: image for image in deploy.images},
        "builds": {b.context: {"image": b.image, "download": b.download, "sha256": b.sha256} for b in deploy.builds},
    }


def stack_context(stack: Stack, catalog: Catalog) -> dict[str, Any]:
    return {"organisation": stack.organisation, "domain": stack.domain, "admin_email": stack.admin_email,
            "language": stack.language, "tls": stack.tls, "mail_host": wiring.mail_host(stack, catalog),
            "ldap_base_dn": wiring.ldap_base_dn(stack.domain)}


def render(stack: Stack, catalog: Catalog, secrets: Secrets, out: Path) -> list[Bundle]:
    """Render every server's bundle in memory, then write them all (nothing is written on error)."""
    bundles = [render_server(stack, catalog, secrets, name, out / name) for name in stack.servers]
    for bundle in bundles:
        write_bundle(bundle)
    write_inventory(stack, out)
    return bundles


def render_server(stack: Stack, catalog: Catalog, secrets: Secrets, server: str, path: Path) -> Bundle:
    templates = templates_dir()
    env = _environment(templates)
    # A file holding a secret, or a password hash sovstack made from one, is private.
    secret_values = [v.encode() for v in secrets.values()]
    secret_values += [h(v).encode() for v in secrets.values() for h in (passwords.ssha, passwords.ssha512)]
    tools_here = stack.tools_on(server)
    all_tools = {t: app_context(stack, catalog, t) for t in stack.tools}
    base_ctx = {"stack": stack_context(stack, catalog), "tools": all_tools, "server": server, "root": ROOT}

    files: dict[str, bytes] = {}
    file_entries: list[dict[str, Any]] = []
    # Secret host files that a service reads under its own user (e.g. Rspamd's Redis password).
    # Caddy runs as its own user and must read its config (which may hold a tool's secret path).
    file_groups = {"/etc/caddy/Caddyfile": "caddy",
                   **{dest: group for t in tools_here for dest, group in catalog.tools[t].deploy.file_groups.items()}}

    def add(dest: str, content: bytes, notify: list[str]) -> None:
        if dest in files:
            raise UserError(f"two templates write {dest} on server {server!r}",
                            "this is a catalog mistake: report it")
        if dest.startswith(f"{ROOT}/apps/") and dest.endswith(".env"):  # read by Compose: values literal
            content = envfile.literal(content.decode()).encode()
        files[dest] = content
        # Env files carry secrets, sometimes encoded (a URL-encoded relay password): always private.
        secret = dest.endswith(".env") or any(value in content for value in secret_values)
        executable = dest.startswith(f"{ROOT}/bin/")
        mode = "0600" if secret else ("0755" if executable else "0644")
        group = file_groups.get(dest, "root")
        if group != "root":  # private to the service that reads it (secrets, password hashes)
            mode = "0640"
        file_entries.append({"src": "files" + dest, "dest": dest, "owner": "root", "group": group, "mode": mode,
                             "sha256": hashlib.sha256(content).hexdigest(), "secret": secret,
                             "notify": notify or _base_notify(dest)})

    def render_tree(tree: Path, ctx: dict[str, Any], dest_root: str, notify: list[str],
                    skip: set[str] = frozenset()) -> None:
        if not tree.is_dir():
            return
        for source in sorted(p for p in tree.rglob("*") if p.is_file()):
            rel = source.relative_to(tree)
            if rel.parts[0] in skip:
                continue
            name = str(PurePosixPath(dest_root) / rel.as_posix())
            if source.suffix == ".j2":
                template = source.relative_to(templates).as_posix()
                try:
                    content = env.get_template(template).render(ctx).encode()
                except jinja2.TemplateError as exc:
                    raise UserError(f"{source}: cannot render ({exc})", "this is a template mistake: report it") from None
                name = name[:-3]
            else:
                content = source.read_bytes()
            add(name, content, notify)

    # Per-tool files first: the Caddyfile includes each web tool's site block.
    packages = list(BASE_PACKAGES)
    services: list[dict[str, Any]] = []
    builds: list[dict[str, Any]] = []
    compose: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    health: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = [{"port": p, "owners": o} for p, o in PORT_OWNERS.items()]
    public_ports = list(BASE_PORTS)
    sites: list[dict[str, Any]] = []
    directories = [{"path": ROOT, "mode": "0755"}, {"path": f"{ROOT}/bin", "mode": "0755"},
                   {"path": f"{ROOT}/apps", "mode": "0755"}, {"path": f"{ROOT}/data", "mode": "0711"},
                   {"path": f"{ROOT}/steps", "mode": "0700"}, {"path": f"{ROOT}/pending", "mode": "0700"}]
    # Only root reads the scheduled jobs (Lynis FILE-7524).
    directories += [{"path": f"/etc/cron.{d}", "mode": "0700"} for d in ("d", "daily", "weekly", "monthly")]
    for tool_id in tools_here:
        tool = catalog.tools[tool_id]
        deploy = tool.deploy
        app = all_tools[tool_id]
        own = secrets.for_tool(tool_id)
        ctx = {**base_ctx, "app": app, "secrets": own,
               "mail": wiring.mail_context(stack, catalog, own, tool_id, secrets.get("mail_relay.password")),
               "identity": wiring.identity_context(stack, catalog, own, tool_id),
               "analytics": analytics.template_context(stack, catalog, tool_id),
               "identity_clients": wiring.identity_clients(stack, catalog, secrets.data.get("tools", {})),
               "mail_senders": wiring.mail_senders(stack, catalog, secrets.data.get("tools", {}),
                                                   secrets.data.get("servers", {}))}
        tool_dir = templates / "apps" / tool_id
        # Caddy (its own user) reads what it serves itself; other tools' data stays private.
        directories.append({"path": app["data"], "mode": "0755" if deploy.served_by_caddy else "0750"})
        for name in deploy.packages:
            if name not in packages:
                packages.append(name)
        if deploy.how == "compose" and (tool_dir / "app").is_dir():
            directories.append({"path": app["dir"], "mode": "0750"})
            render_tree(tool_dir / "app", ctx, app["dir"], [f"compose:{tool_id}"])
            if f"{app['dir']}/compose.yml" not in files and tool.role != "addon":
                raise UserError(f"{tool_dir / 'app'}: no compose.yml.j2 for {tool_id}",
                                "this is a catalog mistake: report it")
        unit_notify = [f"restart:{unit}" for unit in deploy.services]
        render_tree(tool_dir / "root", ctx, "/", unit_notify)
        for dest, content in certs.sync_files(tool_id, deploy, ctx, env).items():  # deploy.certificates
            add(dest, content, unit_notify)
        for build in deploy.builds:
            context = f"{app['dir']}/{build.context}"
            render_tree(tool_dir / build.context, ctx, context, [f"build:{build.image}", f"compose:{tool_id}"])
            builds.append({"tool": tool_id, "image": build.image, "context": context})
        if f"{app['dir']}/compose.yml" in files:
            compose.append({"name": tool_id, "dir": app["dir"]})
        for unit in deploy.services:
            services.append({"name": unit, "tool": tool_id, "phase": "after-steps"})
        for step in deploy.steps:
            try:
                script = STEP_SCRIPT.format(name=step.name, unless=env.from_string(step.unless).render(ctx),
                                            run=env.from_string(step.run).render(ctx))
            except jinja2.TemplateError as exc:
                raise UserError(f"catalog {tool_id}: step {step.name!r}: cannot render ({exc})",
                                "this is a catalog mistake: report it") from None
            dest = f"{ROOT}/steps/{len(steps) + 1:02d}-{tool_id}.sh"
            add(dest, script.encode(), [])
            steps.append({"tool": tool_id, "name": f"{tool_id}: {step.name}", "script": dest})
        if deploy.subdomain:
            site_body = None
            caddy_template = tool_dir / "caddy.j2"
            if caddy_template.exists():
                site_body = env.get_template(caddy_template.relative_to(templates).as_posix()).render(ctx)
            elif deploy.served_by_caddy:
                raise UserError(f"{caddy_template}: missing for {tool_id} (served_by_caddy)",
                                "this is a catalog mistake: report it")
            sites.append({"tool": tool_id, "fqdn": app["fqdn"], "web_port": deploy.web_port, "body": site_body})
            health.append({"tool": tool_id, "fqdn": app["fqdn"], "path": deploy.health,
                           "url": f"http://127.0.0.1:{deploy.web_port}{deploy.health}" if deploy.web_port else None})
            if deploy.web_port:
                ports.append({"port": deploy.web_port, "owners": ["docker-proxy", "caddy"]})
        for port in deploy.public_ports:
            public_ports.append(port)
            ports.append({"port": port, "owners": ["docker-proxy", "master", "smtpd", "dovecot", "imap-login", "slapd"]})

    # The members' portal: a static page Caddy serves itself, like a tool's site (sovstack/portal.py).
    members_portal = portal.portal_site(stack, catalog, server)
    if members_portal:
        for dest, content in members_portal.files.items():
            add(dest, content, [])
        sites.append(members_portal.site)
        health.append(members_portal.health)
    for step in BASE_STEPS:
        dest = f"{ROOT}/steps/00-base-{step['id']}.sh"
        add(dest, STEP_SCRIPT.format(name=step["name"], unless=step["unless"], run=step["run"]).encode(), [])
        steps.insert(0, {"tool": None, "name": f"base: {step['name']}", "script": dest})
    # Backups (sovstack/backup_plan.py): restic, the daily timer, and the backup/restore scripts.
    if stack.backup.enabled:
        plan = backup_plan.server_plan(stack, secrets, server, [
            backup_plan.tool_plan(stack, catalog, t, all_tools[t], {**base_ctx, "app": all_tools[t]}, env)
            for t in tools_here])
        packages += [p for p in backup_plan.PACKAGES if p not in packages]
        render_tree(templates / "backup", {**base_ctx, "backup": plan}, "/", [])
        services.append({"name": backup_plan.TIMER, "tool": None, "phase": "after-steps"})
        step = backup_plan.init_step(plan)
        dest = f"{ROOT}/steps/00-backup-repository.sh"
        add(dest, STEP_SCRIPT.format(name=step["name"], unless=step["unless"], run=step["run"]).encode(), [])
        steps.append({"tool": None, "name": f"backup: {step['name']}", "script": dest})
    # A server that does not run the mail server sends its own mail (cron, diagnosis) through it.
    host_mail = wiring.server_mail_context(stack, catalog, secrets.data.get("servers", {}),
                                           secrets.get("mail_relay.password"), server)
    if host_mail:
        packages += [p for p in ("postfix", "libsasl2-modules") if p not in packages]
        render_tree(templates / "mailclient", {**base_ctx, "mail": host_mail}, "/", ["restart:postfix"])
        services.append({"name": "postfix", "tool": None, "phase": "after-steps"})
    base = {**base_ctx, "sites": sites, "public_ports": sorted(set(public_ports))}
    render_tree(templates / "server" / "root", base, "/", [])
    # Diagnosis (render/diagnose.py): the daily timer, and what bin/sovstack-diagnose checks here.
    services.append({"name": DIAGNOSE_TIMER, "tool": None, "phase": "after-steps"})
    add(DIAGNOSE_CONFIG, server_config(
        server, stack.admin_email, BASE_SERVICES + [s["name"] for s in services], [c["dir"] for c in compose],
        ports, health, {t: catalog.tools[t].name for t in tools_here}), [])

    # Every file's directory exists before the file is copied (Ansible's copy does not create it).
    listed = {d["path"] for d in directories}
    for entry in file_entries:
        parent = str(PurePosixPath(entry["dest"]).parent)
        if parent not in listed:
            directories.append({"path": parent, "mode": "0755"})
            listed.add(parent)
        entry["markers"] = _markers(entry.pop("notify"), entry["dest"], builds, compose)

    manifest = {
        "mark_pending": mark_pending_script(file_entries),
        "drift": drift_script(directories, file_entries, [s["name"] for s in services] + BASE_SERVICES,
                              packages, builds, compose, steps),
        "server": server, "root": ROOT, "domain": stack.domain, "tls": stack.tls,
        "packages": packages, "directories": directories,
        "files": sorted(file_entries, key=lambda e: e["dest"]),
        "services": [{"name": s, "tool": None, "phase": "base"} for s in BASE_SERVICES] + services,
        "builds": builds, "compose": compose, "steps": steps, "health": health,
        "ports": sorted(ports, key=lambda p: p["port"]), "public_ports": sorted(set(public_ports)),
    }
    return Bundle(server=server, path=path, manifest=manifest, files=files)


def drift_script(directories: list[dict[str, Any]], entries: list[dict[str, Any]], units: list[str],
                 packages: list[str], builds: list[dict[str, Any]], compose: list[dict[str, Any]],
                 steps: list[dict[str, Any]]) -> str:
    """A shell script printing which sections of the manifest the server does not match yet:
    "directories", "files" (content, mode or owner), "services" (not enabled or not running),
    "packages" (one missing), "pending" (a restart left to do), "builds" (an image missing),
    "compose" (a project not running its configuration), "steps" (one whose check says to run).
    The engines skip the sections it does not print, and when it prints nothing they skip every
    operation: one SSH round trip instead of one per item."""
    lines = ["d() { [ \"$(stat -c '%a %U:%G' \"$1\" 2>/dev/null)\" = \"$2\" ] || dirs=1; }",
             "f() { [ \"$(stat -c '%a %U:%G' \"$2\" 2>/dev/null)\" = \"$3\" ] && "
             "echo \"$1  $2\" | sha256sum -c --status 2>/dev/null || files=1; }",
             "dirs=; files=; services=; builds=; compose=; steps="]
    for entry in directories:
        lines.append(f"d {shlex.quote(entry['path'])} '{int(entry['mode'], 8):o} root:root'")
    for entry in entries:
        lines.append(f"f {entry['sha256']} {shlex.quote(entry['dest'])} "
                     f"'{int(entry['mode'], 8):o} {entry['owner']}:{entry['group']}'")
    quoted = " ".join(shlex.quote(u) for u in units)
    # One unit at a time: with several, `systemctl is-active` succeeds when any one of them is active.
    lines.append(f"for u in {quoted}; do systemctl is-enabled --quiet \"$u\" 2>/dev/null && "
                 "systemctl is-active --quiet \"$u\" || services=1; done")
    for entry in builds:
        lines.append(f"docker image inspect {shlex.quote(entry['image'])} >/dev/null 2>&1 || builds=1")
    for entry in compose:
        lines.append(f"{ROOT}/bin/sovstack-compose status {shlex.quote(entry['dir'])} >/dev/null 2>&1 || compose=1")
    # The same checks the step operations make: a settled server runs none of them one by one.
    for entry in steps:
        lines.append(f"[ -z \"$dirs$files$services$builds$compose$steps\" ] && "
                     f"sh {shlex.quote(entry['script'])} --check >/dev/null 2>&1 || steps=1")
    installed = (f"dpkg-query -W -f='${{db:Status-Abbrev}}\\n' {' '.join(shlex.quote(p) for p in packages)} "
                 "2>/dev/null | grep -c '^ii'")
    lines += [f"[ \"$({installed})\" = {len(packages)} ] || echo packages",
              f"[ -z \"$(ls -A {ROOT}/pending 2>/dev/null)\" ] || echo pending",
              "[ -z \"$dirs\" ] || echo directories", "[ -z \"$files\" ] || echo files",
              "[ -z \"$services\" ] || echo services", "[ -z \"$builds\" ] || echo builds",
              "[ -z \"$compose\" ] || echo compose", "[ -z \"$steps\" ] || echo steps", "true"]
    return "\n".join(lines) + "\n"


def mark_pending_script(entries: list[dict[str, Any]]) -> str:
    """A shell script, run before any file is copied: for each file whose content on the server differs
    from the bundle, it writes down what the change will require (see bin/sovstack-pending). So a
    run killed at any point leaves nothing undone for the next one. `sh -c SCRIPT - check` only says
    (exit 1) whether there is anything to write down."""
    lines = ["mode=${1:-mark}; n=0",
             "f() { echo \"$1  $2\" | sha256sum -c --status 2>/dev/null && return 0; n=$((n+1))",
             "  [ \"$mode\" = check ] && return 0; shift 2; mkdir -p -m 0700 " + ROOT + "/pending",
             "  for m in \"$@\"; do printf '%s' \"${m#*=}\" > \"" + ROOT + "/pending/${m%%=*}\"; done; }"]
    for entry in entries:
        if entry["markers"]:
            args = " ".join(shlex.quote(f"{m['name']}={m['content']}") for m in entry["markers"])
            lines.append(f"f {entry['sha256']} {shlex.quote(entry['dest'])} {args}")
    lines += ["[ \"$mode\" = check ] && exit $((n > 0))", "[ $n -eq 0 ] || echo marked"]
    return "\n".join(lines) + "\n"


def _markers(notify: list[str], dest: str, builds: list[dict], compose: list[dict]) -> list[dict[str, str]]:
    """What a change of this file leaves for bin/sovstack-pending: marker file name and content."""
    found = [{"name": "daemon-reload", "content": ""}] if dest.startswith("/etc/systemd/") else []
    for target in notify:
        action, _, what = target.partition(":")
        if action in ("restart", "reload"):
            found.append({"name": f"{action}_{what}", "content": ""})
        elif action == "build":
            context = next(b["context"] for b in builds if b["image"] == what)
            found.append({"name": "build_" + re.sub(r"[^A-Za-z0-9._-]", "%", what), "content": f"{what}\n{context}"})
        elif action == "compose":
            directory = next((c["dir"] for c in compose if c["name"] == what), None)
            if directory:
                found.append({"name": f"compose_{what}", "content": directory})
    return found


def _base_notify(dest: str) -> list[str]:
    if dest.startswith("/etc/caddy/"):
        return ["reload:caddy"]
    if dest.startswith("/etc/ssh/"):
        return ["reload:ssh"]
    if dest.startswith("/etc/fail2ban/"):
        return ["restart:fail2ban"]
    if dest.startswith("/etc/docker/"):
        return ["restart:docker"]
    if dest.endswith("firewall.nft") or dest.endswith("sovstack-firewall.service"):
        return ["restart:sovstack-firewall"]
    if dest.startswith("/etc/sysctl.d/"):
        return ["restart:systemd-sysctl"]
    if dest == "/etc/default/sysstat":
        return ["restart:sysstat"]
    return []


def write_bundle(bundle: Bundle) -> None:
    """Replace build/<server>/ with the new bundle: private (it holds secrets), all at once."""
    tmp = bundle.path.with_name(f".{bundle.path.name}.new")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, mode=0o700)
    os.chmod(tmp.parent, 0o700)
    for entry in bundle.manifest["files"]:
        target = tmp / entry["src"]
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bundle.files[entry["dest"]])
    header = (f"# Rendered by sovstack for server {bundle.server!r}. Do not edit: edit sovstack.yml and run\n"
              "# `sovstack render` again. Applied by playbooks/site.yml and sovstack/engines/pyinfra_deploy.py.\n")
    fd = os.open(tmp / "manifest.yml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(header + dump_yaml(bundle.manifest))
    if bundle.path.exists():
        shutil.rmtree(bundle.path)
    os.replace(tmp, bundle.path)


def inventory_data(stack: Stack, out: Path) -> dict[str, Any]:
    hosts = {name: server.ssh_access().ansible(sovstack_bundle=str((out / name).resolve()))
             for name, server in stack.servers.items()}
    return {"all": {"hosts": hosts}}


def write_inventory(stack: Stack, out: Path) -> Path:
    """build/hosts.yml for Ansible and build/inventory.py for pyinfra: the same servers."""
    path = out / "hosts.yml"
    path.write_text("# Ansible inventory rendered by sovstack: ansible-playbook -i build/hosts.yml playbooks/site.yml\n"
                    + dump_yaml(inventory_data(stack, out)))
    rows = []
    for name, server in stack.servers.items():
        data = server.ssh_access().pyinfra(sovstack_bundle=str((out / name).resolve()), _sudo=server.ssh_user != "root")
        rows.append(f"    ({name!r}, {data!r}),")
    (out / "inventory.py").write_text("# pyinfra inventory rendered by sovstack.\nservers = [\n" + "\n".join(rows) + "\n]\n")
    return path
