"""The provisioning pipeline in library form: stack file -> secrets -> bundles -> engine -> health."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sovstack.catalog import Catalog, load_catalog
from sovstack.diagnosis import health_probe
from sovstack.engines import runner
from sovstack.errors import UserError
from sovstack.remote import Target, preflight
from sovstack.render import Bundle, render
from sovstack.secrets import Secrets, ensure_secrets, secrets_path
from sovstack.stackfile import Stack, load_stack


@dataclass
class Loaded:
    path: Path
    stack: Stack
    catalog: Catalog
    secrets: Secrets

    @property
    def build(self) -> Path:
        return self.path.parent / "build"

    def servers(self, only: tuple[str, ...] = ()) -> list[str]:
        for name in only:
            if name not in self.stack.servers:
                raise UserError(f"--server {name!r}: no such server in {self.path}",
                                f"use one of {', '.join(self.stack.servers)}")
        return list(only) or list(self.stack.servers)

    def target(self, name: str) -> Target:
        return Target(name, self.stack.servers[name])


def load(stack_path: Path) -> Loaded:
    catalog = load_catalog()
    stack = load_stack(stack_path, catalog)
    secrets = ensure_secrets(stack, catalog, secrets_path(stack_path))
    return Loaded(stack_path, stack, catalog, secrets)


def render_all(loaded: Loaded) -> list[Bundle]:
    return render(loaded.stack, loaded.catalog, loaded.secrets, loaded.build)


def check_servers(loaded: Loaded, bundles: list[Bundle], servers: list[str]) -> None:
    """Reachable, right key, Debian, ports free: all servers pass before any is changed."""
    problems = []
    for bundle in bundles:
        if bundle.server in servers:
            problems += preflight(loaded.target(bundle.server), bundle.manifest)
    if problems:
        raise UserError("the servers are not ready; nothing was changed:\n" + "\n".join(problems),
                        "fix the problems above and run again")


def apply(loaded: Loaded, engine: str, servers: list[str], echo: Callable[[str], None], check: bool = False,
          verbosity: int = 0) -> runner.EngineRun:
    redact = runner.Redactor(loaded.secrets.values())
    result = runner.run(engine, loaded.build, servers, redact, echo, check=check, verbosity=verbosity)
    if result.returncode != 0:
        raise UserError(f"{engine} stopped with exit code {result.returncode} (its output is above)",
                        "fix what the failed task says and run `sovstack deploy` again: it picks up where it stopped")
    return result


@dataclass
class Health:
    server: str
    tool: str
    fqdn: str
    url: str | None
    ok: bool
    detail: str


def health(loaded: Loaded, bundles: list[Bundle], servers: list[str], wait: float = 0) -> list[Health]:
    """Each web tool's health path on its loopback port, then through Caddy over HTTPS by name."""
    results = []
    deadline = time.monotonic() + wait
    for bundle in bundles:
        if bundle.server not in servers:
            continue
        target = loaded.target(bundle.server)
        for entry in bundle.manifest["health"]:
            probe = health_probe(entry)  # the loopback port (when the tool has one), then Caddy over HTTPS
            while True:
                codes = target.run(probe).stdout.split()
                ok = len(codes) == 2 and all(c[:1] in ("2", "3") for c in codes)
                if ok or time.monotonic() >= deadline:
                    break
                time.sleep(2)
            detail = (f"local {codes[0]}, https {codes[1]}" if len(codes) == 2 else "no answer")
            results.append(Health(bundle.server, entry["tool"], entry["fqdn"], entry["url"], ok, detail))
    return results

