"""A test that runs on stand-in images (tests/standin/) says so in its name: a pass proves routing,
health checks and volumes with a stand-in, not the upstream tool, and the name must not claim more."""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).parent
# What builds stand-in images (tests/servers.py) or hands out a server that runs them (tests/conftest.py).
BUILDS = {"build_standins", "build_failing_standin", "converge_sample", "converged_server"}


def fixtures_and_tests(path: Path) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef)}


def uses_standins(functions: dict[str, ast.FunctionDef]) -> set[str]:
    """The functions whose body names a builder, or that take (as a fixture) one that does, transitively."""
    body = {name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} |
            {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} for name, node in functions.items()}
    fixtures = {name: {a.arg for a in node.args.args} for name, node in functions.items()}
    found = {name for name, used in body.items() if used & BUILDS}
    while True:
        more = {name for name, used in fixtures.items() if used & found} - found
        if not more:
            return found
        found |= more


def unnamed(paths: list[Path]) -> list[str]:
    shared = {name: node for name, node in fixtures_and_tests(HERE / "conftest.py").items()
              if not name.startswith("test_")}
    bad = []
    for path in paths:
        functions = {**shared, **fixtures_and_tests(path)}
        for name in sorted(uses_standins(functions)):
            if name.startswith("test_") and name in fixtures_and_tests(path) and "standin" not in name:
                bad.append(f"{path.name}::{name}")
    return bad


def test_every_test_on_standin_images_says_standin_in_its_name():
    bad = unnamed(sorted(HERE.glob("test_*.py")))
    assert not bad, "these tests run on stand-in images; put 'standin' in their names: " + ", ".join(bad)


def test_the_scan_finds_a_test_on_a_standin_through_a_fixture(tmp_path):
    case = tmp_path / "test_case.py"
    case.write_text("import pytest\n@pytest.fixture\ndef srv(converged_server):\n    return converged_server('x')\n"
                    "def test_it_works(srv):\n    pass\ndef test_it_works_with_standin(srv):\n    pass\n"
                    "def test_plain():\n    pass\n")
    assert unnamed([case]) == ["test_case.py::test_it_works"]
