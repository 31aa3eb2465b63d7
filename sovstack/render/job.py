"""One server's render in progress: what it reads (the wiring, the secrets, the shared template
context) and what the manifest will list, gathered as the tools and the base layer add theirs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sovstack.render.files import Files
from sovstack.stack.secrets import Secrets
from sovstack.wiring.model import Wiring


@dataclass
class Job:
    wiring: Wiring
    secrets: Secrets
    server: str
    files: Files
    base_ctx: dict[str, Any]  # stack, tools, server, root: what every template sees
    shared: dict[str, Any]  # the same for every tool of the server (identity_clients, mail_senders)
    packages: list[str]
    directories: list[dict[str, Any]]
    ports: list[dict[str, Any]]
    public_ports: list[int]
    services: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    compose: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    health: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    cert_copies: list[dict[str, Any]] = field(default_factory=list)  # Caddy's certificate copied for a tool's own TLS

    def add_packages(self, names: list[str]) -> None:
        for name in names:
            if name not in self.packages:
                self.packages.append(name)

    def service(self, name: str, tool: str | None = None) -> None:
        self.services.append({"name": name, "tool": tool, "phase": "after-steps"})
