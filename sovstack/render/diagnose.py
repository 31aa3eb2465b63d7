"""diagnose.json: what the deploy set up on a server, as bin/sovstack-diagnose checks it.

The script (templates/server/root/srv/sovstack/bin/sovstack-diagnose) holds the checks and their
thresholds, so the daily timer on the server and `sovstack check` (check/servers.py) find the same
things. The health probe is also what the deploy's health check runs (engines/apply.py).
"""

from __future__ import annotations

import json
from typing import Any

from sovstack.layout import HTTPS_PORT


def health_probe(entry: dict[str, Any]) -> str:
    """Shell printing two HTTP codes: the tool on its loopback port (200 when it has none), then through
    Caddy over HTTPS by name. Used by the deploy's health check and by the diagnosis alike."""
    local = (f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 {entry['url']}" if entry["url"]
             else "echo 200")
    return (f"a=$({local}); b=$(curl -sk -o /dev/null -w '%{{http_code}}' --max-time 10 --resolve "
            f"{entry['fqdn']}:{HTTPS_PORT}:127.0.0.1 https://{entry['fqdn']}{entry['path']}); echo $a $b")


def server_config(server: str, admin_email: str, services: list[str], compose: list[str],
                  ports: list[dict[str, Any]], health: list[dict[str, Any]], names: dict[str, str],
                  cert_copies: list[dict[str, Any]] = ()) -> bytes:
    """diagnose.json: what the deploy set up on this server, as the script checks it."""
    config = {
        "server": server, "admin_email": admin_email, "services": services, "compose": compose,
        "ports": sorted(ports, key=lambda p: p["port"]),
        "health": [{"tool": h["tool"], "name": names.get(h["tool"], h["tool"]), "fqdn": h["fqdn"],
                    "probe": health_probe(h)} for h in health],
        "sites": list(dict.fromkeys(h["fqdn"] for h in health)),
        # Tools doing their own TLS (mail ports, XMPP) serve a copy of Caddy's certificate: it must follow renewals.
        "cert_copies": [{**c, "name": names.get(c["tool"], c["tool"])} for c in cert_copies],
    }
    return (json.dumps(config, indent=1, ensure_ascii=False) + "\n").encode()
