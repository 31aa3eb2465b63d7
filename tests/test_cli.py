"""The command line, run as a real process: outputs, errors, and nothing written on bad input."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import REPO

SOVSTACK = [sys.executable, "-m", "sovstack"]


def run(*args, stdin=subprocess.DEVNULL, timeout=60, cwd=None):
    return subprocess.run([*SOVSTACK, *args], stdin=stdin, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or REPO)


def write(path, data):
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


SAMPLE = {"members": 30, "techie": "some", "budget_eur_month": 20, "needs": ["email", "chat", "files"]}


def test_ask_with_answers_writes_answers_markdown_and_html(tmp_path, out_dir):
    answers = write(tmp_path / "a.yml", SAMPLE)
    result = run("ask", "--answers", str(answers), "--out", str(out_dir))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["answers.yml", "report.html", "report.md"]
    html = (out_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "report.md" in result.stdout + result.stderr


def test_written_answers_reproduce_the_same_recommendation(tmp_path, out_dir):
    first = run("ask", "--answers", str(write(tmp_path / "a.yml", SAMPLE)), "--out", str(out_dir), "--json")
    again = run("ask", "--answers", str(out_dir / "answers.yml"), "--out", str(tmp_path / "o2"), "--json")
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout) == json.loads(again.stdout)


def test_json_has_the_documented_shape(tmp_path, out_dir):
    result = run("ask", "--answers", str(write(tmp_path / "a.yml", SAMPLE)), "--out", str(out_dir), "--json")
    data = json.loads(result.stdout)
    assert set(data["categories"]) == {"email", "chat", "files"}
    for entry in data["categories"].values():
        assert {"mode", "tool", "hoster", "scores", "reasons", "alternatives", "excluded"} <= set(entry)
        assert entry["mode"] in ("self-host", "hosted", "keep")
        assert all({"tool", "why"} <= set(e) and e["why"] for e in entry["excluded"])
    assert {"ram_mb", "disk_gb", "monthly_eur"} <= set(data["totals"])


def test_french_report(tmp_path, out_dir):
    result = run("ask", "--answers", str(write(tmp_path / "a.yml", SAMPLE)), "--out", str(out_dir),
                 "--lang", "fr", "--json")
    assert result.returncode == 0, result.stderr
    assert "Quitter les géants du numérique" in (out_dir / "report.md").read_text()
    reasons = json.loads(result.stdout)["categories"]["chat"]["reasons"]
    assert any("score global" in r for r in reasons)


def test_without_terminal_or_answers_it_stops_at_once_with_a_hint(out_dir):
    start = time.monotonic()
    result = run("ask", "--out", str(out_dir), timeout=20)
    assert time.monotonic() - start < 10
    assert result.returncode == 2
    assert "no terminal" in result.stderr and "--answers" in result.stderr
    assert not out_dir.exists()


BAD = [
    ({**SAMPLE, "members": 0}, "'members'"),
    ({**SAMPLE, "wishes": 1}, "unknown question 'wishes'"),
    ({**SAMPLE, "techie": 3}, "'techie'"),
    ({**SAMPLE, "budget_eur_month": -1}, "'budget_eur_month'"),
    ({**SAMPLE, "needs": ["email", "teleport"]}, "'teleport'"),
    ("members: [1,\n", "not valid YAML"),
]


@pytest.mark.parametrize("answers,words", BAD)
def test_bad_answers_exit_non_zero_and_write_nothing(tmp_path, out_dir, answers, words):
    result = run("ask", "--answers", str(write(tmp_path / "a.yml", answers)), "--out", str(out_dir), "--json")
    assert result.returncode == 2
    assert words in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not out_dir.exists()


def test_missing_answers_file_is_named(out_dir):
    result = run("ask", "--answers", "/nonexistent/a.yml", "--out", str(out_dir))
    assert result.returncode == 2 and "/nonexistent/a.yml" in result.stderr


def _all_commands(group=None, prefix=()):
    import click

    from sovstack.cli.main import main

    group = group or main
    found = [list(prefix)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append([*prefix, name])
    return found


COMMANDS = _all_commands()


def test_the_provisioning_commands_exist():
    assert {"init", "render", "plan", "deploy", "sandbox up", "sandbox down", "sandbox status"} <= \
        {" ".join(c) for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "sovstack")
def test_every_command_has_help_with_an_example(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "Example" in result.stdout


def test_catalog_commands(tmp_path):
    assert "ok:" in run("catalog", "check").stdout
    listed = json.loads(run("catalog", "list", "--need", "chat", "--json").stdout)
    assert "mattermost" in [t["id"] for t in listed]
    shown = run("catalog", "show", "open-web-analytics")
    assert shown.returncode == 0 and "sovstack-build" in shown.stdout
    missing = run("catalog", "show", "googledocs")
    assert missing.returncode == 2 and "catalog list" in missing.stderr


def test_ask_does_not_import_provisioning_libraries(catalog, tmp_path, out_dir):
    answers = write(tmp_path / "a.yml", SAMPLE)
    # The exit code is kept: an ask that failed early would import nothing heavy and prove nothing.
    code = ("import sys, runpy; sys.argv=['sovstack','ask','--answers',%r,'--out',%r,'--json'];\n"
            "status = 0\n"
            "try:\n runpy.run_module('sovstack', run_name='__main__')\n"
            "except SystemExit as exc: status = exc.code or 0\n"
            "heavy=[m for m in ('ansible','pyinfra','docker','questionary') if m in sys.modules]\n"
            "sys.stderr.write('EXIT=%%s HEAVY=%%s' %% (status, heavy))") % (str(answers), str(out_dir))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ}, stdin=subprocess.DEVNULL, timeout=60)
    assert result.stderr.endswith("EXIT=0 HEAVY=[]"), result.stderr[-500:]
    # It did the whole job: the recommendation on stdout, and the three files holding it.
    data = json.loads(result.stdout)
    assert set(data["categories"]) == set(SAMPLE["needs"])
    assert sorted(p.name for p in out_dir.iterdir()) == ["answers.yml", "report.html", "report.md"]
    understood = yaml.safe_load((out_dir / "answers.yml").read_text())
    assert {k: understood[k] for k in SAMPLE} == {**SAMPLE, "needs": understood["needs"]}
    assert sorted(understood["needs"]) == sorted(SAMPLE["needs"])
    report, html = (out_dir / "report.md").read_text(), (out_dir / "report.html").read_text()
    for entry in data["categories"].values():
        named = entry["tool"] or entry["hoster"]
        assert named, entry
        name = catalog.tools[named].name if named in catalog.tools else catalog.hosters[named].name
        assert name in report and name in html, name


def test_init_from_answers_writes_a_stack_and_private_secrets_then_render_works(tmp_path, catalog):
    answers = REPO / "examples" / "answers" / "neighbourhood-association.yml"
    result = run("init", "--answers", str(answers), "--domain", "voisins.example.org", "--admin-email",
                 "admin@voisins.example.org", "--server", "203.0.113.10", "--out", "sovstack.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load((tmp_path / "sovstack.yml").read_text())
    assert stack["domain"] == "voisins.example.org" and stack["servers"]["main"]["address"] == "203.0.113.10"
    assert (tmp_path / "secrets.yml").stat().st_mode & 0o777 == 0o600
    secret_values = [v for tool in yaml.safe_load((tmp_path / "secrets.yml").read_text())["tools"].values()
                     for v in tool.values()]
    assert secret_values and not any(v in result.stdout + result.stderr for v in secret_values)
    # Its email is hosted at Disroot, whose documented SMTP settings draft mail_relay; with no terminal
    # the password is left to secrets.yml, as init says, and the user adds it there.
    assert stack["mail_relay"]["host"] == "disroot.org" and "mail_relay.password" in result.stdout
    # Each self-hosted tool with how far sovstack's tests prove it, in plain words.
    for tool in stack["tools"]:
        words = ("proven on a real Debian 13 server by sovstack's tests: installation" if catalog.tools[tool].proof == "real"
                 else "configured from its documentation; not yet run by sovstack's tests"
                 if catalog.tools[tool].proof == "rendered" else "with a stand-in in its place")
        assert f"  {tool}: " in result.stdout and words in result.stdout.split(f"  {tool}: ", 1)[1].splitlines()[0], tool
    with (tmp_path / "secrets.yml").open("a") as secrets:
        secrets.write("mail_relay:\n  password: the-relay-password\n")
    rendered = run("render", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "build" / "main" / "manifest.yml").exists() and (tmp_path / "build" / "hosts.yml").exists()
    again = run("init", "--answers", str(answers), "--domain", "x.org", "--admin-email", "a@x.org",
                "--server", "203.0.113.10", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_init_without_a_terminal_names_the_missing_flag(tmp_path):
    answers = REPO / "examples" / "answers" / "small-choir.yml"
    result = run("init", "--answers", str(answers), "--admin-email", "a@x.org", "--server", "203.0.113.10",
                 cwd=tmp_path)
    assert result.returncode == 2 and "--domain" in result.stderr and "fix:" in result.stderr
    assert not (tmp_path / "sovstack.yml").exists()
