"""The stack file every sandbox benchmark deploys: one sandbox server, the given tools."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_stack(work: Path, server, tools: dict) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "sovstack.yml"
    path.write_text(yaml.safe_dump({
        "organisation": "Bench", "domain": "bench.test", "admin_email": "admin@bench.test", "tls": "internal",
        "servers": {"main": {"address": server.ssh_host, "ssh_port": server.ssh_port, "ssh_key": server.ssh_key,
                             "public_ip": server.address, "check_host_key": False}},
        "tools": tools}))
    return path
