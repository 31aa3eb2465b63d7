"""Stack file + secrets -> `build/<server>/`: one manifest and the files it lists.

The manifest is the only thing the engines (Ansible, pyinfra) read: packages, directories, files
with owner and mode and what each change restarts, services, images to build, compose projects,
post-deploy steps with their guards, the ports the server must have free, the health checks.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sovstack.catalog import as_data
from sovstack.layout import ROOT
from sovstack.paths import templates_dir
from sovstack.render import base, tools
from sovstack.render.base import BASE_SERVICES
from sovstack.render.files import Files, write_inventory
from sovstack.render.job import Job
from sovstack.stack import passwords
from sovstack.stack.secrets import Secrets
from sovstack.wiring import identity, mail
from sovstack.wiring.model import Wiring
from sovstack.yamlio import dump_yaml

__all__ = ["ROOT", "Bundle", "render", "render_server", "write_bundle", "write_inventory"]


@dataclass
class Bundle:
    server: str
    path: Path
    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # dest -> content


def mem_limits(w: Wiring, tool_id: str) -> dict[str, int]:
    """The memory limit of each of the tool's services in MB, from the catalog's resources.limits (the
    figures the decision counts), plus what tools running inside it add ("<tool>/<service>")."""
    limits = {s: mb for s, mb in w.catalog.tools[tool_id].resources.limits.items() if "/" not in s}
    for other in w.stack.tools:
        for key, mb in w.catalog.tools[other].resources.limits.items():
            host, _, service = key.partition("/")
            if host == tool_id and service:
                limits[service] = limits.get(service, 0) + mb
    return limits


def app_context(w: Wiring, tool_id: str) -> dict[str, Any]:
    tool = w.catalog.tools[tool_id]
    deploy = tool.deploy
    fqdn = w.stack.fqdn(tool_id, w.catalog)
    return {
        "id": tool_id, "name": tool.name, "fqdn": fqdn, "url": f"https://{fqdn}" if fqdn else None,
        "web_port": deploy.web_port, "dir": f"{ROOT}/apps/{tool_id}", "data": f"{ROOT}/data/{tool_id}",
        "mem_limits": {s: f"{mb}m" for s, mb in mem_limits(w, tool_id).items()}, "server": w.stack.tools[tool_id].server,
        "images": {image.rsplit(":", 1)[0]: image for image in deploy.images},
        "builds": {b.context: as_data(b, defaults=True) for b in deploy.builds},
    }


def stack_context(w: Wiring) -> dict[str, Any]:
    stack = w.stack
    return {"organisation": stack.organisation, "domain": stack.domain, "admin_email": stack.admin_email,
            "language": stack.language, "tls": stack.tls, "federation": stack.federation, "mail_host": w.mail_host,
            "ldap_base_dn": w.base_dn,
            # Network mode (sovstack groups): what each tool's templates make of the groups' spaces.
            "groups": [{"id": g, **group.model_dump()} for g, group in sorted(stack.groups.items())],
            "hub": stack.hub()}


def render(w: Wiring, secrets: Secrets, out: Path) -> list[Bundle]:
    """Render every server's bundle in memory, then write them all (nothing is written on error)."""
    bundles = [render_server(w, secrets, name, out / name) for name in w.stack.servers]
    for bundle in bundles:
        write_bundle(bundle)
    write_inventory(w.stack, out)
    return bundles


def render_server(w: Wiring, secrets: Secrets, server: str, path: Path) -> Bundle:
    """One server's bundle: each tool's part (render/tools.py), then the base layer (render/base.py)."""
    job = start_job(w, secrets, server)
    # Per-tool files first: the Caddyfile includes each web tool's site block.
    for tool_id in w.stack.tools_on(server):
        tools.add_tool(job, tool_id)
    base.add_base(job)
    return Bundle(server=server, path=path, manifest=manifest(job), files=job.files.content)


def start_job(w: Wiring, secrets: Secrets, server: str) -> Job:
    # A file holding a secret, or a password hash sovstack made from one, is private.
    secret_values = [v.encode() for v in secrets.values()]
    secret_values += [h(v).encode() for v in secrets.values() for h in (passwords.ssha, passwords.ssha512)]
    # Secret host files that a service reads under its own user (e.g. Rspamd's Redis password).
    # Caddy runs as its own user and must read its config (which may hold a tool's secret path).
    groups = {"/etc/caddy/Caddyfile": "caddy", **{dest: group for t in w.stack.tools_on(server)
                                                  for dest, group in w.catalog.tools[t].deploy.file_groups.items()}}
    files = Files(server, templates_dir(), secret_values, groups)
    base_ctx = {"stack": stack_context(w), "tools": {t: app_context(w, t) for t in w.stack.tools},
                "server": server, "root": ROOT}
    tool_secrets = secrets.data.get("tools", {})
    # The same for every tool: the provider's clients and the mail server's accounts (their templates use them).
    shared = {"identity_clients": identity.clients(w, tool_secrets),
              "mail_senders": mail.senders(w, tool_secrets, secrets.data.get("servers", {}))}
    return Job(wiring=w, secrets=secrets, server=server, files=files, base_ctx=base_ctx, shared=shared,
               **base.start_lists())


def manifest(job: Job) -> dict[str, Any]:
    """The manifest the engines read: every list the job gathered, and the drift and pending scripts."""
    entries, directories = job.files.entries, job.directories
    # Every file's directory exists before the file is copied (Ansible's copy does not create it).
    listed = {d["path"] for d in directories}
    for entry in entries:
        parent = str(PurePosixPath(entry["dest"]).parent)
        if parent not in listed:
            directories.append({"path": parent, "mode": "0755"})
            listed.add(parent)
        entry["markers"] = _markers(entry.pop("notify"), entry["dest"], job.builds, job.compose)
    stack, units = job.wiring.stack, [s["name"] for s in job.services]
    return {
        "mark_pending": mark_pending_script(entries),
        "drift": drift_script(directories, entries, units + BASE_SERVICES, job.packages, job.builds, job.compose,
                              job.steps),
        "server": job.server, "root": ROOT, "domain": stack.domain, "tls": stack.tls,
        "packages": job.packages, "directories": directories,
        "files": sorted(entries, key=lambda e: e["dest"]),
        "services": [{"name": s, "tool": None, "phase": "base"} for s in BASE_SERVICES] + job.services,
        "builds": job.builds, "compose": job.compose, "steps": job.steps, "health": job.health,
        "ports": sorted(job.ports, key=lambda p: p["port"]), "public_ports": sorted(set(job.public_ports)),
    }


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
