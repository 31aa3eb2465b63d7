"""Loading a stack never writes: only the commands that render (init, render, plan, deploy, remove,
update) generate secrets.yml. The others, on a stack without one, change nothing and say what to run."""

import stat
import subprocess
import sys

import pytest
import yaml

SOVSTACK = [sys.executable, "-m", "sovstack"]
STACK = {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
         "servers": {"main": {"address": "203.0.113.10"}}, "tools": {"etherpad": {"server": "main"}}}
MAIL = {**STACK, "tools": {"postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"}}}


def run(*args, cwd):
    return subprocess.run([*SOVSTACK, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def listing(directory):
    """Every file and directory under it, with its content: what a command must leave alone."""
    return {str(p.relative_to(directory)): p.read_bytes() if p.is_file() else None for p in directory.rglob("*")}


READ_ONLY = [
    # Each stops at loading, before any server is contacted.
    ("dns",),
    ("dns", "--format", "zone"),
    ("check", "--only", "wiring"),
    ("check", "--only", "dns", "--resolver", "127.0.0.1:9"),
    ("members", "list"),
    ("backup",),
    ("restore", "--list"),
]


@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a) for a in READ_ONLY])
def test_a_read_only_command_without_secrets_writes_nothing_and_says_to_render(tmp_path, args):
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump(STACK))
    before = listing(tmp_path)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "secrets.yml: no such file" in result.stderr and "sovstack render" in result.stderr
    assert listing(tmp_path) == before


def test_a_secrets_file_lacking_a_value_is_read_not_rewritten(tmp_path):
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump(STACK))
    (tmp_path / "secrets.yml").write_text("backup:\n  password: kept-as-it-is-123456\n")
    (tmp_path / "secrets.yml").chmod(0o640)  # not even the mode is touched
    before = listing(tmp_path)
    result = run("check", "--only", "wiring", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[wiring]" in result.stdout
    assert listing(tmp_path) == before
    assert stat.S_IMODE((tmp_path / "secrets.yml").stat().st_mode) == 0o640


def test_a_missing_dkim_key_is_never_made_up_for_dns(tmp_path):
    """Its public half is published in DNS: a key made up for one run would not match the server's."""
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump(MAIL))
    (tmp_path / "secrets.yml").write_text("backup:\n  password: kept-as-it-is-123456\n")
    before = listing(tmp_path)
    result = run("dns", cwd=tmp_path)
    assert result.returncode == 2
    assert "tools.postfix-dovecot.dkim_key_pem" in result.stderr and "sovstack render" in result.stderr
    assert listing(tmp_path) == before


def test_render_generates_the_secrets(tmp_path):
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump(STACK))
    result = run("render", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "secrets.yml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["tools"]["etherpad"]["db_password"]
    # Now the read-only commands run, and still write nothing.
    before = listing(tmp_path)
    assert run("dns", cwd=tmp_path).returncode == 0
    assert listing(tmp_path) == before
