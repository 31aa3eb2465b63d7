"""Facts about a server and about sovstack itself that several layers share, spelled once."""

from __future__ import annotations

# --- Server layout -------------------------------------------------------------------------------
# Where the deploy puts things on each server. The templates receive ROOT as `root`.
ROOT = "/srv/sovstack"
BIN = f"{ROOT}/bin"  # sovstack's own scripts (compose, pending, diagnose, backup, update)
# The diagnosis (check/servers.py runs the script; render/diagnose.py writes its configuration).
DIAGNOSE_SCRIPT = f"{BIN}/sovstack-diagnose"
DIAGNOSE_CONFIG = f"{ROOT}/diagnose.json"
DIAGNOSE_TIMER = "sovstack-diagnose.timer"
# The ports every server opens, and who may already hold each on a converged server.
HTTPS_PORT = 443
BASE_PORTS = {22: ("sshd",), 80: ("caddy",), HTTPS_PORT: ("caddy",)}
