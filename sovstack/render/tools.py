"""One tool's part of a server's bundle: its compose project, host files, images to build, services,
post-deploy steps, Caddy site, health check and ports (conventions: templates/apps/README.md)."""

from __future__ import annotations

from typing import Any

import jinja2

from sovstack.errors import CatalogError
from sovstack.layout import ROOT
from sovstack.render import certs
from sovstack.render.job import Job
from sovstack.wiring import analytics, identity, mail


def add_tool(job: Job, tool_id: str) -> None:
    tool = job.wiring.catalog.tools[tool_id]
    deploy = tool.deploy
    app = job.base_ctx["tools"][tool_id]
    ctx = tool_context(job, tool_id, app)
    # Caddy (its own user) reads what it serves itself; other tools' data stays private.
    job.directories.append({"path": app["data"], "mode": "0755" if deploy.served_by_caddy else "0750"})
    job.add_packages(deploy.packages)
    _files(job, tool_id, app, ctx)
    for unit in deploy.services:
        job.service(unit, tool_id)
    _steps(job, tool_id, ctx)
    if deploy.subdomain:
        _site(job, tool_id, app, ctx)
    federates = job.base_ctx["stack"]["federation"]
    for port in [*deploy.public_ports, *(deploy.federation_ports if federates else [])]:
        job.public_ports.append(port)
        job.ports.append({"port": port, "owners": ["docker-proxy", "master", "smtpd", "dovecot", "imap-login", "slapd",
                                                   *deploy.processes]})


def tool_context(job: Job, tool_id: str, app: dict[str, Any]) -> dict[str, Any]:
    """What the tool's templates see: the base context, `app`, its own secrets and its wiring."""
    own = job.secrets.for_tool(tool_id)
    return {**job.base_ctx, "app": app, "secrets": own,
            "mail": mail.context(job.wiring, tool_id, own, job.secrets.get("mail_relay.password")),
            "identity": identity.context(job.wiring, tool_id, own),
            "analytics": analytics.template_context(job.wiring, tool_id), **job.shared}


def _files(job: Job, tool_id: str, app: dict[str, Any], ctx: dict[str, Any]) -> None:
    """The compose project (app/), host files (root/) and build contexts of the tool."""
    tool = job.wiring.catalog.tools[tool_id]
    deploy = tool.deploy
    tool_dir = job.files.templates / "apps" / tool_id
    compose_file = f"{app['dir']}/compose.yml"
    if deploy.how == "compose" and (tool_dir / "app").is_dir():
        job.directories.append({"path": app["dir"], "mode": "0750"})
        job.files.render_tree(tool_dir / "app", ctx, app["dir"], [f"compose:{tool_id}"])
        if compose_file not in job.files.content and tool.role != "addon":
            raise CatalogError(f"{tool_dir / 'app'}: no compose.yml.j2 for {tool_id}", "this is a catalog mistake: report it")
    unit_notify = [f"restart:{unit}" for unit in deploy.services]
    job.files.render_tree(tool_dir / "root", ctx, "/", unit_notify)
    for dest, content in certs.sync_files(tool_id, deploy, ctx, job.files.env).items():  # deploy.certificates
        job.files.add(dest, content, unit_notify)
    if copy := certs.watched_copy(tool_id, deploy, ctx, job.files.env):
        job.cert_copies.append(copy)
    for build in deploy.builds:
        context = f"{app['dir']}/{build.context}"
        job.files.render_tree(tool_dir / build.context, ctx, context, [f"build:{build.image}", f"compose:{tool_id}"])
        job.builds.append({"tool": tool_id, "image": build.image, "context": context})
    if compose_file in job.files.content:
        job.compose.append({"name": tool_id, "dir": app["dir"]})


def _steps(job: Job, tool_id: str, ctx: dict[str, Any]) -> None:
    env = job.files.env
    for step in job.wiring.catalog.tools[tool_id].deploy.steps:
        try:
            unless, run = env.from_string(step.unless).render(ctx), env.from_string(step.run).render(ctx)
        except jinja2.TemplateError as exc:
            raise CatalogError(f"catalog {tool_id}: step {step.name!r}: cannot render ({exc})",
                            "this is a catalog mistake: report it") from None
        dest = f"{ROOT}/steps/{len(job.steps) + 1:02d}-{tool_id}.sh"
        job.files.step(dest, step.name, unless, run)
        job.steps.append({"tool": tool_id, "name": f"{tool_id}: {step.name}", "script": dest})


def _site(job: Job, tool_id: str, app: dict[str, Any], ctx: dict[str, Any]) -> None:
    """The tool's Caddy site (its caddy.j2 body, else a plain reverse proxy), health check and web port."""
    deploy = job.wiring.catalog.tools[tool_id].deploy
    caddy_template = job.files.templates / "apps" / tool_id / "caddy.j2"
    body = job.files.render(caddy_template, ctx) if caddy_template.exists() else None
    if body is None and deploy.served_by_caddy:
        raise CatalogError(f"{caddy_template}: missing for {tool_id} (served_by_caddy)", "this is a catalog mistake: report it")
    # A site Caddy serves itself (PHP, static files) with a web_port is served on the loopback there too.
    loopback = deploy.web_port if deploy.served_by_caddy else None
    job.sites.append({"tool": tool_id, "fqdn": app["fqdn"], "web_port": deploy.web_port, "body": body,
                      "loopback_port": loopback})
    job.health.append({"tool": tool_id, "fqdn": app["fqdn"], "path": deploy.health,
                       "url": f"http://127.0.0.1:{deploy.web_port}{deploy.health}" if deploy.web_port else None})
    if deploy.web_port:
        job.ports.append({"port": deploy.web_port, "owners": ["docker-proxy", "caddy", *deploy.processes]})
