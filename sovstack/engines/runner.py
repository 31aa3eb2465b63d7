"""Run an engine (Ansible or pyinfra) on rendered bundles, streaming its output with secrets removed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sovstack.errors import UserError
from sovstack.paths import playbook

ENGINES = ("ansible", "pyinfra")
PLAYBOOK = playbook()
PYINFRA_DEPLOY = Path(__file__).with_name("pyinfra_deploy.py")


@dataclass
class EngineRun:
    engine: str
    returncode: int
    changed: dict[str, int] = field(default_factory=dict)  # server -> number of changes
    output: list[str] = field(default_factory=list)


class Redactor:
    """Replaces every known secret value in a line with ***."""

    def __init__(self, secrets: list[str]):
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for value in self.secrets:
            if value in line:
                line = line.replace(value, "***")
        return line


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def command(engine: str, build: Path, servers: list[str], check: bool = False, verbosity: int = 0) -> list[str]:
    if engine == "ansible":
        cmd = [_bin("ansible-playbook"), "-i", str(build / "hosts.yml"), str(PLAYBOOK), "--limit", ",".join(servers)]
        if check:
            cmd.append("--check")
    elif engine == "pyinfra":
        # --dry lists the detected changes and stops; -y runs without asking.
        # pyinfra takes one --limit per host (a comma-separated list matches nothing).
        limits = [arg for name in servers for arg in ("--limit", name)]
        cmd = [_bin("pyinfra"), "--dry" if check else "-y", *limits, str(build / "inventory.py"), str(PYINFRA_DEPLOY)]
    else:
        raise UserError(f"--engine {engine!r} is not known", f"use one of {', '.join(ENGINES)}")
    if verbosity:
        cmd.insert(1, "-" + "v" * verbosity)
    return cmd


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_DEPRECATION_WARNINGS": "False", "ANSIBLE_LOCALHOST_WARNING": "False",
                "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
                "PYTHONUNBUFFERED": "1", "TERM": "dumb"})
    return env


def run(engine: str, build: Path, servers: list[str], redact: Redactor, echo: Callable[[str], None],
        check: bool = False, verbosity: int = 0) -> EngineRun:
    build = build.resolve()
    cmd = command(engine, build, servers, check, verbosity)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=environment(), stdin=subprocess.DEVNULL, cwd=build)
    except FileNotFoundError:
        raise UserError(f"{cmd[0]} is not installed", "run scripts/setup.sh (it installs ansible-core and pyinfra)") from None
    result = EngineRun(engine=engine, returncode=0)
    for raw in proc.stdout:
        line = redact(raw.rstrip("\n"))
        result.output.append(line)
        echo(line)
    result.returncode = proc.wait()
    result.changed = count_changes(engine, result.output)
    unmatched = [line for line in result.output if "No host matches found" in line or "no hosts matched" in line]
    if unmatched:  # the engine ran on nothing: never report that as "0 changes"
        raise UserError(f"{engine} found no server to work on ({unmatched[0].strip()})",
                        f"check {build / 'hosts.yml'} and {build / 'inventory.py'}: run `sovstack render` again")
    if result.returncode == 0:
        for server in servers:  # a host the summary does not mention had nothing to change
            result.changed.setdefault(server, 0)
    return result


def count_changes(engine: str, output: list[str]) -> dict[str, int]:
    """Changes per server, read from the engine's own summary."""
    changed: dict[str, int] = {}
    if engine == "ansible":
        for line in output:
            match = re.match(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", line)
            if match:
                changed[match.group(1)] = int(match.group(2))
    elif any(line.startswith("--> Detected changes") for line in output):
        # pyinfra --dry: a table of operations with "N (host, host)" in its Change column (the next
        # column, "Conditional Change", depends on earlier operations: counted by them, not here).
        for line in output[next(i for i, x in enumerate(output) if x.startswith("--> Detected changes")):]:
            columns = re.split(r"\s{2,}", line.strip())
            match = re.fullmatch(r"(\d+) \(([^)]*)\)", columns[1]) if len(columns) > 1 else None
            if match:
                for host in match.group(2).split(", "):
                    changed[host] = changed.get(host, 0) + 1
    else:
        # pyinfra prints "[host] Success" for an operation that changed something, "[host] No changes" else.
        for line in output:
            match = re.match(r"^\s*\[([^]]+)\]\s+(Success|No changes)\s*$", line)  # names are padded to align
            if match:
                changed.setdefault(match.group(1), 0)
                changed[match.group(1)] += match.group(2) == "Success"
    return changed
