"""Fresh and no-op converge time per engine, on sandbox servers (Debian 13 in Docker, over SSH).

The stack is the Debian-first tools (Postfix + Dovecot + Rspamd, OpenLDAP, Roundcube, GoAccess, Prosody
with converse.js from npm, the members' portal) on the base layer (Docker, Caddy, firewall, fail2ban,
unattended upgrades): the sample stack the suite converges with each engine (tests/servers.py DEBIAN_TOOLS).
Each engine gets its own fresh sandbox; the no-op time is the median of several runs of `sovstack deploy` (render, checks, engine,
health), so it is what a techie waits for.

Run: .venv/bin/python bench/bench_converge.py [--noop-runs N] [--check]
Needs the Docker engine and debootstrap (scripts/start-docker.sh, scripts/setup.sh --tests).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rows  # noqa: E402  (bench/rows.py, next to this file)
from stacks import write_stack  # noqa: E402

from sovstack.engines import sandbox  # noqa: E402
from tests.servers import DEBIAN_TOOLS, trust_test_host_ca  # noqa: E402

TARGETS = {"ansible": 15.0, "pyinfra": 5.0}  # no-op re-converge, seconds
TOOLS = dict(DEBIAN_TOOLS)


def deploy(work: Path, engine: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sovstack", "deploy", "--engine", engine, "--wait", "60"], cwd=work,
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench(engine: str, noop_runs: int, state: Path) -> dict:
    name = f"bench-{engine}"
    server = sandbox.up(name, state_dir=state)
    try:
        trust_test_host_ca(server)  # converse.js comes from npm through this machine's inspecting proxy
        work = state / f"stack-{engine}"
        write_stack(work, server, TOOLS)
        fresh = deploy(work, engine)
        noop = [deploy(work, engine) for _ in range(noop_runs)]
        return {"engine": engine, "fresh_s": fresh, "noop_s": statistics.median(noop)}
    finally:
        sandbox.down(name, state_dir=state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a no-op time misses its target")
    parser.add_argument("--rows", help="also append the results to this JSON-lines file (bench/rows.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sovstack-bench-") as tmp:
        results = [bench(engine, args.noop_runs, Path(tmp)) for engine in ("ansible", "pyinfra")]
    by = {r["engine"]: r for r in results}
    print("| engine | fresh converge | no-op re-converge | target (no-op) |")
    print("|---|---|---|---|")
    missed = False
    for r in results:
        ok = r["noop_s"] <= TARGETS[r["engine"]]
        missed |= not ok
        print(f"| {r['engine']} | {r['fresh_s']:.1f} s | {r['noop_s']:.1f} s | {TARGETS[r['engine']]:.0f} s "
              f"{'ok' if ok else 'MISSED'} |")
        rows.add(args.rows, "converge", f"{r['engine']}: fresh", f"{r['fresh_s']:.1f} s")
        rows.add(args.rows, "converge", f"{r['engine']}: no-op (median of {args.noop_runs})", f"{r['noop_s']:.1f} s",
                 f"<= {TARGETS[r['engine']]:.0f} s", ok)
    print(f"| pyinfra/ansible | {by['pyinfra']['fresh_s'] / by['ansible']['fresh_s']:.2f} | "
          f"{by['pyinfra']['noop_s'] / by['ansible']['noop_s']:.2f} | |")
    rows.add(args.rows, "converge", "pyinfra/ansible: fresh, no-op",
             f"{by['pyinfra']['fresh_s'] / by['ansible']['fresh_s']:.2f}, {by['pyinfra']['noop_s'] / by['ansible']['noop_s']:.2f}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
