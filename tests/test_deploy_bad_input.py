"""Bad input stops a deploy before anything changes on the server, with a message that says what to do."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from sovstack.engines import sandbox
from tests.servers import require_docker, sovstack, ssh, write_stack

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]


@pytest.fixture(scope="module")
def fresh(request, tmp_path_factory):
    require_docker()
    state = tmp_path_factory.mktemp("sandbox-bad")
    server = sandbox.up("test-bad", state_dir=state)
    request.addfinalizer(lambda: sandbox.down("test-bad", state_dir=state))
    return server


def untouched(server) -> bool:
    return ssh(server, "test -e /srv/sovstack || test -e /etc/caddy", check=False).returncode != 0


def edit(path, **changes):
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        node = data
        *parents, last = key.split(".")
        for parent in parents:
            node = node[parent]
        node[last] = value
    path.write_text(yaml.safe_dump(data))


def other_key(tmp_path):
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=900)
    return str(key)


CASES = [
    # (id, change to the stack file, words the error must contain)
    ("unreachable server", lambda tmp: {"servers.main.ssh_port": 1}, ["cannot connect over SSH", "ssh_port"]),
    ("wrong ssh key", lambda tmp: {"servers.main.ssh_key": other_key(tmp)}, ["refused the key", "ssh_key"]),
    ("bad domain", lambda tmp: {"domain": "not a domain"}, ["key 'domain'", "'not a domain'"]),
    ("unknown tool", lambda tmp: {"tools": {"wordpress": {"server": "main"}}}, ["tools.wordpress", "no tool"]),
    ("unknown server", lambda tmp: {"tools": {"goaccess": {"server": "web"}}}, ["tools.goaccess.server", "'web'"]),
    ("one subdomain twice", lambda tmp: {"tools": {"goaccess": {"server": "main"},
                                                    "etherpad": {"server": "main", "subdomain": "stats"}}},
     ["subdomain", "also used by"]),
    ("refused tool", lambda tmp: {"tools": {"bigbluebutton": {"server": "main"}}}, ["does not deploy BigBlueButton"]),
]


@pytest.mark.parametrize("name,change,words", CASES, ids=[c[0] for c in CASES])
def test_bad_stack_stops_before_any_change(fresh, tmp_path, name, change, words):
    stack = write_stack(tmp_path, fresh, {"goaccess": {"server": "main"}})
    edit(stack, **change(tmp_path))
    result = sovstack("deploy", cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    for word in words:
        assert word in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert untouched(fresh)


def test_a_port_already_taken_on_the_server_stops_before_any_change(fresh, tmp_path):
    ssh(fresh, "systemd-run --unit=squatter python3 -m http.server 443")
    try:
        write_stack(tmp_path, fresh, {"goaccess": {"server": "main"}})
        for engine in ("ansible", "pyinfra"):
            result = sovstack("deploy", "--engine", engine, cwd=tmp_path, check=False)
            assert result.returncode == 2
            assert "port 443 is already taken by 'python3'" in result.stderr
            assert "systemctl disable --now" in result.stderr
            assert untouched(fresh)
    finally:
        ssh(fresh, "systemctl stop squatter", check=False)


@pytest.mark.parametrize("engine", ["ansible", "pyinfra"])
def test_plan_on_a_fresh_server_lists_changes_and_makes_none(fresh, tmp_path, engine):
    write_stack(tmp_path, fresh, {"goaccess": {"server": "main"}})
    result = sovstack("plan", "--engine", engine, cwd=tmp_path)
    count = int(result.stdout.rsplit("plan: main: ", 1)[1].split()[0])
    assert count > 0
    assert untouched(fresh)


def test_a_deploy_killed_halfway_is_completed_by_the_next_run(fresh, tmp_path):
    """Runs last in this module: it converges the server. The engine is killed right after the files
    are copied, before anything they restart has restarted; the next run must still restart them."""
    import os
    import signal
    import sys

    write_stack(tmp_path, fresh, {"goaccess": {"server": "main"}})
    proc = subprocess.Popen([sys.executable, "-m", "sovstack", "deploy"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("TASK [Restart and reload what changed files belong to"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=900)
    assert any("TASK [Files]" in line for line in seen), "".join(seen[-20:])
    pending = ssh(fresh, "ls /srv/sovstack/pending").stdout.split()
    assert "reload_caddy" in pending  # what the killed run left to do is written down
    completed = sovstack("deploy", cwd=tmp_path)
    assert "health: main: goaccess https://stats.voisins.test: ok" in completed.stdout
    assert ssh(fresh, "ls -A /srv/sovstack/pending").stdout == ""
    again = sovstack("deploy", cwd=tmp_path)
    assert "main: 0 change(s)" in again.stdout
