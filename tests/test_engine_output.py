"""Reading the engines' own summaries: changes per server, also with several servers."""

from __future__ import annotations

import pytest

from sovstack.engines.runner import command, count_changes

PYINFRA_TWO_HOSTS = """--> Starting operation: Write down what changing files will require
    [main] No changes
    [web]  Success

--> Starting operation: File /etc/postfix/main.cf
    [web]  Success
    [main] No changes
"""
ANSIBLE_RECAP = """PLAY RECAP *********************************************************************
main                       : ok=52   changed=3    unreachable=0    failed=0    skipped=4    rescued=0    ignored=0
web                        : ok=40   changed=0    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0
"""
PYINFRA_DRY = """--> Detected changes:
    Operation                          Change           Conditional Change
    File /etc/postfix/main.cf          2 (main, web)    -
    Service postfix                    1 (web)          -
"""

CASES = [
    ("pyinfra, names padded to align", "pyinfra", PYINFRA_TWO_HOSTS, {"main": 0, "web": 2}),
    ("ansible recap", "ansible", ANSIBLE_RECAP, {"main": 3, "web": 0}),
    ("pyinfra --dry table", "pyinfra", PYINFRA_DRY, {"main": 1, "web": 2}),
]


@pytest.mark.parametrize("name,engine,output,expected", CASES, ids=[c[0] for c in CASES])
def test_changes_per_server_are_read_from_the_summary(name, engine, output, expected):
    assert count_changes(engine, output.splitlines()) == expected


def test_pyinfra_gets_one_limit_per_server(tmp_path):
    """A comma-separated --limit matches no host in pyinfra 3: the run would do nothing."""
    cmd = command("pyinfra", tmp_path, ["main", "web"])
    assert [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--limit"] == ["main", "web"]
