"""Backup and restore time for a stack holding 1 GB of data, on a sandbox server (Debian 13 in Docker).

The stack is GoAccess alone (the quickest tool to deploy); 1 GB of incompressible files (random,
the worst case for restic's compression and deduplication) goes into its data directory, then:
the first `sovstack backup` (everything is new), a second one (nothing changed), and
`sovstack restore --tool goaccess` (files moved aside, restored, timer restarted, health checked).
Each time is the whole command as a techie runs it (render of nothing, SSH, restic, health).

Run: .venv/bin/python bench/bench_backup.py [--mb 1024] [--work DIR]
--work reuses the work directory of a stack already deployed (its sovstack.yml), on server main.
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
from stacks import write_stack  # noqa: E402

from sovstack.engines import sandbox  # noqa: E402

TOOLS = {"goaccess": {"server": "main"}}
DIR = "/srv/sovstack/data/goaccess/bench"


def sovstack(work: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sovstack", *args], cwd=work, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def ssh(work: Path, command: str) -> str:
    sys.path.insert(0, str(ROOT))
    from sovstack.engines.apply import load

    result = load(work / "sovstack.yml").target("main").run(command, timeout=3600, as_root=True)
    if result.returncode != 0:
        raise SystemExit(f"{command!r}: {result.stderr}")
    return result.stdout


def measure(work: Path, megabytes: int) -> dict:
    ssh(work, f"rm -rf {DIR} && mkdir -p {DIR} && for i in $(seq 1 {megabytes // 16}); do "
              f"head -c 16777216 /dev/urandom > {DIR}/blob-$i; done")
    checksum = ssh(work, f"cd {DIR} && sha256sum * | sha256sum")
    first = sovstack(work, "backup")
    again = sovstack(work, "backup")
    ssh(work, f"rm -rf {DIR}")
    restore = sovstack(work, "restore", "--tool", "goaccess", "--wait", "60")
    if ssh(work, f"cd {DIR} && sha256sum * | sha256sum") != checksum:
        raise SystemExit("the restored data differs from the data backed up")
    size = ssh(work, "du -sm /srv/sovstack/backups | cut -f1").strip()
    ssh(work, f"rm -rf {DIR} /srv/sovstack/pre-restore")
    return {"first_s": first, "again_s": again, "restore_s": restore, "repo_mb": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=1024, help="data to back up, in MB (multiple of 16)")
    parser.add_argument("--work", type=Path, help="a deployed stack's work directory (default: a fresh sandbox)")
    parser.add_argument("--rows", help="also append the results to this JSON-lines file (bench/rows.py)")
    args = parser.parse_args()
    if args.work:
        result = measure(args.work, args.mb)
    else:
        with tempfile.TemporaryDirectory(prefix="sovstack-bench-") as tmp:
            state = Path(tmp)
            server = sandbox.up("bench-backup", state_dir=state)
            try:
                work = state / "stack"
                write_stack(work, server, TOOLS)
                sovstack(work, "deploy", "--wait", "60")
                result = measure(work, args.mb)
            finally:
                sandbox.down("bench-backup", state_dir=state)
    print("| data | first backup | backup, nothing changed | restore (--tool, with health) | repository |")
    print("|---|---|---|---|---|")
    print(f"| {args.mb} MB | {result['first_s']:.1f} s | {result['again_s']:.1f} s | {result['restore_s']:.1f} s | "
          f"{result['repo_mb']} MB |")
    rows.add(args.rows, "backup", f"first backup of {args.mb} MB", f"{result['first_s']:.1f} s")
    rows.add(args.rows, "backup", "backup, nothing changed", f"{result['again_s']:.1f} s")
    rows.add(args.rows, "backup", f"restore of {args.mb} MB (one tool, with health)", f"{result['restore_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
