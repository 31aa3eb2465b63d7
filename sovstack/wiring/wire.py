"""`wire(stack, catalog)`: the stack's Wiring, computed once and handed to every consumer.

The top of wiring/: it asks identity.py, mail.py and analytics.py for their decisions, and links.py
for the list of wires.
"""

from __future__ import annotations

from dataclasses import replace

from sovstack.catalog import Catalog
from sovstack.stack.stackfile import Stack
from sovstack.wiring import analytics, identity, links, mail
from sovstack.wiring.model import ToolWiring, Wiring

# The secret each login protocol needs on the tool's side.
LOGIN_SECRETS = {"ldap": "ldap_bind_password", "oidc": "oidc_client_secret"}


def wire(stack: Stack, catalog: Catalog) -> Wiring:
    providers = identity.providers(stack, catalog)
    provider = providers[0] if providers else None
    server = mail.server(stack, catalog)
    route = mail.route(stack, catalog, server)
    logins = {t: identity.protocol(stack, catalog, providers, t) for t in stack.tools}
    tools = {}
    for tool_id in sorted(stack.tools):
        protocol, by, why = logins[tool_id]
        sends = mail.sends_mail(catalog, tool_id)
        deploy = catalog.tools[tool_id].deploy
        secrets = list(deploy.secrets if deploy else [])
        if route == "self-hosted" and sends:
            secrets.append("smtp_password")
        if protocol:
            secrets.append(LOGIN_SECRETS[protocol])
        base = logins[identity.login_base(stack, catalog, tool_id)]
        tools[tool_id] = ToolWiring(identity=protocol, identity_by=by, identity_why=why, sends_mail=sends,
                                    secrets=tuple(secrets), member_login=base[0], member_login_by=base[1])
    tracker = analytics.tracker(stack, catalog)
    w = Wiring(stack=stack, catalog=catalog, provider=provider, providers=tuple(providers), mail_server=server, mail_route=route,
               mail_host=mail.host(stack, catalog, server), mail_clients=mail.client_servers(stack, route, server),
               tools=tools, tracker=tracker, log_reader=analytics.tracker(stack, catalog, "logs"),
               properties=tuple(analytics.properties(stack, catalog, tracker)))
    return replace(w, links=tuple(links.links(w)))
