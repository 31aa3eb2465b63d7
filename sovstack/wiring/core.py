"""How the tools of a stack are wired together: who holds the members, who carries the mail.

Pure decisions from the stack and the catalog (no server, no output). Render turns them into the
`identity` and `mail` contexts the templates see; `sovstack check`/render list what could not be
wired and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sovstack.catalog import Catalog
from sovstack.stack.passwords import ssha, ssha512
from sovstack.stack.stackfile import Stack

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


def mail_host(stack: Stack, catalog: Catalog) -> str:
    """The name of the self-hosted mail server (MX, certificate, submission): its own web name."""
    server = mail_server(stack, catalog)
    return (stack.fqdn(server, catalog) if server else None) or f"mail.{stack.domain}"


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
    # Only what sovstack really sets up on the provider (an LDAP layout, OIDC clients) counts.
    offered = [p for p in catalog.tools[provider].identity_provides if p in protocols_served(provider)]
    elsewhere = stack.tools[provider].server != stack.tools[tool_id].server
    for protocol in ("ldap", "oidc"):
        if protocol in offered and protocol in tool.sso.free() and protocol in tool_wiring(tool_id, catalog):
            if protocol == "ldap" and elsewhere:
                continue  # plain LDAP must not cross the network between servers; OIDC (HTTPS) may
            return protocol, ""
    if elsewhere and "ldap" in offered and "ldap" in tool.sso.free():
        return None, (f"{catalog.tools[provider].name} is on server {stack.tools[provider].server!r}: sovstack "
                      "keeps LDAP on one server (it is not encrypted); place them together")
    free = tool.sso.free()
    if not free:
        return None, f"{tool.name} has no LDAP or OpenID Connect login in its free edition"
    usable = [p for p in free if p in offered]
    if not usable:
        return None, (f"{tool.name} speaks {', '.join(free)}, sovstack connects {catalog.tools[provider].name} "
                      f"over {', '.join(offered) or 'nothing yet'}")
    return None, tool.sso.not_wired or f"sovstack does not configure {tool.name}'s {'/'.join(usable)} login yet"


def member_login(stack: Stack, catalog: Catalog, tool_id: str) -> str | None:
    """How a member logs in to this tool with their member account ("ldap", "oidc"), or None.

    An add-on is used through its base tool (Roundcube logs in to the mail server's IMAP, which
    checks the directory; Nextcloud Office opens from Nextcloud), so it takes its base's login.
    """
    tool = catalog.tools[tool_id]
    base = next((b for b in tool.addon_for if b in stack.tools), tool_id) if tool.role == "addon" else tool_id
    return identity_protocol(stack, catalog, base)[0]


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
    """What a tool's templates see as `identity`, or None when the tool is not wired to it.

    Provider-aware: DNs and filters come from DIRECTORIES, endpoints from OIDC_PROVIDERS. A protocol
    the provider does not serve through sovstack (see protocols_served) gives None, never half a login.
    """
    protocol, _ = identity_protocol(stack, catalog, tool_id)
    provider = identity_provider(stack, catalog)
    if protocol is None or provider is None or protocol not in protocols_served(provider):
        return None
    ctx: dict[str, Any] = {"tool": provider, "name": catalog.tools[provider].name, "protocol": protocol}
    if protocol == "ldap":
        ctx["ldap"] = _ldap_context(stack, provider, tool_id, secrets.get("ldap_bind_password"))
        # The directory listens on the host (slapd, or lldap on the host's network): Docker's gateway.
        ctx["extra_hosts"] = [f"{HOST_FROM_CONTAINERS}:host-gateway"]
    else:
        fqdn = stack.fqdn(provider, catalog)
        ctx["oidc"] = _oidc_context(OIDC_PROVIDERS[provider], fqdn, tool_id, secrets.get("oidc_client_secret"))
        # The tool fetches the provider's keys and tokens server-side: on the same server, straight to
        # Caddy through Docker's gateway instead of a round trip through public DNS.
        same_server = stack.tools[provider].server == stack.tools[tool_id].server
        ctx["extra_hosts"] = [f"{fqdn}:host-gateway"] if same_server else []
    return ctx


def _ldap_context(stack: Stack, provider: str, tool_id: str, password: str | None) -> dict[str, Any]:
    directory = DIRECTORIES[provider]
    base = ldap_base_dn(stack.domain)
    members = directory.person_filter.format(base=base)
    return {
        "host": HOST_FROM_CONTAINERS, "port": directory.port, "url": f"ldap://{HOST_FROM_CONTAINERS}:{directory.port}",
        "host_url": directory.host_url,
        "base_dn": base, "users_dn": f"{directory.people},{base}", "groups_dn": f"{directory.groups},{base}",
        "members_group_dn": directory.members_group.format(base=base) if directory.members_group else None,
        # Who may log in: people, not service accounts. `user_filter` has a {username} placeholder that
        # each template turns into its tool's own syntax (%uid, %u, {{username}}, %(user)s...).
        "user_object_filter": members, "user_filter": f"(&{members}(uid={{username}}))",
        "login_attribute": "uid", "mail_attribute": "mail", "name_attribute": "cn",
        "bind_dn": directory.service_dn.format(tool=tool_id, base=base), "bind_password": password,
    }


def _oidc_context(endpoints: OidcProvider, fqdn: str | None, tool_id: str, secret: str | None) -> dict[str, Any]:
    issuer = endpoints.issuer.format(fqdn=fqdn, client=tool_id)
    return {
        "issuer": issuer, "discovery_url": issuer.rstrip("/") + "/.well-known/openid-configuration",
        "authorization_url": endpoints.authorization.format(fqdn=fqdn, issuer=issuer),
        "token_url": endpoints.token.format(fqdn=fqdn, issuer=issuer),
        "userinfo_url": endpoints.userinfo.format(fqdn=fqdn, issuer=issuer),
        "client_id": tool_id, "client_secret": secret, "scopes": ["openid", "email", "profile"],
        "username_claim": "preferred_username",
    }


# ---------------------------------------------------------------------------------------------
# The providers: how each identity tool lays out its directory or its OpenID Connect endpoints.

@dataclass(frozen=True)
class Directory:
    """An LDAP directory's layout: {base} is the stack's base DN, {tool} a tool's id."""

    port: int
    host_url: str  # how the server itself (postfix, dovecot, `sovstack members`) reaches it
    people: str  # branch of the members, under the base DN
    groups: str
    person_filter: str  # an LDAP filter matching members who may log in (not service accounts)
    service_dn: str  # the DN a tool binds with
    members_group: str | None  # DN of the group of all members, when the directory has one


DIRECTORIES = {
    "openldap": Directory(port=389, host_url="ldap://127.0.0.1:389", people="ou=people", groups="ou=groups",
                          person_filter="(objectClass=inetOrgPerson)", service_dn="cn={tool},ou=services,{base}",
                          members_group="cn=members,ou=groups,{base}"),
    # lldap (its compose file: host network, LDAP on 3890): users are uid=…,ou=people; a service account
    # is a user in the built-in group lldap_strict_readonly, which the login filter leaves out.
    "lldap": Directory(port=3890, host_url="ldap://127.0.0.1:3890", people="ou=people", groups="ou=groups",
                       person_filter="(&(objectClass=person)(!(memberOf=cn=lldap_strict_readonly,ou=groups,{base})))",
                       service_dn="uid={tool},ou=people,{base}", members_group=None),
}


@dataclass(frozen=True)
class OidcProvider:
    """Endpoint patterns: {fqdn} is the provider's host, {client} the tool's client id, {issuer} the issuer."""

    issuer: str
    authorization: str
    token: str
    userinfo: str


OIDC_PROVIDERS = {
    # One realm "sovstack" holds the members and a client per tool (keycloak's deploy steps).
    "keycloak": OidcProvider(issuer="https://{fqdn}/realms/sovstack",
                             authorization="{issuer}/protocol/openid-connect/auth",
                             token="{issuer}/protocol/openid-connect/token",
                             userinfo="{issuer}/protocol/openid-connect/userinfo"),
    # One application per tool, its slug the client id (authentik's blueprint); the issuer is per application.
    "authentik": OidcProvider(issuer="https://{fqdn}/application/o/{client}/",
                              authorization="https://{fqdn}/application/o/authorize/",
                              token="https://{fqdn}/application/o/token/",
                              userinfo="https://{fqdn}/application/o/userinfo/"),
}
# LDAP port of each directory on the server (containers reach it as host.docker.internal).
LDAP_PORTS = {provider: directory.port for provider, directory in DIRECTORIES.items()}
# Issuer URL pattern per OpenID provider; {client} is the tool's client id.
OIDC_ISSUERS = {provider: endpoints.issuer for provider, endpoints in OIDC_PROVIDERS.items()}
# Why a provider serves a protocol it speaks to no tool through sovstack (see its catalog deploy note).
NOT_SERVED = {
    ("authentik", "ldap"): "authentik serves LDAP through an outpost container, which sovstack does not deploy",
    ("authentik", "saml"): "sovstack wires LDAP and OpenID Connect only",
    ("keycloak", "saml"): "sovstack wires LDAP and OpenID Connect only",
    ("kanidm", "ldap"): "Kanidm's LDAP is read-only LDAPS for service accounts with API tokens, not member logins",
    ("kanidm", "oidc"): "Kanidm generates each client's secret itself and its CLI is not in the server image, "
                        "so sovstack cannot register the tools as clients",
}


def protocols_served(provider: str) -> tuple[str, ...]:
    """The protocols sovstack sets up on this identity tool for other tools (LDAP layout or OIDC clients)."""
    return tuple(p for p, table in (("ldap", DIRECTORIES), ("oidc", OIDC_PROVIDERS)) if provider in table)


def identity_clients(stack: Stack, catalog: Catalog, tool_secrets: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The provider's side: one client per wired tool (an lldap service account, a Keycloak client, an
    authentik application), with the secret the tool renders. Only the provider's templates use it."""
    provider = identity_provider(stack, catalog)
    if provider is None:
        return []
    base = ldap_base_dn(stack.domain)
    clients = []
    for tool_id in sorted(stack.tools):
        protocol, _ = identity_protocol(stack, catalog, tool_id)
        if protocol is None or protocol not in protocols_served(provider):
            continue
        own = tool_secrets.get(tool_id, {})
        tool = catalog.tools[tool_id]
        client: dict[str, Any] = {"tool": tool_id, "name": tool.name, "protocol": protocol,
                                  # the variable a provider's env file holds this client's secret in
                                  "env": "SOVSTACK_SECRET_" + tool_id.upper().replace("-", "_")}
        if protocol == "ldap":
            password = own.get("ldap_bind_password")
            client.update(user_id=tool_id, email=f"{tool_id}@{stack.domain}", password=password,
                          bind_dn=DIRECTORIES[provider].service_dn.format(tool=tool_id, base=base),
                          # for directories that take a hash (slapd: {SSHA}), stable across renders
                          password_hash=ssha(password) if password else None)
        else:
            url = f"https://{stack.fqdn(tool_id, catalog)}"
            client.update(client_id=tool_id, secret=own.get("oidc_client_secret"), url=url,
                          redirect_uris=[url + path for path in tool.sso.settings["oidc"].redirect_paths])
        clients.append(client)
    return clients


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
        host = mail_host(stack, catalog)
        # The certificate names mail.<domain>: containers on the mail server reach it under that
        # name through Docker's host gateway (compose: extra_hosts).
        return {"route": "self-hosted", "host": host, "port": 587, "username": address,
                "password": secrets.get("smtp_password"), "security": "starttls", "from_address": address,
                "extra_host": f"{host}:host-gateway" if same_server else (
                    f"{host}:{server_ip(stack, stack.tools[server].server)}"
                    if server_ip(stack, stack.tools[server].server) else None)}
    return None


def mail_senders(stack: Stack, catalog: Catalog, tool_secrets: dict[str, dict[str, str]],
                 server_secrets: dict[str, dict[str, str]] | None = None) -> list[dict[str, str]]:
    """The SMTP accounts tools and other servers send with on the self-hosted mail server (hashed)."""
    if mail_route(stack, catalog) != "self-hosted":
        return []
    senders = []
    for tool_id in sorted(stack.tools):
        password = tool_secrets.get(tool_id, {}).get("smtp_password")
        if sends_mail(catalog, tool_id) and password:
            senders.append({"tool": tool_id, "address": f"{tool_id}@{stack.domain}",
                            "password_hash": ssha512(password)})
    for server in mail_client_servers(stack, catalog):
        password = (server_secrets or {}).get(server, {}).get("smtp_password")
        if password:
            senders.append({"tool": None, "address": server_sender(stack, server), "password_hash": ssha512(password)})
    return senders


def mail_client_servers(stack: Stack, catalog: Catalog) -> list[str]:
    """Servers that send their own mail (cron, diagnosis) through the stack's mail route: every
    server but the one running the mail server, when the stack has a route."""
    route = mail_route(stack, catalog)
    if route is None:
        return []
    # The server running a mail server has its own MTA, whatever the route.
    server = mail_server(stack, catalog)
    home = stack.tools[server].server if server else None
    return [name for name in stack.servers if name != home]


def server_sender(stack: Stack, server: str) -> str:
    return f"sovstack-{server}@{stack.domain}"


def server_ip(stack: Stack, server: str) -> str | None:
    """The address other servers reach this one at, when it is an IP address."""
    import ipaddress

    candidate = stack.servers[server].public_ip or stack.servers[server].address
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def server_mail_context(stack: Stack, catalog: Catalog, server_secrets: dict[str, dict[str, str]],
                        relay_password: str | None, server: str) -> dict[str, Any] | None:
    """How a server's own Postfix (a null client) sends mail, or None (no route, or it is the mail server)."""
    if server not in mail_client_servers(stack, catalog):
        return None
    if mail_route(stack, catalog) == "relay":
        relay = stack.mail_relay
        return {"route": "relay", "relayhost": f"[{relay.host}]:{relay.port}", "tls_match": relay.host,
                "wrapper": relay.security == "tls", "username": relay.username, "password": relay_password,
                "from_address": f"sovstack-{server}@{relay.from_domain or stack.domain}", "verify": True}
    home = stack.tools[mail_server(stack, catalog)].server
    host = mail_host(stack, catalog)
    ip = server_ip(stack, home)
    return {"route": "self-hosted", "relayhost": f"[{ip or host}]:587", "tls_match": host, "wrapper": False,
            "username": server_sender(stack, server), "password": server_secrets.get(server, {}).get("smtp_password"),
            "from_address": server_sender(stack, server),
            # Caddy's own CA (tls: internal) is not known to other servers: encrypt without checking.
            "verify": stack.tls == "public"}


def links(stack: Stack, catalog: Catalog) -> list[Link]:
    """Every wire of the stack, for the report and `sovstack check`."""
    found: list[Link] = []
    route = mail_route(stack, catalog)
    provider = identity_provider(stack, catalog)
    for tool_id in sorted(stack.tools):
        tool = catalog.tools[tool_id]
        # A log reader (GoAccess) has no accounts at all: nothing to connect.
        no_logins = tool.analytics is not None and tool.analytics.collects == "logs"
        if provider and "identity" not in tool.categories and tool.role == "main" and not no_logins:
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
    # Imported here: analytics builds on this module.
    from sovstack.wiring.analytics import analytics_links
    return found + analytics_links(stack, catalog)
