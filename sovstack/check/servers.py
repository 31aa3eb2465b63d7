"""The server checks of `sovstack check`: one SSH call per server runs bin/sovstack-diagnose.

The script (templates/server/root/srv/sovstack/bin/sovstack-diagnose) holds the checks and their
thresholds, so the daily timer on the server and `sovstack check` here find the same things. What
it checks against (services, ports, health probes, sites) comes from the manifest, rendered into
diagnose.json by render/diagnose.py.
"""

from __future__ import annotations

import json
from dataclasses import replace

from sovstack.check.findings import CheckInput, Finding
from sovstack.engines.remote import Target
from sovstack.errors import SovstackError
from sovstack.layout import DIAGNOSE_SCRIPT as SCRIPT


def servers_to_examine(given: CheckInput) -> list[str]:
    """The servers named with --server, else every server this stack was rendered for (build/<server>/):
    a stack never deployed has no server to look at yet."""
    if given.servers:
        return list(given.servers)
    build = given.stack_file.parent / "build"
    return [name for name in given.stack.servers if (build / name / "manifest.yml").is_file()]


def unreachable(server: str, what: str, fix: str) -> Finding:
    """The one finding for a server that could not be examined (its check is the first one asked for)."""
    return Finding("", f"server {server}", False, "error", what, "nothing on this server was checked", fix)


def parse_output(server: str, returncode: int, stdout: str, stderr: str) -> list[Finding]:
    """The script's JSON findings, each subject prefixed by the server; a script that could not run
    is one unreachable() finding that says so."""
    try:
        rows = json.loads(stdout) if returncode in (0, 1) else None
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        said = (stderr.strip() or stdout.strip() or f"exit code {returncode}").splitlines()[-1][:300]
        return [unreachable(server, f"the diagnosis could not run on {server}: {said}",
                            f"deploy again (`sovstack deploy`): it installs {SCRIPT} and "
                            "its configuration")]
    return [Finding(row["check"], f"{server}: {row['subject']}", bool(row["ok"]), row["severity"], row["what"],
                    row.get("why", ""), row.get("fix", "")) for row in rows]


def examine(target: Target) -> list[Finding]:
    """Every server check on one server, in one SSH call."""
    try:
        result = target.run(f"python3 {SCRIPT} --json", timeout=600, as_root=True)
    except SovstackError as exc:
        return [unreachable(target.name, exc.message, exc.hint or "")]
    return parse_output(target.name, result.returncode, result.stdout, result.stderr)


def server_findings(given: CheckInput, check: str) -> list[Finding]:
    """The findings of one server check. The servers are examined once per CheckInput, for all checks;
    a server that could not be examined is said once, under the first check asked for."""
    if "servers" not in given.cache:
        found: list[Finding] = []
        for name in servers_to_examine(given):
            found += examine(Target(name, given.stack.servers[name]))
        given.cache["servers"] = found
    mine = [f for f in given.cache["servers"] if f.check == check]
    if not given.cache.get("unreachable_said"):
        given.cache["unreachable_said"] = True
        mine = [replace(f, check=check) for f in given.cache["servers"] if not f.check] + mine
    return mine
