"""Every test is bounded: pytest-timeout gives each test a limit (pyproject), and every subprocess call the
tests make carries its own timeout, so a hung command fails its test instead of eating CI's 90 minutes."""

import ast
import tomllib

import pytest

from tests.conftest import REPO

WAITING = {"run", "check_output", "check_call", "call"}  # subprocess functions that wait for the command


def unbounded_calls(source: str) -> list[str]:
    """subprocess.run/check_output/check_call/call, .wait() and .communicate() without a timeout."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, receiver = node.func.attr, node.func.value
        module_call = name in WAITING and isinstance(receiver, ast.Name) and receiver.id == "subprocess"
        process_wait = name in ("wait", "communicate") and not node.args
        if not (module_call or process_wait):
            continue
        if not any(k.arg in ("timeout", None) for k in node.keywords):  # None: **kwargs may carry it
            found.append(f"{node.lineno}: .{name}(…) without timeout=")
    return found


@pytest.mark.parametrize("source, expected", [
    ("import subprocess\nsubprocess.run(['true'])", ["2: .run(…) without timeout="]),
    ("import subprocess\nsubprocess.check_output(['true'], text=True)", ["2: .check_output(…) without timeout="]),
    ("proc.wait()", ["1: .wait(…) without timeout="]),
    ("proc.communicate(input=b'')", ["1: .communicate(…) without timeout="]),
    ("import subprocess\nsubprocess.run(['true'], timeout=5)", []),
    ("proc.wait(timeout=5)", []),
    ("proc.wait(5)", []),
    ("subprocess.run(['true'], **options)", []),
    ("runner.run(['true'])", []),  # not subprocess's
])
def test_the_scan_finds_unbounded_calls(source, expected):
    assert unbounded_calls(source) == expected


def test_every_subprocess_call_in_the_tests_is_bounded():
    unbounded = [f"{path.relative_to(REPO)}:{line}" for path in sorted((REPO / "tests").rglob("*.py"))
                 for line in unbounded_calls(path.read_text())]
    assert not unbounded, "\n".join(unbounded)


def test_every_test_has_a_time_limit():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    options = config["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 1800, options
    assert "--durations=25" in options["addopts"].split(), options["addopts"]
    assert any(dep.startswith("pytest-timeout") for dep in config["project"]["optional-dependencies"]["test"])
