"""Run the whole suite as two pytest processes side by side ("lanes"), or one pytest when asked for a part.

Most of the suite's time is spent waiting on sandbox servers (package installs, converges, health checks),
so two lanes on a 2-core machine finish well before one. A lane is a set of test modules; every module that
uses a session fixture making a shared server is in that fixture's lane, so each shared server is still
made once per run (two lanes making the same server would also fight over its container name).

    python scripts/lanes.py [PYTEST_OPTIONS]       # the whole suite, two lanes
    python scripts/lanes.py tests/test_cli.py -x   # a path, -k or -m: one ordinary pytest

Options are passed to both lanes. The lane on the converged sample servers writes its output to
LOGDIR/converged.log (shown when it ends); the other lane writes to the terminal. Exit status: 0 when
both lanes passed, otherwise the first non-zero status.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# Session fixtures of tests/conftest.py that make a shared server -> the lane their users run in.
LANE_OF_FIXTURE = {"converged_server": "converged", "debian_apps": "other"}
OPTIONS_WITH_A_VALUE = {"-p", "-o", "--timeout", "--durations", "--basetemp", "-W", "--log-level", "-c",
                        "--rootdir", "--confcutdir", "--junitxml", "--junit-xml"}


def selects_a_part(args: list[str]) -> bool:
    """True when the arguments choose tests themselves (a path, node id, -k, -m, --lf...)."""
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in OPTIONS_WITH_A_VALUE:
            skip_next = True
        elif arg in {"-k", "-m", "--lf", "--last-failed", "--ff", "--sw", "--stepwise"} or not arg.startswith("-"):
            return True
    return False


def fixtures_asked_for(module: Path) -> set[str]:
    """The parameter names of the module's functions: the fixtures its tests and fixtures ask for."""
    tree = ast.parse(module.read_text(encoding="utf-8"), str(module))
    return {arg.arg for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}


def lanes(tests: Path = TESTS) -> dict[str, list[Path]]:
    """lane -> its test modules. Modules that use no shared server go to the "other" lane."""
    found: dict[str, list[Path]] = {"converged": [], "other": []}
    for module in sorted(tests.glob("test_*.py")):
        used = {LANE_OF_FIXTURE[name] for name in fixtures_asked_for(module) if name in LANE_OF_FIXTURE}
        if len(used) > 1:
            raise SystemExit(f"error: {module} uses the shared servers of two lanes "
                             f"({', '.join(sorted(used))})\n  fix: use one of {', '.join(LANE_OF_FIXTURE)} per "
                             "module, or move the test into a module of that fixture's lane")
        found[used.pop() if used else "other"].append(module)
    return found


def main(args: list[str]) -> int:
    python = sys.executable
    if "-h" in args or "--help" in args:
        print(__doc__.replace("python scripts/lanes.py", "./run-tests"), flush=True)
        return subprocess.call([python, "-m", "pytest", "--help"], cwd=ROOT)
    if selects_a_part(args) or os.environ.get("SOVSTACK_TEST_LANES") == "1":
        return subprocess.call([python, "-m", "pytest", *args], cwd=ROOT)
    modules = lanes()
    logdir = Path(tempfile.mkdtemp(prefix="sovstack-lanes-"))
    log_path = logdir / "converged.log"
    started = time.monotonic()
    ended: dict[str, float] = {}
    with open(log_path, "w", encoding="utf-8") as log:
        # Each lane has its own --basetemp, so that pytest's clean-up of old temp folders in one lane cannot
        # remove a folder the other lane uses; short, as unix socket paths under it have a length limit.
        converged = subprocess.Popen(
            [python, "-m", "pytest", *args, f"--basetemp={logdir / 'c'}",
             *map(str, modules["converged"])], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        waiter = threading.Thread(target=lambda: (converged.wait(), ended.setdefault("converged", time.monotonic())))
        waiter.start()
        print(f"lane 'converged' ({len(modules['converged'])} modules on the shared sample servers): "
              f"output in {log_path}", flush=True)
        other = subprocess.call([python, "-m", "pytest", *args, f"--basetemp={logdir / 'o'}",
                                 *map(str, modules["other"])], cwd=ROOT)
        ended["other"] = time.monotonic()
        waiter.join()
    print(f"\n===== lane 'converged' (output of {log_path}) =====", flush=True)
    sys.stdout.write(log_path.read_text(encoding="utf-8", errors="replace"))
    print(f"\nlanes: 'other' took {(ended['other'] - started) / 60:.1f} min (exit {other}), 'converged' took "
          f"{(ended['converged'] - started) / 60:.1f} min (exit {converged.returncode})", flush=True)
    if other == 0 and converged.returncode == 0:
        # The sandbox servers' Docker data is in there (gigabytes); kept when a test failed, to look at.
        for lane in ("c", "o"):
            shutil.rmtree(logdir / lane, ignore_errors=True)
    return other or converged.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
