"""The wheel installs anywhere: built with `python -m build`, installed into a fresh virtualenv outside
the checkout, it asks, inits and renders byte for byte what the editable install does, and its packaged
playbook is the one ansible-playbook runs."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples" / "answers").glob("*.yml"))
INIT = ["--domain", "voisins.example.org", "--admin-email", "admin@voisins.example.org",
        "--server", "203.0.113.10", "--out", "sovstack.yml"]


def _run(args, cwd, timeout=300, env=None):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """A virtualenv in a temporary directory with only the built wheel installed (no checkout on its path)."""
    where = tmp_path_factory.mktemp("wheel")
    # Built from a clean copy: a checkout's leftover build/ or egg-info would hide a file missing from package-data.
    source = where / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                ".hypothesis", "test-artifacts", "out", "dist"))
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(where / "dist"), str(source)],
         cwd=where, timeout=300)
    wheel = next((where / "dist").glob("sovstack-*.whl"))
    # A plain virtualenv: pip resolves the wheel's own dependency list, as `pip install` or pipx would.
    _run([sys.executable, "-m", "venv", str(where / "venv")], cwd=where)
    python = where / "venv" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], cwd=where, timeout=600)
    return where / "venv" / "bin"


def _sovstack(bin_dir: Path):
    return [str(bin_dir / "sovstack")]


def test_the_wheel_carries_the_data_and_imports_from_outside_the_checkout(wheel_env, tmp_path):
    found = _run([str(wheel_env / "python"), "-c",
                  "import sovstack, sovstack.paths as p; print(sovstack.__file__); print(p.decision_tree_dir());"
                  " print(p.templates_dir()); print(p.playbook())"], cwd=tmp_path).stdout.split()
    assert all(str(REPO) not in line and "site-packages" in line for line in found), found
    assert Path(found[1], "questions.yml").is_file() and Path(found[2], "server").is_dir()
    assert Path(found[3]).is_file()


@pytest.mark.parametrize("answers", EXAMPLES, ids=lambda p: p.stem)
def test_ask_init_and_render_from_the_wheel_match_the_editable_install(wheel_env, tmp_path, answers):
    editable = [sys.executable, "-m", "sovstack"]
    runs = {}
    for name, command in (("editable", editable), ("wheel", _sovstack(wheel_env))):
        work = tmp_path / "work"  # the same path for both: the inventories name the bundle's absolute path
        work.mkdir()
        _run([*command, "ask", "--answers", str(answers), "--out", "recommendation"], cwd=work)
        _run([*command, "init", "--answers", "recommendation/answers.yml", *INIT], cwd=work)
        _add_relay_password(work)
        if name == "wheel":
            # Secrets are random: render from the same ones, so any difference is the installation's.
            shutil.copy(runs["editable"] / "secrets.yml", work / "secrets.yml")
        if "servers: {}" in (work / "sovstack.yml").read_text():  # every need hosted: nothing to render
            refused = subprocess.run([*command, "render"], cwd=work, capture_output=True, text=True, timeout=900)
            assert refused.returncode == 2 and "nothing to deploy" in refused.stderr, refused.stderr
        else:
            _run([*command, "render"], cwd=work)
        runs[name] = work.rename(tmp_path / name)
    for folder in ("recommendation", "build"):
        if not (runs["editable"] / folder).exists() and not (runs["wheel"] / folder).exists():
            continue
        differences = _tree_differences(runs["editable"] / folder, runs["wheel"] / folder)
        assert not differences, f"{folder}/ differs between the editable install and the wheel: {differences}"
    assert (runs["editable"] / "sovstack.yml").read_bytes() == (runs["wheel"] / "sovstack.yml").read_bytes()


def _add_relay_password(work: Path) -> None:
    """Hosted email drafts a mail relay whose password init leaves to secrets.yml without a terminal:
    add it there, as init says to."""
    if "mail_relay" in (work / "sovstack.yml").read_text():
        with (work / "secrets.yml").open("a") as secrets:
            secrets.write("mail_relay:\n  password: the-relay-password\n")


def _tree_differences(left: Path, right: Path) -> list[str]:
    compared = filecmp.dircmp(left, right)
    found = [f"only in one: {name}" for name in compared.left_only + compared.right_only]
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    found += [f"content: {name}" for name in mismatch + errors]
    for sub in compared.common_dirs:
        found += [f"{sub}/{d}" for d in _tree_differences(left / sub, right / sub)]
    return found


def test_ansible_playbook_runs_the_packaged_playbook(wheel_env, tmp_path):
    answers = EXAMPLES[0]
    _run([*_sovstack(wheel_env), "ask", "--answers", str(answers), "--out", "recommendation"], cwd=tmp_path)
    _run([*_sovstack(wheel_env), "init", "--answers", "recommendation/answers.yml", *INIT], cwd=tmp_path)
    _add_relay_password(tmp_path)
    _run([*_sovstack(wheel_env), "render"], cwd=tmp_path)
    playbook = _run([*_sovstack(wheel_env), "playbook"], cwd=tmp_path).stdout.strip()
    assert "site-packages" in playbook
    ansible = Path(sys.executable).with_name("ansible-playbook")
    listed = _run([str(ansible), "-i", "build/hosts.yml", playbook, "--list-tasks"], cwd=tmp_path)
    assert "Find the rendered bundle" in listed.stdout
