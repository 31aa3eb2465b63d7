"""Whole-process start-up time of the CLI: `sovstack --help` and `sovstack ask --answers … --json`.

Run: .venv/bin/python bench/bench_cli.py [--runs N] [--check]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3


def sovstack_executable() -> str:
    candidate = Path(sys.executable).parent / "sovstack"
    return str(candidate) if candidate.exists() else shutil.which("sovstack") or "sovstack"


def measure(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)  # warm the disk cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


import rows  # noqa: E402  (bench/rows.py, next to this file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--check", action="store_true", help="exit 1 when a median misses the target")
    parser.add_argument("--rows", help="also append the results to this JSON-lines file (bench/rows.py)")
    args = parser.parse_args()
    exe = sovstack_executable()
    answers = ROOT / "examples" / "answers" / "neighbourhood-association.yml"
    with tempfile.TemporaryDirectory() as out:
        cases = {
            "sovstack --help": [exe, "--help"],
            "sovstack ask --answers … --json": [exe, "ask", "--answers", str(answers), "--out", out, "--json"],
        }
        print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8} {'target':>8}  ok")
        missed = False
        for name, argv in cases.items():
            times = measure(argv, args.runs)
            median = statistics.median(times)
            ok = median < TARGET_S
            missed |= not ok
            print(f"{name:<36} {median:8.3f} {min(times):8.3f} {max(times):8.3f} {TARGET_S:8.3f}  {'yes' if ok else 'NO'}")
            rows.add(args.rows, "cli", f"`{name}` (median of {args.runs})", f"{median:.3f} s", f"< {TARGET_S} s", ok)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
