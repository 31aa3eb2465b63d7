"""Hostile stack files (hypothesis): each one either loads or fails with a clear UserError naming the
file; never a traceback, and nothing is written when it fails."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovstack.errors import UserError
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire

TOOLS = ["etherpad", "goaccess", "postfix-dovecot", "mailu", "nextcloud", "nextcloud-office", "openldap",
         "bigbluebutton", "open-web-analytics", "wordpress", "", "ÉTHERPAD", "../etc"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["main", "web", "pad", "voisins.example.org", "root"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=3)),
                      max_leaves=8)


@st.composite
def stacks(draw):
    stack = {
        "organisation": draw(st.one_of(st.text(max_size=20), SCALARS)),
        "domain": draw(st.one_of(st.sampled_from(["voisins.example.org", "x", "a..b", "VOISINS.ORG"]), SCALARS)),
        "admin_email": draw(st.one_of(st.just("admin@voisins.example.org"), SCALARS)),
        "servers": draw(st.one_of(
            st.dictionaries(st.sampled_from(["main", "web", "Main", "1x"]),
                            st.one_of(st.fixed_dictionaries({"address": st.sampled_from(["203.0.113.10", "a b", ""])},
                                                            optional={"ssh_port": SCALARS, "ssh_user": SCALARS}),
                                      VALUES), max_size=2),
            VALUES)),
        "tools": draw(st.one_of(
            st.dictionaries(st.sampled_from(TOOLS),
                            st.one_of(st.fixed_dictionaries({"server": st.sampled_from(["main", "web", "nope"])},
                                                            optional={"subdomain": st.sampled_from(
                                                                ["pad", "stats", "Pad!", "", "mail"])}),
                                      VALUES), max_size=4),
            VALUES)),
    }
    if draw(st.booleans()):
        stack[draw(st.sampled_from(["hosted", "mail_relay", "tls", "language", "extra"]))] = draw(VALUES)
    return stack


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(stacks(), VALUES))
def test_any_stack_file_loads_or_fails_clearly_and_writes_nothing(catalog, tmp_path_factory, data):
    where = tmp_path_factory.mktemp("fuzz")
    path = where / "sovstack.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        stack = parse_stack(yaml.safe_load(path.read_text()), path, catalog)
    except UserError as exc:
        assert str(path) in exc.message or "sovstack.yml" in exc.message
        assert exc.hint
        assert sorted(p.name for p in where.iterdir()) == ["sovstack.yml"]
        return
    secrets = ensure_secrets(stack, where / "secrets.yml", wire(stack, catalog).wanted_secrets()) if not stack.mail_relay else None
    assert secrets is None or (where / "secrets.yml").stat().st_mode & 0o777 == 0o600
