"""RAM actually used by each deployed tool on a sandbox server, against the catalog's estimate.

The stack is the tools that really run here (Debian packages: Postfix + Dovecot + Rspamd + Redis,
OpenLDAP, Roundcube on PHP-FPM, GoAccess, Prosody, Radicale, Matomo on MariaDB, DokuWiki, LemonLDAP::NG,
Mailman 3; and Matrix Synapse with its PostgreSQL, in the images sovstack builds from debian:trixie-slim),
converged with pyinfra on a fresh sandbox, one member added, a
minute left to settle. A host tool's RAM is the sum of its systemd units' cgroup memory (MemoryCurrent:
resident memory and page cache charged to the service); a built tool's is the sum of its containers'
memory as `docker stats` reports it (usage without the inactive page cache), read once after settling.
A unit several tools run in (PHP-FPM: Roundcube, Matomo and DokuWiki are pools of one service) is counted
whole for each of them and named as shared: systemd cannot split one service's memory by pool.
Upstream images cannot be pulled here, so other compose tools are not measured (stand-ins would say
nothing about the real ones).

Run: .venv/bin/python bench/bench_ram.py [--rows FILE] [--settle 60]
Needs the Docker engine and debootstrap (scripts/start-docker.sh, scripts/setup.sh --tests).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rows  # noqa: E402  (bench/rows.py, next to this file)
from stacks import DEBIAN_FIRST, write_stack  # noqa: E402

from sovstack.catalog import load_catalog  # noqa: E402
from sovstack.engines import sandbox  # noqa: E402
from tests.servers import trust_test_host_ca  # noqa: E402

TOOLS = DEBIAN_FIRST
BUILT_TOOLS = ["matrix-synapse"]  # compose tools whose images the server builds, so they run for real
# Units a tool's packages start besides the ones it restarts on change (deploy.services):
# measured with it because they run only for it.
ALSO_RUNS = {"postfix-dovecot": ["redis-server"]}


def units(catalog, tool: str) -> list[str]:
    listed = [u for u in catalog.tools[tool].deploy.services if not u.endswith(".timer")]
    return [u if u.endswith((".service", ".socket")) else f"{u}.service" for u in listed + ALSO_RUNS.get(tool, [])]


def measure(server, names: list[str]) -> dict[str, int]:
    command = " ".join(["systemctl", "show", "-p", "Id,MemoryCurrent", *names])
    out = subprocess.run([*server.ssh_command(), command], capture_output=True, text=True, check=True).stdout
    found = {}
    # One block per unit, blank-line separated; systemctl prints properties in its own order, not ours.
    for block in out.strip().split("\n\n"):
        props = dict(line.partition("=")[::2] for line in block.splitlines())
        value = props.get("MemoryCurrent", "")
        found[props["Id"]] = int(value) if value.isdigit() else None  # "[not set]": no accounting
    return found


def measure_containers(server, tool: str) -> tuple[list[str], int]:
    """The compose project's containers and the bytes they use (docker stats: usage without inactive cache)."""
    command = f"docker stats --no-stream --format '{{{{.Name}}}} {{{{.MemUsage}}}}' $(docker ps -q --filter label=com.docker.compose.project={tool})"
    out = subprocess.run([*server.ssh_command(), command], capture_output=True, text=True, check=True).stdout
    units = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    names, total = [], 0
    for line in out.strip().splitlines():
        name, usage = line.split(" ", 1)
        amount = usage.split("/")[0].strip()
        number = amount.rstrip("KMGiB")
        names.append(name)
        total += int(float(number) * units[amount[len(number):]])
    return sorted(names), total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", help="also append the results to this JSON-lines file (bench/rows.py)")
    parser.add_argument("--settle", type=int, default=60, help="seconds to wait after the deploy")
    args = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory(prefix="sovstack-bench-ram-") as tmp:
        state = Path(tmp)
        server = sandbox.up("bench-ram", state_dir=state)
        try:
            trust_test_host_ca(server)  # converse.js comes from npm through this machine's inspecting proxy
            work = state / "stack"
            sovstack = [sys.executable, "-m", "sovstack"]

            def deploy(tools: list[str]) -> None:
                """The stack of `tools`, all on the one server, converged with pyinfra."""
                write_stack(work, server, {t: {"server": "main"} for t in tools})
                subprocess.run([*sovstack, "deploy", "--engine", "pyinfra", "--wait", "60"], cwd=work, check=True,
                               capture_output=True, stdin=subprocess.DEVNULL)

            # The host tools first: the base deploy installs Docker, which then receives the base image the
            # builds start from (the sandbox cannot pull it).
            deploy(TOOLS)
            sandbox.load_images(server, ["debian:trixie-slim"])
            deploy(TOOLS + BUILT_TOOLS)
            subprocess.run([*sovstack, "members", "add", "alice", "--name", "Alice", "--password-stdin"], cwd=work,
                           check=True, capture_output=True, input="bench-password-123\n", text=True)
            time.sleep(args.settle)
            wanted = {tool: units(catalog, tool) for tool in TOOLS}
            shared = {unit: [tool for tool in TOOLS if unit in wanted[tool]] for names in wanted.values()
                      for unit in names}
            used = measure(server, sorted(shared))
            built = {tool: measure_containers(server, tool) for tool in BUILT_TOOLS}
        finally:
            sandbox.down("bench-ram", state_dir=state)
    print("| tool | units | measured | catalog min / recommended | within recommended |")
    print("|---|---|---|---|---|")
    for tool in TOOLS:
        ram = catalog.tools[tool].resources.ram_mb
        values = [used.get(u) for u in wanted[tool]]
        if not wanted[tool] or None in values:  # runs only from a timer, or no cgroup figure: say so
            measured, ok = ("runs only from its timer" if not wanted[tool] else "not measured"), None
        else:
            mb = sum(values) / 2**20
            measured, ok = f"{mb:.0f} MB", mb <= ram.recommended
        named = ", ".join(u if len(shared[u]) == 1 else f"{u} (shared with {', '.join(t for t in shared[u] if t != tool)})"
                          for u in wanted[tool])
        print(f"| {tool} | {named} | {measured} | {ram.min:.0f} / {ram.recommended:.0f} MB | "
              f"{'' if ok is None else 'yes' if ok else 'NO'} |")
        rows.add(args.rows, "ram", f"{tool} ({', '.join(wanted[tool]) or 'timer'})", measured,
                 f"<= {ram.recommended:.0f} MB (catalog)", ok)
    for tool, (containers, used_bytes) in built.items():
        ram = catalog.tools[tool].resources.ram_mb
        mb = used_bytes / 2**20
        ok = bool(containers) and mb <= ram.recommended
        measured = f"{mb:.0f} MB" if containers else "not running"
        print(f"| {tool} | {', '.join(containers)} | {measured} | {ram.min:.0f} / {ram.recommended:.0f} MB | "
              f"{'yes' if ok else 'NO'} |")
        rows.add(args.rows, "ram", f"{tool} ({', '.join(containers)})", measured,
                 f"<= {ram.recommended:.0f} MB (catalog)", ok)
    return 0


if __name__ == "__main__":
    sys.exit(main())
