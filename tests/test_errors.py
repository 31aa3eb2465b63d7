"""The error boundary: one table of exit codes, Click's usage errors in the house style, and a bug
shown as one line with its traceback in a private debug log, never on the terminal."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sovstack.errors import (
    CatalogError,
    InteractiveSessionRequired,
    SovstackError,
    UserError,
)
from sovstack.layout import ExitCode

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "sovstack"

# The real command line with one extra, hidden command that raises what the test names: the
# boundary is exercised as a user meets it (a process, its stderr, its exit status).
DRIVER = """
import sys

import click

from sovstack import errors
from sovstack.cli.main import main

RAISED = {
    "bug": lambda: RuntimeError("the 3rd widget is  missing\\nsecond line"),
    "bare-bug": lambda: KeyError(),
    "user": lambda: errors.UserError("answers.yml: members is 0", "give a number of at least 1"),
    "catalog": lambda: errors.CatalogError("catalog x: cannot render", "this is a catalog mistake: report it"),
    "sovstack": lambda: errors.SovstackError("something expected went wrong"),
    "no-terminal": lambda: errors.InteractiveSessionRequired("there is no terminal", "use --answers"),
    "interrupt": lambda: KeyboardInterrupt(),
    "abort": lambda: click.Abort(),
}


@main.command("boom", hidden=True)
@click.argument("kind")
def boom(kind):
    raise RAISED[kind]()


main(sys.argv[1:], prog_name="sovstack")
"""


def run(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
                   "XDG_STATE_HOME": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp"), **(env or {})}
    return subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL)


# --- the table -----------------------------------------------------------------------------------------

CLASSES = [
    (SovstackError, ExitCode.FAILED),
    (UserError, ExitCode.USER),
    (InteractiveSessionRequired, ExitCode.USER),
    (CatalogError, ExitCode.CATALOG),
]


@pytest.mark.parametrize("cls, code", CLASSES, ids=lambda v: getattr(v, "__name__", None) or v.name)
def test_each_error_class_has_its_code_from_the_table(cls, code):
    assert cls.exit_code is code


def test_the_table_keeps_the_codes_scripts_already_rely_on():
    # Tests and the README promised these before the table existed; a script may test for them.
    assert {c.name: c.value for c in ExitCode} == {"OK": 0, "FAILED": 1, "USER": 2, "CATALOG": 3, "USAGE": 64,
                                                   "BUG": 70, "INTERRUPTED": 130}


def readme_exit_codes() -> dict[str, int]:
    text = (REPO / "README.md").read_text()
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    return {name: int(code) for code, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", section, re.M)}


def test_the_readme_table_is_the_modules_table():
    assert readme_exit_codes() == {c.name: c.value for c in ExitCode}


def _literal_exits(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("exit", "Exit") \
                and any(isinstance(a, ast.Constant) and isinstance(a.value, int) and a.value for a in node.args):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_exit_code_is_written_as_a_bare_number():
    # Server-side scripts (templates/) have their own codes; the command's codes come from ExitCode.
    modules = [p for p in PACKAGE.rglob("*.py") if "templates" not in p.relative_to(PACKAGE).parts]
    assert [spot for p in modules for spot in _literal_exits(p)] == []


def _report_it_user_errors(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "UserError":
            words = " ".join(n.value for a in node.args for n in ast.walk(a)
                             if isinstance(n, ast.Constant) and isinstance(n.value, str))
            if "report it" in words:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_mistakes_in_sovstacks_own_data_are_catalog_errors_not_user_errors():
    modules = [p for p in PACKAGE.rglob("*.py") if "templates" not in p.relative_to(PACKAGE).parts]
    assert [spot for p in modules for spot in _report_it_user_errors(p)] == []


# --- through the command line ----------------------------------------------------------------------

RAISED = [
    ("user", ExitCode.USER, ["error: answers.yml: members is 0", "  fix: give a number of at least 1"]),
    ("no-terminal", ExitCode.USER, ["error: there is no terminal", "  fix: use --answers"]),
    ("catalog", ExitCode.CATALOG, ["error: catalog x: cannot render", "  fix: this is a catalog mistake: report it"]),
    ("sovstack", ExitCode.FAILED, ["error: something expected went wrong"]),
    ("interrupt", ExitCode.INTERRUPTED, ["stopped by user; nothing was written"]),
    ("abort", ExitCode.INTERRUPTED, ["stopped by user; nothing was written"]),
]


@pytest.mark.parametrize("kind, code, lines", RAISED, ids=[r[0] for r in RAISED])
def test_expected_errors_are_said_in_the_house_style_with_their_code(tmp_path, kind, code, lines):
    result = run(tmp_path, "boom", kind)
    assert result.returncode == code, result.stderr
    assert result.stderr.splitlines() == lines and result.stdout == ""
    assert not (tmp_path / "state").exists()  # no debug log for what sovstack can explain


def test_a_bug_is_one_line_and_its_traceback_goes_to_a_private_debug_log(tmp_path):
    result = run(tmp_path, "boom", "bug")
    assert result.returncode == ExitCode.BUG, result.stderr
    assert "Traceback" not in result.stderr + result.stdout and result.stdout == ""
    error, fix = result.stderr.splitlines()
    assert error == "error: sovstack hit a bug: RuntimeError: the 3rd widget is missing second line"
    [log] = (tmp_path / "state" / "sovstack").iterdir()
    assert fix == f"  fix: please report it, with the traceback in {log}"
    assert re.fullmatch(r"debug-\d{8}-\d{6}-\d+\.log", log.name)
    assert log.stat().st_mode & 0o777 == 0o600 and log.parent.stat().st_mode & 0o777 == 0o700
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in boom" in text
    assert "RuntimeError: the 3rd widget is  missing\nsecond line" in text


def test_a_bug_without_a_message_names_its_type(tmp_path):
    result = run(tmp_path, "boom", "bare-bug")
    assert result.returncode == ExitCode.BUG
    assert result.stderr.splitlines()[0] == "error: sovstack hit a bug: KeyError"


def test_a_bug_still_leaves_its_traceback_when_the_state_directory_cannot_be_written(tmp_path):
    (tmp_path / "tmp").mkdir()
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    result = run(tmp_path, "boom", "bug", env={"XDG_STATE_HOME": str(blocked)})
    assert result.returncode == ExitCode.BUG and "Traceback" not in result.stderr
    [log] = (tmp_path / "tmp").iterdir()
    assert f"the traceback in {log}" in result.stderr and "Traceback" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600


# Click's own errors: the words Click chose, the house's `error:`/`fix:` lines, and their own code.
USAGE = [
    (["--bogus"], "no such option '--bogus'", "sovstack"),
    (["bogus"], "no such command 'bogus'", "sovstack"),
    (["ask", "--lang", "de"], "invalid value for '--lang': 'de' is not one of 'en', 'fr'", "sovstack ask"),
    (["ask", "--port", "x"], "invalid value for '--port'", "sovstack ask"),
    (["ask", "--jsno"], "no such option '--jsno'. Did you mean '--json'?", "sovstack ask"),
    (["catalog", "show"], "missing argument 'TOOL_ID'", "sovstack catalog show"),
    (["deploy", "--engine", "chef"], "invalid value for '--engine'", "sovstack deploy"),
    (["members", "add"], "missing argument", "sovstack members add"),
]


@pytest.mark.parametrize("args, words, command", USAGE, ids=[" ".join(u[0]) for u in USAGE])
def test_click_usage_errors_are_said_in_the_house_style(tmp_path, args, words, command):
    result = run(tmp_path, *args)
    assert result.returncode == ExitCode.USAGE, result.stderr
    error, fix = result.stderr.splitlines()
    assert error.startswith(f"error: {words}") and not error.endswith(".")
    assert fix == f"  fix: see `{command} --help`"
    assert "Usage:" not in result.stderr and "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args", [["--help"], ["ask", "-h"], ["--version"]])
def test_help_and_version_still_succeed(tmp_path, args):
    result = run(tmp_path, *args)
    assert result.returncode == ExitCode.OK and result.stdout and result.stderr == ""


@pytest.mark.parametrize("tool_id,command", [
    ("etherpad", "docker compose -f /srv/sovstack/apps/etherpad/compose.yml logs --tail 50"),
    # Debian tools: their own units (timers left out: they are not why a page fails), then Caddy.
    ("matomo", "journalctl -n 50 -u php8.4-fpm -u mariadb -u caddy"),
    ("radicale", "journalctl -n 50 -u radicale -u caddy"),
    ("goaccess", "journalctl -n 50 -u caddy"),  # Caddy serves its report itself
    ("portal", "journalctl -n 50 -u caddy"),  # not a catalog tool: Caddy serves the members' portal
])
def test_a_failing_health_check_points_at_the_logs_that_explain_it(catalog, tool_id, command):
    from sovstack.engines.apply import logs_command
    assert logs_command(catalog, tool_id) == command
