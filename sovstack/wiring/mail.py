"""Who carries the mail: a hosted relay, a self-hosted mail server with one account per tool and
per server, or nothing. Which mail servers take accounts is catalog data (deploy.mail_accounts).

The decisions take the stack and the catalog; `context`, `senders` and `server_context` turn the
Wiring and the secrets into what the templates see as `mail` and `mail_senders`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sovstack.catalog import Catalog
from sovstack.stack.passwords import ssha512
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import Wiring


def server(stack: Stack, catalog: Catalog) -> str | None:
    """The self-hosted mail server of the stack, if any (a relay wins: see route)."""
    found = [t for t in sorted(stack.tools) if catalog.tools[t].smtp.method == "is-mail-server"]
    return found[0] if found else None


def with_accounts(catalog: Catalog) -> list[str]:
    """Mail servers sovstack can make every other tool send through, with one account per tool."""
    return sorted(t for t, tool in catalog.tools.items() if tool.deploy and tool.deploy.mail_accounts)


def sends_mail(catalog: Catalog, tool_id: str) -> bool:
    return catalog.tools[tool_id].smtp.method in ("env", "config-file")


def host(stack: Stack, catalog: Catalog, server_id: str | None) -> str:
    """The name of the self-hosted mail server (MX, certificate, submission): its own web name."""
    return (stack.fqdn(server_id, catalog) if server_id else None) or f"mail.{stack.domain}"


def route(stack: Stack, catalog: Catalog, server_id: str | None) -> str | None:
    """'relay' (hosted mail), 'self-hosted' (a mail server sovstack gives accounts on), or None."""
    if stack.mail_relay is not None:
        return "relay"
    if server_id is not None and catalog.tools[server_id].deploy.mail_accounts:
        return "self-hosted"
    return None


def client_servers(stack: Stack, route_: str | None, server_id: str | None) -> tuple[str, ...]:
    """Servers that send their own mail (cron, diagnosis) through the stack's mail route: every
    server but the one running the mail server, when the stack has a route."""
    if route_ is None:
        return ()
    # The server running a mail server has its own MTA, whatever the route.
    home = stack.tools[server_id].server if server_id else None
    return tuple(name for name in stack.servers if name != home)


def server_sender(stack: Stack, server_name: str) -> str:
    return f"sovstack-{server_name}@{stack.domain}"


def server_ip(stack: Stack, server_name: str) -> str | None:
    """The address other servers reach this one at, when it is an IP address."""
    candidate = stack.servers[server_name].public_ip or stack.servers[server_name].address
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def context(w: Wiring, tool_id: str, secrets: dict[str, str], relay_password: str | None) -> dict[str, Any] | None:
    """What a tool's templates see as `mail` (where it sends mail), or None."""
    stack = w.stack
    if w.mail_route == "relay":
        relay = stack.mail_relay
        return {"route": "relay", "host": relay.host, "port": relay.port, "username": relay.username,
                "password": relay_password, "security": relay.security,
                "from_address": relay.address(tool_id, stack.domain), "extra_host": None}
    if w.mail_route == "self-hosted" and w.tools[tool_id].sends_mail:
        home = stack.tools[w.mail_server].server
        address = f"{tool_id}@{stack.domain}"
        ip = server_ip(stack, home)
        # The certificate names mail.<domain>: containers on the mail server reach it under that
        # name through Docker's host gateway (compose: extra_hosts).
        extra = (f"{w.mail_host}:host-gateway" if home == stack.tools[tool_id].server
                 else f"{w.mail_host}:{ip}" if ip else None)
        return {"route": "self-hosted", "host": w.mail_host, "port": 587, "username": address,
                "password": secrets.get("smtp_password"), "security": "starttls", "from_address": address,
                "extra_host": extra}
    return None


def senders(w: Wiring, tool_secrets: dict[str, dict[str, str]],
            server_secrets: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The SMTP accounts tools and other servers send with on the self-hosted mail server (hashed)."""
    if w.mail_route != "self-hosted":
        return []
    found = []
    for tool_id in sorted(w.stack.tools):
        password = tool_secrets.get(tool_id, {}).get("smtp_password")
        if w.tools[tool_id].sends_mail and password:
            found.append({"tool": tool_id, "address": f"{tool_id}@{w.stack.domain}", "password_hash": ssha512(password)})
    for name in w.mail_clients:
        password = server_secrets.get(name, {}).get("smtp_password")
        if password:
            found.append({"tool": None, "address": server_sender(w.stack, name), "password_hash": ssha512(password)})
    return found


def server_context(w: Wiring, server_secrets: dict[str, dict[str, str]], relay_password: str | None,
                   server_name: str) -> dict[str, Any] | None:
    """How a server's own Postfix (a null client) sends mail, or None (no route, or it is the mail server)."""
    stack = w.stack
    if server_name not in w.mail_clients:
        return None
    if w.mail_route == "relay":
        relay = stack.mail_relay
        return {"route": "relay", "relayhost": f"[{relay.host}]:{relay.port}", "tls_match": relay.host,
                "wrapper": relay.security == "tls", "username": relay.username, "password": relay_password,
                "from_address": relay.address(f"sovstack-{server_name}", stack.domain), "verify": True}
    ip = server_ip(stack, stack.tools[w.mail_server].server)
    sender = server_sender(stack, server_name)
    return {"route": "self-hosted", "relayhost": f"[{ip or w.mail_host}]:587", "tls_match": w.mail_host,
            "wrapper": False, "username": sender, "password": server_secrets.get(server_name, {}).get("smtp_password"),
            "from_address": sender,
            # Caddy's own CA (tls: internal) is not known to other servers: encrypt without checking.
            "verify": stack.tls == "public"}
