"""`sovstack init`: a recommendation becomes `sovstack.yml`, a file people read, edit and version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sovstack.catalog import Catalog, SmtpSubmission, deployable, with_requirements
from sovstack.errors import UserError
from sovstack.recommend.decide import Recommendation
from sovstack.stack.stackfile import parse_stack
from sovstack.yamlio import dump_yaml


@dataclass
class Draft:
    text: str
    tools: list[str]
    refused: list[tuple[str, str]] = field(default_factory=list)  # (tool, why)
    hosted: dict[str, str] = field(default_factory=dict)
    relay: dict[str, Any] | None = None  # mail_relay as drafted (no password: that is in secrets.yml)
    relay_hoster: str | None = None  # the email hoster: its SMTP facts drafted relay, or it is to be asked


def self_hosted_tools(rec: Recommendation, catalog: Catalog) -> list[str]:
    """What the recommendation self-hosts: picks, their companions, the identity tool, and every tool
    these require (LLDAP under Authelia, Nextcloud under its Office), as the decision sized them."""
    tools: list[str] = []
    for outcome in rec.outcomes.values():
        if outcome.mode == "self-host" and outcome.pick and outcome.pick.tool:
            for tool in [outcome.pick.tool, *outcome.companions]:
                if tool not in tools:
                    tools.append(tool)
    if rec.identity and rec.identity.tool.id not in tools:
        tools.append(rec.identity.tool.id)
    return with_requirements(catalog, tools)


def hosted_email(rec: Recommendation, catalog: Catalog) -> tuple[str | None, SmtpSubmission | None]:
    """The hoster of the hosted email, and the SMTP submission it documents (None when not sourced:
    then its SMTP settings are to be asked for). (None, None) when email is not hosted."""
    outcome = rec.outcomes.get("email")
    if not outcome or outcome.mode != "hosted" or not outcome.pick or not outcome.pick.hoster:
        return None, None
    hoster = catalog.hosters[outcome.pick.hoster]
    offer = hoster.offer_for("email", outcome.pick.tool)
    return hoster.id, (offer.smtp if offer else None)


def mail_relay(smtp: SmtpSubmission, username: str) -> dict[str, Any]:
    """sovstack.yml's mail_relay from a hoster's documented SMTP submission. The password is never
    here: init asks for it into secrets.yml, or leaves it to be added there."""
    # Tools send as the login unless the hoster documents that any address on the domain is accepted.
    return {"host": smtp.host, "port": smtp.port, "username": username, "security": smtp.security,
            "sender": "per-tool" if smtp.sender == "any" else "login"}


def sandbox_server(name: str, state_dir: Path) -> dict[str, Any]:
    path = state_dir / name / "sandbox.json"
    if not path.exists():
        raise UserError(f"--sandbox {name}: no sandbox of that name ({path} is missing)",
                        f"start it first: sovstack sandbox up --name {name}")
    info = json.loads(path.read_text())
    return {"address": info["ssh_host"], "ssh_user": info["ssh_user"], "ssh_port": info["ssh_port"],
            "ssh_key": info["ssh_key"], "public_ip": info["address"], "check_host_key": False}


def draft(rec: Recommendation, catalog: Catalog, *, organisation: str, domain: str, admin_email: str,
          server: dict[str, Any] | None, tls: str, language: str, server_name: str = "main",
          relay_user: str | None = None) -> Draft:
    """The stack file's text. With nothing to self-host there is no server (server may be None) and
    nothing to deploy. A hosted email whose hoster documents its SMTP submission drafts mail_relay,
    logging in as relay_user (default: admin_email), when there are tools to send mail."""
    tools, refused = [], []
    for tool_id in self_hosted_tools(rec, catalog):
        ok, why = deployable(catalog.tools[tool_id])
        (tools.append(tool_id) if ok else refused.append((tool_id, why)))
    hosted = {need: (o.pick.hoster or o.pick.tool) for need, o in rec.outcomes.items()
              if o.mode == "hosted" and o.pick}
    if tools and server is None:
        raise UserError("init: the recommendation self-hosts tools but no server was given",
                        "pass --server ADDRESS (or --sandbox NAME)")
    data = {"organisation": organisation, "domain": domain, "admin_email": admin_email, "language": language,
            "tls": tls, "servers": {server_name: server} if tools else {},
            "tools": {t: {"server": server_name, **({"subdomain": catalog.tools[t].deploy.subdomain}
                                                   if catalog.tools[t].deploy.subdomain else {})} for t in tools},
            "hosted": hosted}
    if not tools:  # no server: no members' portal, nothing to back up
        data["portal"] = {"enabled": False}
        data["backup"] = {"enabled": False}
    relay_hoster, smtp = hosted_email(rec, catalog)
    relay = mail_relay(smtp, relay_user or admin_email) if smtp and tools else None
    if relay:
        data["mail_relay"] = relay
    parse_stack(data, "sovstack.yml (draft)", catalog)  # what init writes must load
    lines = [
        f"# The stack of {organisation}, written by `sovstack init` from the recommendation.",
        "# Edit it freely; `sovstack render`/`plan`/`deploy` validate it. Secrets are in secrets.yml (0600).",
        "# servers: where tools run (SSH address, user, port, key). tools: tool id -> server and subdomain.",
        "# tls: public (Let's Encrypt through Caddy) or internal (Caddy's own CA, when there is no public DNS).",
        "# hosted: needs served by a hoster (for the report). mail_relay: where tools send mail when email is",
        "#   hosted: host, port, username, security (starttls|tls|none); its password goes in secrets.yml",
        "#   under mail_relay.password.",
    ]
    if not tools:
        lines.append("# Nothing to deploy: every need is hosted or kept, so there is no server.")
    if relay:
        lines.append(f"# mail_relay: from {catalog.hosters[relay_hoster].name}'s documented SMTP submission "
                     f"({smtp.source}); username: the mailbox tools send from.")
    elif relay_hoster and tools:
        lines.append(f"# mail_relay: ask {catalog.hosters[relay_hoster].name} for its SMTP server, port and "
                     "security (STARTTLS or TLS), then add them here.")
    for tool_id, why in refused:
        lines.append(f"# Not deployed by sovstack: {tool_id}: {why}")
    text = "\n".join(lines) + "\n" + dump_yaml(data)
    return Draft(text=text, tools=tools, refused=refused, hosted=hosted, relay=relay,
                 relay_hoster=relay_hoster if tools else None)
