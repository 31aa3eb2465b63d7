"""A stack with nothing self-hosted (init wrote `servers: {}`): every command says so plainly, points at
the hosters, and touches no server (there is none to touch)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sovstack.cli.main import main

EXAMPLES = Path(__file__).parent.parent / "examples" / "answers"
NO_SERVER = "key 'servers' is empty: nothing to deploy, back up or update"

# (command, exit code, words in its output)
COMMANDS = [
    (["plan"], 2, [NO_SERVER]),
    (["render"], 2, [NO_SERVER]),
    (["deploy"], 2, [NO_SERVER, "every need is hosted"]),
    (["backup"], 2, [NO_SERVER]),
    (["restore", "--list"], 2, [NO_SERVER]),
    (["update"], 2, [NO_SERVER]),
    (["check"], 0, ["no server to examine: nothing is self-hosted",
                    "ok    [wiring] identity: nothing is self-hosted: members get their accounts from the hosters",
                    "0 wrong"]),
    (["members", "list"], 2, ["nothing is self-hosted, so sovstack holds no member accounts", "ask each hoster"]),
    (["members", "add", "ann", "--name", "Ann", "--email", "ann@example.org"], 2, ["nothing is self-hosted"]),
    (["dns"], 0, ["no DNS records for asso.example.org: nothing is self-hosted"]),
    (["remove", "etherpad"], 2, ["no tool 'etherpad'", "the stack self-hosts nothing"]),
]


@pytest.fixture(scope="module")
def hosted_only(tmp_path_factory) -> Path:
    """init of the small choir, which hosts every need at Framasoft, Framaspace and Entraide CHATONS."""
    out = tmp_path_factory.mktemp("choir") / "sovstack.yml"
    result = CliRunner().invoke(main, ["init", "--answers", str(EXAMPLES / "small-choir.yml"), "--domain",
                                       "asso.example.org", "--admin-email", "admin@asso.example.org", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["servers"] == {}
    return out


@pytest.mark.parametrize("command,code,words", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_on_a_hosted_only_stack_says_there_is_no_server(hosted_only, command, code, words):
    before = sorted(p.name for p in hosted_only.parent.iterdir())
    result = CliRunner().invoke(main, [*command, "--stack", str(hosted_only)])
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert "Traceback" not in result.output
    assert sorted(p.name for p in hosted_only.parent.iterdir()) == before  # nothing written beside it
