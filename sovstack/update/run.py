"""`sovstack update`: Debian upgrades, then the compose tools whose pinned images changed, each with a
way back.

For each server: `apt-get upgrade` (unattended-upgrades already installs security updates daily);
then, for each compose tool whose rendered images differ from what runs (a techie bumped
`deploy.images` or `deploy.builds` in the catalog, or pulled a newer sovstack): pull what is missing
before anything stops, snapshot the tool (bin/sovstack-update snapshot: previous images tagged
`<name>:sovstack-previous`, containers removed, compose directory and data copied while stopped),
deploy with the engine, and check its health. A tool that fails its health check (or whose deploy
failed) is rolled back (bin/sovstack-update rollback: previous data, compose files and images) and
checked again. The script is sent from the bundle on standard input, so a server deployed before it
existed can be updated too; the deploy also installs it in /srv/sovstack/bin for use by hand.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Callable

from sovstack.engines import apply as provision
from sovstack.engines.apply import Loaded
from sovstack.engines.remote import Target
from sovstack.errors import UserError
from sovstack.layout import BIN, ROOT
from sovstack.render.bundle import Bundle
from sovstack.update.plan import (
    FAILED,
    NEW,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    UP_TO_DATE,
    UPDATED,
    Outcome,
    ToolImages,
    compose_images,
    major_steps,
    others_changed,
    parse_images,
)

SCRIPT = f"{BIN}/sovstack-update"
APT = ("export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get -y -q "
       "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade")
TIMEOUT = 3600


@dataclass
class Debian:
    server: str
    upgraded: int
    reboot: bool

    def line(self) -> str:
        return (f"debian: {self.server}: {self.upgraded} package(s) upgraded"
                + ("; a reboot is required (/run/reboot-required): reboot when convenient" if self.reboot else ""))


@dataclass
class Report:
    debian: list[Debian] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    health: list[provision.Health] = field(default_factory=list)


def check_tools(loaded: Loaded, only: tuple[str, ...]) -> None:
    """--tool names a tool of the stack that runs with Docker Compose (the others come from Debian)."""
    for tool in only:
        if tool not in loaded.stack.tools:
            raise UserError(f"--tool {tool!r}: no such tool in {loaded.path}",
                            f"use one of {', '.join(loaded.stack.tools) or '(none)'}")
        if loaded.catalog.tools[tool].deploy.how != "compose":
            raise UserError(f"--tool {tool!r}: it comes from Debian packages, which `apt-get upgrade` updates "
                            "with the rest of the server", "leave out --tool, or name a tool run with Docker Compose")


def _script(bundle: Bundle) -> str:
    return bundle.files[SCRIPT].decode()


def _call(target: Target, bundle: Bundle, args: str, timeout: int = TIMEOUT):
    return target.run(f"sh -s -- {args}", stdin=_script(bundle), timeout=timeout, as_root=True)


def _tail(result) -> str:
    text = (result.stderr or result.stdout).strip()
    return " / ".join(text.splitlines()[-4:]) or f"exit code {result.returncode}"


def inspect(loaded: Loaded, bundle: Bundle) -> list[ToolImages]:
    """Per compose tool of this server: the images the bundle pins, what runs, what the server holds."""
    plans = []
    target = loaded.target(bundle.server)
    for entry in bundle.manifest["compose"]:
        wanted = compose_images(bundle.files[f"{entry['dir']}/compose.yml"].decode())
        result = _call(target, bundle, f"images {shlex.quote(entry['name'])} "
                       + " ".join(shlex.quote(ref) for ref in wanted), timeout=120)
        if result.returncode != 0:
            raise UserError(f"server {bundle.server!r}: cannot list the images of {entry['name']}: {_tail(result)}",
                            "check that Docker runs there: systemctl status docker")
        running, have = parse_images(result.stdout)
        plan = ToolImages(bundle.server, entry["name"], wanted, running, have)
        steps = loaded.catalog.tools[plan.tool].deploy.major_steps
        plan.steps = major_steps(plan, steps.images) if steps else []  # raises before anything changes
        plans.append(plan)
    return plans


def upgrade_debian(loaded: Loaded, server: str) -> Debian:
    target = loaded.target(server)
    result = target.run(f"{APT}; rc=$?; [ -e /run/reboot-required ] && echo REBOOT-REQUIRED; exit $rc",
                        timeout=TIMEOUT, as_root=True)
    if result.returncode != 0:
        raise UserError(f"server {server!r}: apt-get upgrade failed: {_tail(result)}",
                        "log in and run `apt-get upgrade` by hand to see why (often another apt run holds the lock); "
                        "no tool was touched")
    match = re.search(r"^(\d+) upgraded", result.stdout, re.MULTILINE)
    return Debian(server, int(match.group(1)) if match else 0, "REBOOT-REQUIRED" in result.stdout)


def _pull(loaded: Loaded, bundle: Bundle, plans: list[ToolImages]) -> None:
    """Fetch new pinned images before any tool stops (images sovstack builds are made by the deploy)."""
    built = {b["image"] for b in bundle.manifest["builds"]}
    target = loaded.target(bundle.server)
    for plan in plans:
        for ref in plan.missing() + plan.steps:
            if ref in built:
                continue
            quoted = shlex.quote(ref)
            result = target.run(f"docker image inspect {quoted} >/dev/null 2>&1 || docker pull -q {quoted}",
                                timeout=TIMEOUT, as_root=True)
            if result.returncode != 0:
                raise UserError(f"server {bundle.server!r}: cannot pull {ref} for {plan.tool}: {_tail(result)}; "
                                "no tool was stopped", f"check the pin of {plan.tool} in its catalog file "
                                "(deploy.images) and that the server reaches the registry")


def _health(loaded: Loaded, bundle: Bundle, tool: str, wait: float) -> tuple[bool, str, list[provision.Health]]:
    """The tool's HTTP health checks (loopback, then Caddy); a tool without one: every container runs."""
    entries = [e for e in bundle.manifest["health"] if e["tool"] == tool]
    if entries:
        only = Bundle(bundle.server, bundle.path, {"health": entries})
        checks = provision.health(loaded, [only], [bundle.server], wait=wait)
        bad = [c for c in checks if not c.ok]
        why = "; ".join(f"health check https://{c.fqdn}{e['path']} failed ({c.detail})" for c, e in zip(checks, entries)
                        if not c.ok)
        return not bad, why, checks
    directory = next(c["dir"] for c in bundle.manifest["compose"] if c["name"] == tool)
    result = loaded.target(bundle.server).run(f"{ROOT}/bin/sovstack-compose status {shlex.quote(directory)}",
                                              as_root=True)
    return result.returncode == 0, "" if result.returncode == 0 else "its containers are not all running and healthy", []


def _roll_back(loaded: Loaded, bundle: Bundle, plan: ToolImages, why: str, wait: float) -> Outcome:
    reason = " ".join(why.split()) or "its update failed"  # one line: kept in the hold file
    result = _call(loaded.target(bundle.server), bundle, f"rollback {shlex.quote(plan.tool)} {shlex.quote(reason)}")
    if result.returncode != 0:
        return Outcome(bundle.server, plan.tool, ROLLBACK_FAILED, plan, f"{why}; rollback: {_tail(result)}")
    ok, again, _ = _health(loaded, bundle, plan.tool, wait)
    if not ok:
        return Outcome(bundle.server, plan.tool, ROLLBACK_FAILED, plan, f"{why}; after the rollback: {again}")
    return Outcome(bundle.server, plan.tool, ROLLED_BACK, plan, why)


def _step(loaded: Loaded, bundle: Bundle, saved: list[ToolImages], echo: Callable[[str], None],
          wait: float) -> list[Outcome] | None:
    """Start each earlier major of the tools that upgrade one major at a time, each checked healthy; None
    when all went through, else the outcomes of rolling every snapshotted tool back (nothing deployed)."""
    target = loaded.target(bundle.server)
    for plan in saved:
        for ref in plan.steps:
            echo(f"update: {bundle.server}: {plan.tool}: upgrading its data through {ref} (one major at a time)")
            result = _call(target, bundle, f"step {shlex.quote(plan.tool)} {shlex.quote(ref)}")
            ok, why, _ = _health(loaded, bundle, plan.tool, wait) if result.returncode == 0 else \
                (False, _tail(result), [])
            if ok:
                continue
            failed = f"the step through {ref} failed ({why})"
            return [_roll_back(loaded, bundle, p, failed if p is plan else
                               f"not updated: {plan.tool}'s {failed}, so the server was not deployed", wait)
                    for p in saved]
    return None


def update_server(loaded: Loaded, bundle: Bundle, plans: list[ToolImages], engine: str,
                  echo: Callable[[str], None], wait: float) -> list[Outcome]:
    """Snapshot the changed tools, deploy, check their health, roll back those that fail."""
    server = bundle.server
    target = loaded.target(server)
    changed = [p for p in plans if p.changed()]
    outcomes = [Outcome(server, p.tool, UP_TO_DATE, p) for p in plans if not p.changed() and not p.is_new]
    _pull(loaded, bundle, changed)
    saved: list[ToolImages] = []
    for plan in changed:
        result = _call(target, bundle, f"snapshot {shlex.quote(plan.tool)}")
        if result.returncode != 0:
            back = [_roll_back(loaded, bundle, done, "", wait) for done in saved]  # started again as they were
            stuck = [o.tool for o in back if o.status != ROLLED_BACK]
            raise UserError(f"server {server!r}: cannot snapshot {plan.tool} before its update: {_tail(result)}; "
                            "nothing was updated" + (f", but {', '.join(stuck)} did not start again" if stuck else ""),
                            "free disk space under /srv/sovstack, then run again")
        saved.append(plan)
    stopped = _step(loaded, bundle, saved, echo, wait)
    if stopped is not None:  # a major step failed: no deploy, every snapshotted tool goes back as it was
        return outcomes + stopped + [Outcome(server, p.tool, FAILED, p, "not deployed: a major step of another "
                                             "tool failed, so the server was not deployed")
                                     for p in plans if p.is_new]
    try:
        provision.apply(loaded, engine, [server], echo)
        deploy_error = ""
    except UserError as exc:
        deploy_error = f"the deploy failed ({exc.message})"
    for plan in saved:
        ok, why, _ = _health(loaded, bundle, plan.tool, wait)
        if ok and deploy_error:  # the tool itself answers, but the deploy around it did not finish
            ok, why = False, deploy_error
        outcomes.append(Outcome(server, plan.tool, UPDATED, plan) if ok
                        else _roll_back(loaded, bundle, plan, why, wait))
    for plan in (p for p in plans if p.is_new):
        ok, why, _ = (False, deploy_error, []) if deploy_error else _health(loaded, bundle, plan.tool, wait)
        outcomes.append(Outcome(server, plan.tool, NEW, plan) if ok else Outcome(server, plan.tool, FAILED, plan, why))
    return outcomes


def update(loaded: Loaded, engine: str, servers: list[str], only: tuple[str, ...], echo: Callable[[str], None],
           wait: float = 180, debian: bool = True) -> Report:
    """Everything is inspected (read-only) before any server changes; then one server after the other."""
    check_tools(loaded, only)
    if only:
        chosen = servers
        servers = [s for s in servers if any(loaded.stack.tools[t].server == s for t in only)]
        if not servers:
            where = ", ".join(f"{t} runs on {loaded.stack.tools[t].server!r}" for t in only)
            raise UserError(f"--tool {', '.join(only)} with --server {', '.join(chosen)}: {where}",
                            "name the tool's own server, or leave out --server")
    bundles = [b for b in provision.render_all(loaded) if b.server in servers]
    provision.check_servers(loaded, bundles, servers, held_ok=True)  # an update may try a held version again
    plans = {b.server: inspect(loaded, b) for b in bundles}
    others = others_changed([p for found in plans.values() for p in found], only)
    if others:
        raise UserError(f"--tool {', '.join(only)}: the deploy would also update {', '.join(others)} (the engine "
                        "applies a whole server); nothing was changed", "leave out --tool to update them together")
    report = Report()
    for bundle in bundles:
        if debian:
            report.debian.append(upgrade_debian(loaded, bundle.server))
            echo(report.debian[-1].line())
        mine = [p for p in plans[bundle.server] if not only or p.tool in only]
        if any(p.changed() or p.is_new for p in mine):
            found = update_server(loaded, bundle, mine, engine, echo, wait)
        else:
            found = [Outcome(bundle.server, p.tool, UP_TO_DATE, p) for p in mine]
        for outcome in found:  # said at once: a later server's failure must not hide this one's report
            echo(outcome.line())
        report.outcomes += found
        # Every web tool of the server, Debian's included: the upgrade may have restarted them.
        report.health += provision.health(loaded, [bundle], [bundle.server], wait=wait)
    return report
