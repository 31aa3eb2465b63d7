"""One certificate-sync mechanism (deploy.certificates in the catalog): for a tool that does its own
TLS (mail ports, XMPP, an HTTPS-only server), a script, a service and a timer that copy the
certificate Caddy obtained for the tool's name to where the tool reads it, then reload the tool.
The three files come from templates/certs/, rendered per tool as sovstack-<tool>-certs."""

from __future__ import annotations

from typing import Any

import jinja2

from sovstack.catalog import Deploy, as_data
from sovstack.errors import CatalogError

SCRIPTS = "/usr/local/lib/sovstack"
UNITS = "/etc/systemd/system"


def unit_name(tool_id: str) -> str:
    """The service and timer (.timer listed in the tool's deploy.services) of its certificate sync."""
    return f"sovstack-{tool_id}-certs"


def _values(tool_id: str, deploy: Deploy, ctx: dict[str, Any], env: jinja2.Environment) -> dict[str, Any]:
    try:
        return {name: env.from_string(value).render(ctx) if isinstance(value, str) else value
                for name, value in as_data(deploy.certificates, defaults=True).items()}
    except jinja2.TemplateError as exc:
        raise CatalogError(f"catalog {tool_id}: deploy.certificates: cannot render ({exc})",
                           "this is a catalog mistake: report it") from None


def watched_copy(tool_id: str, deploy: Deploy, ctx: dict[str, Any], env: jinja2.Environment) -> dict[str, Any] | None:
    """What the diagnosis compares with Caddy's certificate: the copy the tool serves (its own store's,
    when it imports one), the name it is for, and the unit that makes it."""
    if deploy.certificates is None:
        return None
    certs = _values(tool_id, deploy, ctx, env)
    return {"tool": tool_id, "fqdn": ctx["app"]["fqdn"], "copy": certs["current"] or f"{certs['dest']}/{certs['cert']}",
            "unit": unit_name(tool_id)}


def sync_files(tool_id: str, deploy: Deploy, ctx: dict[str, Any], env: jinja2.Environment) -> dict[str, bytes]:
    """The tool's certificate-sync files (dest -> content); none unless the catalog asks for them."""
    if deploy.certificates is None:
        return {}
    unit, script = unit_name(tool_id), f"{SCRIPTS}/{tool_id}-certs.sh"
    certs = _values(tool_id, deploy, ctx, env)
    try:
        given = {**ctx, "certs": certs, "unit": unit, "script": script, "docker": deploy.how == "compose"}
        return {script: env.get_template("certs/sync.sh.j2").render(given).encode(),
                f"{UNITS}/{unit}.service": env.get_template("certs/sync.service.j2").render(given).encode(),
                f"{UNITS}/{unit}.timer": env.get_template("certs/sync.timer.j2").render(given).encode()}
    except jinja2.TemplateError as exc:
        raise CatalogError(f"catalog {tool_id}: deploy.certificates: cannot render ({exc})",
                           "this is a catalog mistake: report it") from None
