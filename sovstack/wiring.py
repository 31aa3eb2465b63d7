"""How the tools of a stack are wired together: who holds the members, who carries the mail.

Pure decisions from the stack and the catalog (no server, no output). Render turns them into the
`identity` and `mail` contexts the templates see; `sovstack check`/render list what could not be
wired and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sovstack.catalog import Catalog
from sovstack.stackfile import Stack

# Mail servers sovstack can make every other tool send through, with one account per tool.
MAIL_SERVERS_WITH_ACCOUNTS = ("postfix-dovecot",)
# Directories sovstack can fill with members and service accounts (`sovstack members`).
DIRECTORIES_WITH_MEMBERS = ("openldap",)
# From inside a container, the server itself (compose files add host-gateway under this name).
HOST_FROM_CONTAINERS = "host.docker.internal"


@dataclass(frozen=True)
class Link:
    """One wire between a tool and a shared service (or why there is none)."""

    tool: str
    aspect: str  # identity | mail | analytics
    wired: bool
    how: str  # e.g. "ldap", "smtp through postfix-dovecot", "" when not wired
    reason: str = ""  # when not wired: why, in plain words


def identity_provider(stack: Stack, catalog: Catalog) -> str | None:
    found = [t for t in sorted(stack.tools) if "identity" in catalog.tools[t].categories]
    return found[0] if found else None


def mail_server(stack: Stack, catalog: Catalog) -> str | None:
    """The self-hosted mail server of the stack, if any (a relay wins: see mail_route)."""
    found = [t for t in sorted(stack.tools) if catalog.tools[t].smtp.method == "is-mail-server"]
    return found[0] if found else None


def sends_mail(catalog: Catalog, tool_id: str) -> bool:
    return catalog.tools[tool_id].smtp.method in ("env", "config-file")


def mail_host(stack: Stack) -> str:
    """The name of the self-hosted mail server (MX, certificate, submission)."""
    return f"mail.{stack.domain}"


def mail_route(stack: Stack, catalog: Catalog) -> str | None:
    """'relay' (hosted mail), 'self-hosted' (a mail server sovstack gives accounts on), or None."""
    if stack.mail_relay is not None:
        return "relay"
    server = mail_server(stack, catalog)
    if server in MAIL_SERVERS_WITH_ACCOUNTS:
        return "self-hosted"
    return None


def identity_protocol(stack: Stack, catalog: Catalog, tool_id: str) -> tuple[str | None, str]:
    """The protocol sovstack connects `tool_id` to the stack's directory with, or None and why."""
    provider = identity_provider(stack, catalog)
    tool = catalog.tools[tool_id]
    if provider is None:
        return None, "the stack has no identity tool"
    if tool_id == provider or "identity" in tool.categories:
        return None, "it is the directory"
    offered = catalog.tools[provider].identity_provides
    for protocol in ("ldap", "oidc"):
        if protocol in offered and protocol in tool.sso.free() and protocol in tool_wiring(tool_id, catalog):
            return protocol, ""
    free = tool.sso.free()
    if not free:
        return None, f"{tool.name} has no LDAP or OpenID Connect login in its free edition"
    usable = [p for p in free if p in offered]
    if not usable:
        return None, (f"{tool.name} speaks {', '.join(free)}, {catalog.tools[provider].name} offers "
                      f"{', '.join(offered)}")
    return None, f"sovstack does not configure {tool.name}'s {'/'.join(usable)} login yet"


def tool_wiring(tool_id: str, catalog: Catalog) -> list[str]:
    """Protocols whose settings this tool's templates render (catalog: deploy.wires)."""
    deploy = catalog.tools[tool_id].deploy
    return list(deploy.wires) if deploy else []


def wanted_secrets(stack: Stack, catalog: Catalog) -> dict[str, list[str]]:
    """Secrets the wiring needs besides each tool's own deploy.secrets: tools.<id>.<name>."""
    wanted: dict[str, list[str]] = {}
    route = mail_route(stack, catalog)
    for tool_id in sorted(stack.tools):
        names: list[str] = []
        if route == "self-hosted" and sends_mail(catalog, tool_id):
            names.append("smtp_password")
        protocol, _ = identity_protocol(stack, catalog, tool_id)
        if protocol == "ldap":
            names.append("ldap_bind_password")
        elif protocol == "oidc":
            names.append("oidc_client_secret")
        if names:
            wanted[tool_id] = names
    return wanted


def ldap_base_dn(domain: str) -> str:
    return ",".join(f"dc={part}" for part in domain.split("."))


def identity_context(stack: Stack, catalog: Catalog, secrets: dict[str, str], tool_id: str) -> dict[str, Any] | None:
    """What a tool's templates see as `identity`, or None when the tool is not wired to it."""
    protocol, _ = identity_protocol(stack, catalog, tool_id)
    provider = identity_provider(stack, catalog)
    if protocol is None or provider is None:
        return None
    ctx: dict[str, Any] = {"tool": provider, "name": catalog.tools[provider].name, "protocol": protocol}
    if protocol == "ldap":
        base = ldap_base_dn(stack.domain)
        port = LDAP_PORTS.get(provider, 389)
        ctx["ldap"] = {
            "host": HOST_FROM_CONTAINERS, "port": port, "url": f"ldap://{HOST_FROM_CONTAINERS}:{port}",
            "host_url": f"ldap://127.0.0.1:{port}",
            "base_dn": base, "users_dn": f"ou=people,{base}", "groups_dn": f"ou=groups,{base}",
            "members_group_dn": f"cn=members,ou=groups,{base}",
            "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
            "login_attribute": "uid", "mail_attribute": "mail", "name_attribute": "cn",
            "bind_dn": f"cn={tool_id},ou=services,{base}", "bind_password": secrets.get("ldap_bind_password"),
        }
    else:
        fqdn = stack.fqdn(provider, catalog)
        ctx["oidc"] = {"issuer": OIDC_ISSUERS.get(provider, "https://{fqdn}").format(fqdn=fqdn, client=tool_id),
                       "client_id": tool_id, "client_secret": secrets.get("oidc_client_secret")}
    return ctx


# LDAP port of each directory on the server (lldap publishes its LDAP port for containers).
LDAP_PORTS = {"openldap": 389, "lldap": 3890}
# Issuer URL pattern per OpenID provider; {client} is the tool's client id.
OIDC_ISSUERS = {
    "keycloak": "https://{fqdn}/realms/sovstack",
    "authentik": "https://{fqdn}/application/o/{client}/",
    "kanidm": "https://{fqdn}/oauth2/openid/{client}",
}


def mail_context(stack: Stack, catalog: Catalog, secrets: dict[str, str], tool_id: str,
                 relay_password: str | None) -> dict[str, Any] | None:
    """What a tool's templates see as `mail` (where it sends mail), or None."""
    route = mail_route(stack, catalog)
    if route == "relay":
        relay = stack.mail_relay
        return {"route": "relay", "host": relay.host, "port": relay.port, "username": relay.username,
                "password": relay_password, "security": relay.security,
                "from_address": f"{tool_id}@{relay.from_domain or stack.domain}", "extra_host": None}
    if route == "self-hosted" and sends_mail(catalog, tool_id):
        server = mail_server(stack, catalog)
        same_server = stack.tools[server].server == stack.tools[tool_id].server
        address = f"{tool_id}@{stack.domain}"
        host = mail_host(stack)
        # The certificate names mail.<domain>: containers on the mail server reach it under that
        # name through Docker's host gateway (compose: extra_hosts).
        return {"route": "self-hosted", "host": host, "port": 587, "username": address,
                "password": secrets.get("smtp_password"), "security": "starttls", "from_address": address,
                "extra_host": f"{host}:host-gateway" if same_server else None}
    return None


def links(stack: Stack, catalog: Catalog) -> list[Link]:
    """Every wire of the stack, for the report and `sovstack check`."""
    found: list[Link] = []
    route = mail_route(stack, catalog)
    provider = identity_provider(stack, catalog)
    for tool_id in sorted(stack.tools):
        tool = catalog.tools[tool_id]
        if provider and "identity" not in tool.categories and tool.role == "main":
            protocol, why = identity_protocol(stack, catalog, tool_id)
            found.append(Link(tool_id, "identity", protocol is not None, protocol or "", why))
        if sends_mail(catalog, tool_id):
            if route:
                how = (f"smtp through {stack.mail_relay.host}" if route == "relay"
                       else f"smtp through {catalog.tools[mail_server(stack, catalog)].name}")
                found.append(Link(tool_id, "mail", True, how))
            else:
                found.append(Link(tool_id, "mail", False, "", "the stack has neither a mail relay nor a mail "
                                  "server sovstack can make accounts on (postfix-dovecot)"))
    return found
