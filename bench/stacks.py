"""The stack file every sandbox benchmark deploys: one sandbox server, the given tools."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.servers import DEBIAN_APPS, DEBIAN_TOOLS

# Every tool the suite proves for real from Debian's packages: the two shared test stacks
# (tests/servers.py), and the portal and the lists that have modules of their own.
DEBIAN_FIRST = list(dict.fromkeys([*DEBIAN_TOOLS, *DEBIAN_APPS, "lemonldap-ng", "mailman3"]))


def write_stack(work: Path, server, tools: dict) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "sovstack.yml"
    path.write_text(yaml.safe_dump({
        "organisation": "Bench", "domain": "bench.test", "admin_email": "admin@bench.test", "tls": "internal",
        "servers": {"main": {"address": server.ssh_host, "ssh_port": server.ssh_port, "ssh_key": server.ssh_key,
                             "public_ip": server.address, "check_host_key": False}},
        "tools": tools}))
    return path
