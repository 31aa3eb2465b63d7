"""Env files for Docker Compose keep every value as rendered (sovstack/envfile.py).

The quoting forms are checked against the real Compose parser on a sandbox server in
tests/test_update_sandbox.py (test_env_file_values_reach_compose_unchanged_with_standin_etherpad); here, every tool's
env files rendered with a hostile relay password and organisation name use only those forms and
decode back to the values.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sovstack.catalog import load_catalog
from sovstack.render import envfile
from sovstack.render.bundle import render_server
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, parse_stack
from sovstack.wiring.wire import wire

CATALOG = load_catalog()
COMPOSE_TOOLS = sorted(t for t, tool in CATALOG.tools.items() if deployable(tool)[0] and tool.deploy.how == "compose")
PASSWORD = "p$a 'ss\"w\\o#rd ${HOME}\\"
ORGANISATION = "Les Amis d'Émile $HOME & \"Co\" #1"

# Tools whose relay password is in an env file, but inside a larger value.
PASSWORD_ELSEWHERE = {"goatcounter": "URL-encoded inside its SMTP URL"}

QUOTES = [
    ("plain.value-1", "plain.value-1"),
    ("", ""),
    ("user@example.org:587", "user@example.org:587"),
    ("pa$word", "'pa$word'"),
    ("with # hash", "'with # hash'"),
    ("Les Voisins", "'Les Voisins'"),
    ("it's", "\"it's\""),
    ("ends\\", "\"ends\\\\\""),
    ("it's $x \"q\"", "\"it's $$x \\\"q\\\"\""),
]


@pytest.mark.parametrize("value,written", QUOTES)
def test_values_are_quoted_only_when_compose_would_change_them(value, written):
    assert envfile.quote(value) == written


def decode(written: str) -> str:
    """The three forms envfile writes, read back the way Compose reads them."""
    if written.startswith("'"):
        assert written.endswith("'") and "'" not in written[1:-1] and not written[1:-1].endswith("\\"), written
        return written[1:-1]
    if written.startswith('"'):
        body = written[1:-1]
        assert written.endswith('"') and re.fullmatch(r'(?:[^"\\$]|\\["\\]|\$\$)*', body), written
        return re.sub(r'\\(["\\])|\$\$', lambda m: m.group(1) or "$", body)
    assert envfile.SAFE.fullmatch(written), written
    return written


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))))
def test_any_one_line_value_is_written_in_a_form_that_decodes_to_it(value):
    value = value.strip()
    assert decode(envfile.quote(value)) == value


def test_comments_and_blank_lines_are_kept_and_values_stripped_like_compose():
    text = "# a comment with 'quotes' and $x\n\nA=1\nB = x\nC= two words \n"
    assert envfile.literal(text) == "# a comment with 'quotes' and $x\n\nA=1\nB = x\nC='two words'\n"


@pytest.mark.parametrize("tool_id", COMPOSE_TOOLS)
def test_every_env_file_line_decodes_to_the_rendered_value(tool_id, tmp_path):
    tool = CATALOG.tools[tool_id]
    tools = [tool_id, *tool.requires_tools, *[b for b in tool.addon_for if deployable(CATALOG.tools[b])[0]][:1]]
    stack = parse_stack({"organisation": ORGANISATION, "domain": "voisins.example.org",
                         "admin_email": "admin@voisins.example.org", "servers": {"main": {"address": "203.0.113.10"}},
                         "mail_relay": {"host": "smtp.example.net", "port": 587, "username": "asso@example.net"},
                         "tools": {t: {"server": "main"} for t in tools}}, "sovstack.yml", CATALOG)
    path = tmp_path / "secrets.yml"
    path.write_text("mail_relay:\n  password: " + PASSWORD.replace("\\", "\\\\").replace('"', '\\"').join('""') + "\n")
    secrets = ensure_secrets(stack, path, wire(stack, CATALOG).wanted_secrets())
    assert secrets.get("mail_relay.password") == PASSWORD
    bundle = render_server(wire(stack, CATALOG), secrets, "main", tmp_path / "build")
    env_files = [d for d in bundle.files if d.startswith("/srv/sovstack/apps/") and d.endswith(".env")]
    values = []
    for dest in env_files:
        for line in bundle.files[dest].decode().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, written = line.partition("=")
                assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key.strip()), (dest, line)
                values.append(decode(written))
    if tool.smtp.method == "env" and tool_id not in PASSWORD_ELSEWHERE:
        assert PASSWORD in values, f"{tool_id}: the relay password is not one whole env value"
