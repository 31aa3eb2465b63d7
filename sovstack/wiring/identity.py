"""Who holds the members, and how each tool logs in to it (LDAP or OpenID Connect).

The decisions take the stack and the catalog; the providers' layouts are catalog data
(deploy.directory, deploy.oidc_provider, deploy.not_served). `context` and `clients` turn the
Wiring and the secrets into what the templates see as `identity` and `identity_clients`.
"""

from __future__ import annotations

from typing import Any

from sovstack.catalog import Catalog, OidcEndpoints, login_order, login_route, served, tool_wiring
from sovstack.catalog import login_base as catalog_login_base
from sovstack.stack.passwords import ssha
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import Wiring, ldap_base_dn

# From inside a container, the server itself (compose files add host-gateway under this name).
HOST_FROM_CONTAINERS = "host.docker.internal"
# Caddy's own root CA (tls: internal), where Caddy keeps it on the server.
CADDY_LOCAL_CA = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"


def providers(stack: Stack, catalog: Catalog) -> list[str]:
    """The stack's identity tools, the directory first (catalog.login_order): OpenLDAP alone, or OpenLDAP and
    LemonLDAP::NG, its OpenID Connect portal."""
    return login_order(catalog, [t for t in stack.tools if "identity" in catalog.tools[t].categories])


def provider(stack: Stack, catalog: Catalog) -> str | None:
    """The identity tool holding the members (`sovstack members` manages them there)."""
    found = providers(stack, catalog)
    return found[0] if found else None


def protocol(stack: Stack, catalog: Catalog, provider_ids: list[str], tool_id: str) -> tuple[str | None, str | None, str]:
    """The protocol sovstack connects `tool_id` with and the identity tool it logs in to, or None and why
    (the rule itself is the catalog's, shared with the decision: catalog.login_route)."""
    if not provider_ids:
        return None, None, "the stack has no identity tool"
    here = stack.tools[tool_id].server
    elsewhere = {p: stack.tools[p].server for p in provider_ids if stack.tools[p].server != here}
    return login_route(catalog, provider_ids, tool_id, elsewhere, stack.tools[tool_id].login)


def login_base(stack: Stack, catalog: Catalog, tool_id: str) -> str:
    """The tool a member logs in to when using `tool_id` (an add-on or an app with `sso.via` takes its
    base's login: the catalog's rule, shared with the decision)."""
    return catalog_login_base(catalog, tool_id, stack.tools)


def context(w: Wiring, tool_id: str, secrets: dict[str, str]) -> dict[str, Any] | None:
    """What a tool's templates see as `identity`, or None when the tool is not wired to the directory."""
    wired, by = w.tools[tool_id].identity, w.tools[tool_id].identity_by
    if wired is None or by is None:
        return None
    deploy = w.catalog.tools[by].deploy
    ctx: dict[str, Any] = {"tool": by, "name": w.catalog.tools[by].name, "protocol": wired, "provider_ca": None}
    if wired == "ldap":
        ctx["ldap"] = _ldap_context(w, by, tool_id, secrets.get("ldap_bind_password"))
        # The directory listens on the host (slapd, or lldap on the host's network): Docker's gateway.
        ctx["extra_hosts"] = [f"{HOST_FROM_CONTAINERS}:host-gateway"]
    else:
        fqdn = w.stack.fqdn(by, w.catalog)
        ctx["oidc"] = _oidc_context(deploy.oidc_provider, fqdn, tool_id, secrets.get("oidc_client_secret"))
        # The tool fetches the provider's keys and tokens server-side: on the same server, straight to
        # Caddy through Docker's gateway instead of a round trip through public DNS.
        same_server = w.stack.tools[by].server == w.stack.tools[tool_id].server
        ctx["extra_hosts"] = [f"{fqdn}:host-gateway"] if same_server else []
        # tls: internal: the provider's certificate comes from Caddy's own CA, which the tool must trust to
        # fetch its keys (on that same server; a public certificate needs nothing more).
        ctx["provider_ca"] = CADDY_LOCAL_CA if same_server and w.stack.tls == "internal" else None
    return ctx


def host_url(port: int) -> str:
    """How the server itself (postfix, dovecot, `sovstack members`) reaches a directory on `port`."""
    return f"ldap://127.0.0.1:{port}"


def _ldap_context(w: Wiring, by: str, tool_id: str, password: str | None) -> dict[str, Any]:
    directory = w.catalog.tools[by].deploy.directory
    base = w.base_dn
    members = directory.person_filter.format(base=base)
    return {
        "host": HOST_FROM_CONTAINERS, "port": directory.port, "url": f"ldap://{HOST_FROM_CONTAINERS}:{directory.port}",
        "host_url": host_url(directory.port),
        "base_dn": base, "users_dn": f"{directory.people},{base}", "groups_dn": f"{directory.groups},{base}",
        "members_group_dn": directory.members_group.format(base=base) if directory.members_group else None,
        # Who may log in: people, not service accounts. `user_filter` has a {username} placeholder that
        # each template turns into its tool's own syntax (%uid, %u, {{username}}, %(user)s...).
        "user_object_filter": members, "user_filter": f"(&{members}(uid={{username}}))",
        "login_attribute": "uid", "mail_attribute": "mail", "name_attribute": "cn",
        "bind_dn": directory.service_dn.format(tool=tool_id, base=base), "bind_password": password,
    }


def _oidc_context(endpoints: OidcEndpoints, fqdn: str | None, tool_id: str, secret: str | None) -> dict[str, Any]:
    issuer = endpoints.issuer.format(fqdn=fqdn, client=tool_id)
    return {
        "issuer": issuer, "discovery_url": issuer.rstrip("/") + "/.well-known/openid-configuration",
        "authorization_url": endpoints.authorization.format(fqdn=fqdn, issuer=issuer),
        "token_url": endpoints.token.format(fqdn=fqdn, issuer=issuer),
        "userinfo_url": endpoints.userinfo.format(fqdn=fqdn, issuer=issuer),
        "client_id": tool_id, "client_secret": secret, "scopes": ["openid", "email", "profile"],
        "username_claim": "preferred_username",
    }


def clients(w: Wiring, tool_secrets: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The providers' side: one client per wired tool (an lldap service account, a Keycloak client, an
    authentik application), with the secret the tool renders and the identity tool it is a client of
    (`provider`: LDAP clients at the directory, OpenID Connect clients at the portal when the stack has
    both). Only the providers' templates use it, each taking its protocol's clients."""
    found = []
    for tool_id in sorted(w.stack.tools):
        wired, by = w.tools[tool_id].identity, w.tools[tool_id].identity_by
        if wired is None or by is None:
            continue
        own = tool_secrets.get(tool_id, {})
        tool = w.catalog.tools[tool_id]
        client: dict[str, Any] = {"tool": tool_id, "name": tool.name, "protocol": wired, "provider": by,
                                  # the variable a provider's env file holds this client's secret in
                                  "env": "SOVSTACK_SECRET_" + tool_id.upper().replace("-", "_")}
        if wired == "ldap":
            password = own.get("ldap_bind_password")
            directory = w.catalog.tools[by].deploy.directory
            client.update(user_id=tool_id, email=f"{tool_id}@{w.stack.domain}", password=password,
                          bind_dn=directory.service_dn.format(tool=tool_id, base=w.base_dn),
                          # for directories that take a hash (slapd: {SSHA}), stable across renders
                          password_hash=ssha(password) if password else None)
        else:
            url = f"https://{w.stack.fqdn(tool_id, w.catalog)}"
            client.update(client_id=tool_id, secret=own.get("oidc_client_secret"), url=url,
                          redirect_uris=[url + path for path in tool.sso.settings["oidc"].redirect_paths])
        found.append(client)
    return found


__all__ = ["HOST_FROM_CONTAINERS", "clients", "context", "ldap_base_dn", "login_base", "protocol", "provider",
           "providers", "served", "tool_wiring"]
