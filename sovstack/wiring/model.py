"""The wiring of one stack as data: computed once by `wire(stack, catalog)` (wiring/wire.py) and handed
to render, secrets, the portal, the members' mail and `sovstack check`, which read it and never re-derive it.

This module is the bottom of wiring/: identity, mail, analytics and links build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sovstack.catalog import Catalog
from sovstack.stack.stackfile import Stack


@dataclass(frozen=True)
class Link:
    """One wire between a tool and a shared service (or why there is none)."""

    tool: str
    aspect: str  # identity | mail | analytics
    wired: bool
    how: str  # e.g. "ldap", "smtp through postfix-dovecot", "" when not wired
    reason: str = ""  # when not wired: why, in plain words
    about: str = ""  # what it is about when not the tool itself ("portal", "website": a counted page)

    @property
    def subject(self) -> str:
        """What `sovstack check` reports it under: one finding per subject."""
        return f"{self.aspect} {self.about or self.tool}"


@dataclass(frozen=True)
class Property:
    """A public web page of the association that the stack's tracker counts."""

    key: str  # analytics.PORTAL, or the id of the tool whose pages these are
    name: str
    fqdn: str
    server: str
    site_id: str

    @property
    def url(self) -> str:
        return f"https://{self.fqdn}/"


@dataclass(frozen=True)
class ToolWiring:
    """How one tool of the stack is connected."""

    identity: str | None  # the protocol it logs in to the directory with ("ldap", "oidc"), or None
    identity_why: str  # why not, when identity is None
    member_login: str | None  # how a member logs in to it: an add-on logs in through its base tool
    sends_mail: bool  # it sends mail itself (smtp.method env or config-file)
    secrets: tuple[str, ...]  # what secrets.yml holds for it: deploy.secrets, then what the wiring needs
    identity_by: str | None = None  # the identity tool it logs in to (the directory, or an OpenID Connect portal)
    member_login_by: str | None = None  # the identity tool behind member_login


@dataclass(frozen=True, eq=False)
class Wiring:
    """Who holds the members, who carries the mail, who counts the pages, and every link between tools."""

    stack: Stack
    catalog: Catalog
    provider: str | None  # the identity tool holding the members (the directory)
    mail_server: str | None  # the self-hosted mail server, if any (a relay still wins: see mail_route)
    mail_route: str | None  # "relay", "self-hosted" (a server sovstack gives accounts on), or None
    mail_host: str  # the mail server's name (MX, certificate, submission)
    mail_clients: tuple[str, ...]  # servers sending their own mail (cron, diagnosis) through the route
    tools: Mapping[str, ToolWiring]
    tracker: str | None  # the analytics tool counting with a script in the pages
    log_reader: str | None  # the analytics tool reading Caddy's access log
    properties: tuple[Property, ...]  # the pages the tracker counts, portal first
    links: tuple[Link, ...] = ()
    providers: tuple[str, ...] = ()  # every identity tool of the stack, the directory first

    @property
    def base_dn(self) -> str:
        return ldap_base_dn(self.stack.domain)

    def wanted_secrets(self) -> dict[str, dict[str, list[str]]]:
        """What secrets.yml must hold: {"tools": {id: names}, "servers": {name: names}} (stack/secrets.py)."""
        servers = self.mail_clients if self.mail_route == "self-hosted" else ()
        return {"tools": {t: list(w.secrets) for t, w in sorted(self.tools.items()) if w.secrets},
                "servers": {s: ["smtp_password"] for s in servers}}


def ldap_base_dn(domain: str) -> str:
    return ",".join(f"dc={part}" for part in domain.split("."))
