"""The members' portal: one static page listing every tool of the stack, served by Caddy itself.

It says, in the stack's language, where each tool is, what it is for and how to log in, and it is
the association's web page that sovstack serves, so it carries the analytics tracking code. It is
built from the stack and the catalog only (never from secrets), so it can be public.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import jinja2

from sovstack import layout
from sovstack.catalog import CATEGORIES
from sovstack.paths import templates_dir
from sovstack.wiring import analytics
from sovstack.wiring.model import Wiring

ROOT = f"{layout.ROOT}/portal"

TEXT = {
    "en": {
        "title": "{organisation}: our tools",
        "intro": "Every tool the association runs for its members: where it is, what it is for and how to log in.",
        "one_account": "One member account opens every tool marked “member account”: the same name and password "
                       "everywhere.",
        "login_member": "Log in with your member account.",
        "login_member_oidc": "Log in with your member account, through {provider}.",
        "login_directory": "Holds the member accounts.",
        "login_own": "Not connected to the member accounts: if it asks for an account, ask the association's "
                     "administrator.",
        "login_alone": "If it asks for an account, ask the association's administrator.",
        "no_web": "No web page: the other tools use it.",
        "private": "Its address is private: ask the administrator.",
        "mail": "Mail apps: server {host}; receiving (IMAP) port 993, sending (SMTP) port 587.",
        "identity": "Member accounts",
        "counted": "Visits to this page are counted with {tool}, which the association runs on its own server.",
        "made_by": "Page made by sovstack.",
    },
    "fr": {
        "title": "{organisation} : nos outils",
        "intro": "Tous les outils que l'association met à disposition de ses membres : où les trouver, à quoi "
                 "ils servent et comment s'y connecter.",
        "one_account": "Un seul compte membre ouvre tous les outils marqués « compte membre » : le même nom et le "
                       "même mot de passe partout.",
        "login_member": "Connexion avec votre compte membre.",
        "login_member_oidc": "Connexion avec votre compte membre, via {provider}.",
        "login_directory": "Contient les comptes des membres.",
        "login_own": "Non relié aux comptes des membres : s'il demande un compte, adressez-vous à "
                     "l'administrateur de l'association.",
        "login_alone": "S'il demande un compte, adressez-vous à l'administrateur de l'association.",
        "no_web": "Pas de page web : les autres outils s'en servent.",
        "private": "Son adresse est privée : demandez à l'administrateur.",
        "mail": "Logiciels de courriel : serveur {host} ; réception (IMAP) port 993, envoi (SMTP) port 587.",
        "identity": "Comptes des membres",
        "counted": "Les visites de cette page sont comptées avec {tool}, que l'association fait tourner sur son "
                   "propre serveur.",
        "made_by": "Page réalisée par sovstack.",
    },
}


@dataclass
class PortalSite:
    """What render adds to the bundle of the portal's server."""

    fqdn: str
    files: dict[str, bytes]  # dest -> content
    site: dict[str, Any]  # a Caddyfile site entry (like a tool's)
    health: dict[str, Any]


def _environment() -> jinja2.Environment:
    # HTML is escaped (an organisation named "<script>" stays text); the Caddy body is not HTML.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                              autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def entries(w: Wiring) -> list[dict[str, Any]]:
    """Every deployed tool: name, what it is for, address (url when it has a public page) and how to log in.

    A tool whose address is private (deploy.private_address: the GoAccess report lives under a secret
    path) is listed without a link, so the public page never gives it away."""
    stack, catalog = w.stack, w.catalog
    text = TEXT[stack.language]
    mail_server = w.mail_server if w.mail_route == "self-hosted" else None
    found = []
    for tool_id in stack.tools:
        tool = catalog.tools[tool_id]
        private = tool.deploy.private_address
        category = next(c for c in CATEGORIES if c in tool.categories)
        fqdn = stack.fqdn(tool_id, catalog)
        protocol = w.tools[tool_id].member_login
        if protocol == "oidc":
            login = text["login_member_oidc"].format(provider=catalog.tools[w.tools[tool_id].member_login_by].name)
        elif protocol:
            login = text["login_member"]
        elif "identity" in tool.categories:
            login = text["login_directory"]
        elif private:
            login = ""  # an admin's page, not a members' tool
        else:
            login = text["login_own"] if w.provider else text["login_alone"]
        note = text["mail"].format(host=w.mail_host) if tool_id == mail_server else ""
        if not fqdn:
            note = note or text["no_web"]
        elif private:
            note = text["private"]
        url = f"https://{fqdn}/" if fqdn and not private else None
        found.append({"id": tool_id, "name": tool.name, "category": category,
                      "description": tool.description.get(stack.language), "fqdn": fqdn, "url": url,
                      "member_account": protocol is not None, "login": login, "note": note})
    return sorted(found, key=lambda e: (CATEGORIES.index(e["category"]), e["name"].lower()))


def page(w: Wiring) -> str:
    """The portal's index.html."""
    stack, catalog = w.stack, w.catalog
    text = TEXT[stack.language]
    tracked = analytics.portal_property(w)
    groups: dict[str, dict[str, Any]] = {}
    for entry in entries(w):
        category = entry["category"]
        label = (text["identity"] if category == "identity"
                 else catalog.criteria.needs[category].label.get(stack.language))
        groups.setdefault(category, {"label": label, "tools": []})["tools"].append(entry)
    return _environment().get_template("portal/index.html.j2").render(
        lang=stack.language, text=text, title=text["title"].format(organisation=stack.organisation),
        groups=list(groups.values()), one_account=w.provider is not None,
        snippet=analytics.snippet(w, tracked) if tracked else "",
        counted=text["counted"].format(tool=catalog.tools[w.tracker].name) if tracked else "")


def content_security_policy(html: str, w: Wiring) -> str:
    """Only the page's own style and the tracker (its origin, and the hashes of inline tracker code) may run."""
    tracker = w.tracker if analytics.portal_property(w) else None
    origin = f" https://{w.stack.fqdn(tracker, w.catalog)}" if tracker else ""
    inline = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
              if "src=" not in attrs]
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in inline)
    scripts = f"; script-src{origin}{hashes}; connect-src{origin}" if tracker else ""
    return (f"default-src 'none'; style-src 'self'; img-src 'self'{origin}{scripts}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def portal_site(w: Wiring, server: str) -> PortalSite | None:
    """The portal's files, Caddy site and health check, for the server that serves it (else None)."""
    if w.stack.portal_server() != server:
        return None
    fqdn = w.stack.portal_fqdn()
    html = page(w)
    env = _environment()
    body = env.get_template("portal/caddy.j2").render(root=ROOT, csp=content_security_policy(html, w))
    files = {f"{ROOT}/index.html": html.encode(),
             f"{ROOT}/portal.css": (templates_dir() / "portal" / "portal.css").read_bytes()}
    return PortalSite(fqdn=fqdn, files=files,
                      site={"tool": "portal", "fqdn": fqdn, "web_port": None, "body": body.rstrip("\n"), "loopback_port": None},
                      health={"tool": "portal", "fqdn": fqdn, "path": "/", "url": None})
