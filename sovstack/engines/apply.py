"""The provisioning pipeline in library form: stack file -> secrets -> bundles -> engine -> health."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sovstack.catalog import Catalog, load_catalog
from sovstack.engines import runner
from sovstack.engines.remote import Target, preflight
from sovstack.errors import UserError
from sovstack.layout import BIN, ROOT
from sovstack.render.bundle import Bundle, render
from sovstack.render.diagnose import health_probe
from sovstack.stack.secrets import Secrets, ensure_secrets, secrets_path
from sovstack.stack.stackfile import Stack, load_stack
from sovstack.update.plan import ToolImages, compose_images, held_back, major_steps, parse_images
from sovstack.wiring.model import Wiring
from sovstack.wiring.wire import wire

HELD = "@sovstack-held "


@dataclass
class Loaded:
    path: Path
    stack: Stack
    catalog: Catalog
    secrets: Secrets
    _wiring: Wiring | None = field(default=None, repr=False)

    @property
    def wiring(self) -> Wiring:
        """The stack's wiring, computed once per stack (`sovstack remove` swaps in a smaller stack)."""
        if self._wiring is None or self._wiring.stack is not self.stack:
            self._wiring = wire(self.stack, self.catalog)
        return self._wiring

    @property
    def build(self) -> Path:
        return self.path.parent / "build"

    def servers(self, only: tuple[str, ...] = ()) -> list[str]:
        if not self.stack.servers:
            raise no_server(self.path)
        for name in only:
            if name not in self.stack.servers:
                raise UserError(f"--server {name!r}: no such server in {self.path}",
                                f"use one of {', '.join(self.stack.servers)}")
        return list(only) or list(self.stack.servers)

    def target(self, name: str) -> Target:
        return Target(name, self.stack.servers[name])


def no_server(path: Path) -> UserError:
    """init writes no server when every need is hosted: a command that acts on servers has nothing to do."""
    return UserError(f"{path}: key 'servers' is empty: nothing to deploy, back up or update",
                     "every need is hosted, so the hosters keep it running; to self-host a tool, add a server "
                     "under 'servers' and the tool under 'tools'")


def load(stack_path: Path, generate_secrets: bool = False, relay_password_later: bool = False) -> Loaded:
    """The stack file, the catalog and secrets.yml. Loading never writes: only the commands that render
    (init, render, plan, deploy, remove, update) pass generate_secrets=True, which adds the secrets the
    stack needs and lacks to secrets.yml first. The others fail on a missing secret, saying to render."""
    catalog = load_catalog()
    stack = load_stack(stack_path, catalog)
    wiring = wire(stack, catalog)
    secrets = ensure_secrets(stack, secrets_path(stack_path), wiring.wanted_secrets(), write=generate_secrets,
                             relay_password_later=relay_password_later)
    return Loaded(stack_path, stack, catalog, secrets, wiring)


def render_all(loaded: Loaded) -> list[Bundle]:
    if not loaded.stack.servers:
        raise no_server(loaded.path)
    return render(loaded.wiring, loaded.secrets, loaded.build)


def check_servers(loaded: Loaded, bundles: list[Bundle], servers: list[str], held_ok: bool = False) -> None:
    """Reachable, right key, Debian, ports free, no rolled-back version started again (except by
    `sovstack update`, held_ok): all servers pass before any is changed."""
    problems = []
    for bundle in bundles:
        if bundle.server in servers:
            found = preflight(loaded.target(bundle.server), bundle.manifest)
            if not held_ok and not found:  # reached and root: its hold files and containers can be read
                target = loaded.target(bundle.server)
                found = [f"server {bundle.server!r}: {p}"
                         for p in held_images(target, bundle) + skipped_majors(target, bundle, loaded.catalog)]
            problems += found
    if problems:
        raise UserError("the servers are not ready; nothing was changed:\n" + "\n".join(problems),
                        "fix the problems above and run again")


def held_images(target: Target, bundle: Bundle) -> list[str]:
    """Compose tools whose rendered images `sovstack update` rolled back on this server (its hold files)."""
    tools = bundle.manifest["compose"]
    if not tools:
        return []
    script = "".join(f"f={ROOT}/update/{shlex.quote(e['name'])}/held; [ -f $f ] && echo {HELD}{shlex.quote(e['name'])} "
                     f"&& cat $f; " for e in tools)
    result = target.run(script + "true", as_root=True)
    found = {}
    for chunk in result.stdout.split(HELD)[1:]:
        name, _, text = chunk.partition("\n")
        found[name.strip()] = text
    problems = []
    for entry in tools:
        if entry["name"] in found:
            refusal = held_back(found[entry["name"]], entry["name"], bundle.files[f"{entry['dir']}/compose.yml"].decode())
            if refusal:
                problems.append(refusal)
    return problems


def skipped_majors(target: Target, bundle: Bundle, catalog: Catalog) -> list[str]:
    """Tools that upgrade one major at a time whose pinned image is more than one major ahead of what
    runs: a deploy would start it on data it refuses; `sovstack update` goes through each major."""
    tools = [e for e in bundle.manifest["compose"] if catalog.tools[e["name"]].deploy.major_steps]
    script = bundle.files[f"{BIN}/sovstack-update"].decode() if tools else ""
    problems = []
    for entry in tools:
        # What runs, as `sovstack update` reads it: the server script's `images`, parsed by parse_images.
        listed = target.run(f"sh -s -- images {shlex.quote(entry['name'])}", stdin=script, as_root=True)
        running, _ = parse_images(listed.stdout)
        wanted = compose_images(bundle.files[f"{entry['dir']}/compose.yml"].decode())
        plan = ToolImages(bundle.server, entry["name"], wanted, running)
        try:
            steps = major_steps(plan, catalog.tools[entry["name"]].deploy.major_steps.images)
        except UserError as err:
            problems.append(err.message)
            continue
        if steps:
            problems.append(f"{entry['name']} runs {', '.join(plan.previous)}, and its data upgrades one major at a "
                            f"time: this deploy would skip {', '.join(steps)}. Fix: run `sovstack update --tool "
                            f"{entry['name']}`, which goes through them with a snapshot to roll back to")
    return problems


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
    """Each web tool's health path on its loopback port, then through Caddy over HTTPS by name.

    One SSH call per server and round asks every check still failing; rounds repeat until all pass
    or `wait` seconds have gone by."""
    results = []
    deadline = time.monotonic() + wait
    for bundle in bundles:
        if bundle.server not in servers:
            continue
        target = loaded.target(bundle.server)
        entries = bundle.manifest["health"]
        codes: dict[int, list[str]] = {}
        pending = list(range(len(entries)))
        while pending:
            # health_probe prints two codes; each line is prefixed with the entry's index.
            script = "".join(f"echo {i} $({health_probe(entries[i])}); " for i in pending)
            for line in target.run(script, timeout=30 + 20 * len(pending)).stdout.splitlines():
                index, *found = line.split() or ["-"]
                if index.isdigit():
                    codes[int(index)] = found
            pending = [i for i in pending if not _healthy(codes.get(i, []))]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(2)
        for i, entry in enumerate(entries):
            found = codes.get(i, [])
            detail = f"local {found[0]}, https {found[1]}" if len(found) == 2 else "no answer"
            results.append(Health(bundle.server, entry["tool"], entry["fqdn"], entry["url"], _healthy(found), detail))
    return results


def logs_command(catalog: Catalog, tool_id: str) -> str:
    """Where to read why a tool does not answer: its containers, its Debian services, or Caddy (the portal
    and what Caddy serves itself)."""
    tool = catalog.tools.get(tool_id)
    deploy = tool.deploy if tool else None
    if deploy and deploy.how == "compose":
        return f"docker compose -f {ROOT}/apps/{tool_id}/compose.yml logs --tail 50"
    units = [u for u in (deploy.services if deploy else []) if not u.endswith(".timer")]
    return f"journalctl -n 50 {' '.join(f'-u {shlex.quote(u)}' for u in [*units, 'caddy'])}"


def _healthy(codes: list[str]) -> bool:
    return len(codes) == 2 and all(c[:1] in ("2", "3") for c in codes)
