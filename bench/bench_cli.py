"""Whole-process start-up time of the CLI: `sovstack --help` and `sovstack ask --answers … --json`,
and the ratio of `ask` to a bare `python -c "import click, yaml, jinja2"` measured in the same run.

The commands run in turns (one run of each, N times), so load from other work on the machine
falls on all of them alike. `ask` is measured with a warm cache: a first, unmeasured run fills a
fresh cache directory (the validated catalog and compiled templates), as any second run would
find it. Bytecode is written as for an installed wheel, even when PYTHONDONTWRITEBYTECODE is set.

Run: .venv/bin/python bench/bench_cli.py [--runs N] [--check]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.3
TARGET_RATIO = 2.0
BARE = "python -c 'import click, yaml, jinja2'"
ASK = "sovstack ask --answers … --json"


def sovstack_executable() -> str:
    candidate = Path(sys.executable).parent / "sovstack"
    return str(candidate) if candidate.exists() else shutil.which("sovstack") or "sovstack"


def measure(cases: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    def once(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL, env=env)
        return time.perf_counter() - start

    for argv in cases.values():
        once(argv)  # warm the disk cache, write bytecode, fill sovstack's cache
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            times[name].append(once(argv))
    return times


import rows  # noqa: E402  (bench/rows.py, next to this file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a median misses its target or the ask/bare ratio is above 2")
    parser.add_argument("--rows", help="also append the results to this JSON-lines file (bench/rows.py)")
    args = parser.parse_args()
    exe = sovstack_executable()
    answers = ROOT / "examples" / "answers" / "neighbourhood-association.yml"
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SOVSTACK_NO_CACHE")}
        env["XDG_CACHE_HOME"] = cache
        cases = {
            BARE: [sys.executable, "-c", "import click, yaml, jinja2"],
            "sovstack --help": [exe, "--help"],
            ASK: [exe, "ask", "--answers", str(answers), "--out", out, "--json"],
        }
        times = measure(cases, args.runs, env)
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8} {'target':>8}  ok")
    missed = False
    for name, values in times.items():
        median = statistics.median(values)
        target = None if name == BARE else TARGET_S
        ok = None if target is None else median < target
        missed |= ok is False
        print(f"{name:<36} {median:8.3f} {min(values):8.3f} {max(values):8.3f} "
              f"{'' if target is None else f'{target:8.3f}':>8}  {'' if ok is None else ('yes' if ok else 'NO')}")
        rows.add(args.rows, "cli", f"`{name}` (median of {args.runs})", f"{median:.3f} s",
                 "" if target is None else f"< {target} s", ok)
    ratio = statistics.median(times[ASK]) / statistics.median(times[BARE])
    best = min(times[ASK]) / min(times[BARE])
    ok = ratio <= TARGET_RATIO
    missed |= not ok
    print(f"ask / bare import (warm cache): {ratio:.2f}x of medians, {best:.2f}x of minimums; "
          f"target <= {TARGET_RATIO}x  {'yes' if ok else 'NO'}")
    rows.add(args.rows, "cli", "`ask` / bare import of click, yaml, jinja2 (same run, warm cache)",
             f"{ratio:.2f}x (minimums {best:.2f}x)", f"<= {TARGET_RATIO}x", ok)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
