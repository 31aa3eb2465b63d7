"""Hostile stack files (hypothesis): each one either loads or fails with a clear UserError naming the
file; never a traceback, and nothing is written when it fails. The strategy draws mostly right stacks
with a few hostile values, so both branches run: the share that loads is measured and must stay at a
third or more (a strategy where nothing loads would never test the success branch)."""

from __future__ import annotations

from collections import Counter

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sovstack.catalog import deployable, load_catalog
from sovstack.errors import UserError
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire

CATALOG = load_catalog()
DEPLOYABLE = sorted(t for t, tool in CATALOG.tools.items() if deployable(tool)[0])
TOOLS = [*DEPLOYABLE, "bigbluebutton", "open-web-analytics", "wordpress", "", "ÉTHERPAD", "../etc"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["main", "web", "pad", "voisins.example.org", "root"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=3)),
                      max_leaves=8)
RELAY_PASSWORD = "relay-password-123456"

# Right values per key, so that a changed stack still loads and the success branch is reached.
RIGHT = {
    "organisation": st.one_of(st.just("Les Voisins"), st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]),
                                                              min_size=1, max_size=40).map(str.strip).filter(bool)),
    "domain": st.sampled_from(["voisins.example.org", "asso.example.net", "a-b.c.example.fr"]),
    "admin_email": st.sampled_from(["admin@voisins.example.org", "o'brien@example.org", "a.b+c@x.example.net"]),
    "language": st.sampled_from(["en", "fr"]), "tls": st.sampled_from(["public", "internal"]),
    "mail_relay": st.fixed_dictionaries({"host": st.just("smtp.example.net"), "username": st.just("asso@example.net")},
                                        optional={"port": st.integers(1, 65535),
                                                  "security": st.sampled_from(["starttls", "tls", "none"])}),
    "hosted": st.dictionaries(st.sampled_from(sorted(CATALOG.criteria.needs)), st.sampled_from(["disroot", "Zaclys"]),
                              max_size=2),
}
# Wrong values per key: the hostile ones the schema and the catalog check must refuse clearly.
WRONG = {
    "organisation": st.one_of(SCALARS, st.sampled_from(["two\nlines", " edge", "x" * 101, "tab\there"])),
    "domain": st.one_of(SCALARS, st.sampled_from(["x", "a..b", "VOISINS.ORG", "-a.org", "a.b$(id).org"])),
    "admin_email": st.one_of(SCALARS, st.sampled_from(["x$(id)@example.org", "a b@example.org", "a;b@x.org", "@x.org"])),
    "servers": st.one_of(VALUES, st.dictionaries(st.sampled_from(["main", "Main", "1x", "web"]), st.one_of(
        st.fixed_dictionaries({"address": st.sampled_from(["203.0.113.10", "a b", "", "$(id)"])},
                              optional={"ssh_port": SCALARS, "ssh_user": SCALARS}), VALUES), max_size=2)),
    "tools": st.one_of(VALUES, st.dictionaries(st.sampled_from(TOOLS), st.one_of(st.fixed_dictionaries(
        {"server": st.sampled_from(["main", "web", "nope"])},
        optional={"subdomain": st.sampled_from(["pad", "stats", "Pad!", "", "mail", "apps"])}), VALUES), max_size=4)),
    **{key: VALUES for key in ("language", "tls", "mail_relay", "hosted", "portal", "backup", "extra")},
}


@st.composite
def stacks(draw):
    """A right stack (one or two servers, deployable tools placed on them, mostly with the tools they
    need), then up to two keys given a hostile value. Some right stacks are still refused by the catalog
    check (two mail servers on one server's ports, a shared subdomain, an add-on without its base):
    those are wanted too."""
    servers = {"main": {"address": "203.0.113.10"}}
    if draw(st.booleans()):
        servers["web"] = {"address": "203.0.113.11", "ssh_port": draw(st.integers(1, 65535))}
    tools = {t: {"server": draw(st.sampled_from(sorted(servers)))}
             for t in draw(st.lists(st.sampled_from(DEPLOYABLE), max_size=4, unique=True))}
    if draw(st.sampled_from([True, True, True, False])):  # mostly with the companions they need, on their server
        for tool_id, place in list(tools.items()):
            tool = CATALOG.tools[tool_id]
            bases = [b for b in tool.addon_for if b in DEPLOYABLE]
            wanted = tool.requires_tools + ([] if any(b in tools for b in bases) else bases[:1])
            for base in wanted:
                tools.setdefault(base, {"server": place["server"]})
            for base in tool.addon_for:
                if base in tools:
                    place["server"] = tools[base]["server"]
    stack = {"organisation": draw(RIGHT["organisation"]), "domain": draw(RIGHT["domain"]),
             "admin_email": draw(RIGHT["admin_email"]), "servers": servers, "tools": tools}
    for key in draw(st.lists(st.sampled_from(["language", "tls", "mail_relay", "hosted"]), max_size=2, unique=True)):
        stack[key] = draw(RIGHT[key])
    hostile = draw(st.sampled_from([0, 0, 1, 2]))  # half the stacks keep every value right
    for key in draw(st.lists(st.sampled_from(sorted(WRONG)), min_size=hostile, max_size=hostile, unique=True)):
        stack[key] = draw(WRONG[key])
    return stack


def load_or_fail(catalog, where, data) -> str:
    """Run one stack file through what render runs first; 'loaded' or 'refused', or an assertion error."""
    path = where / "sovstack.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        stack = parse_stack(yaml.safe_load(path.read_text()), path, catalog)
    except UserError as exc:
        assert str(path) in exc.message or "sovstack.yml" in exc.message
        assert exc.hint
        assert sorted(p.name for p in where.iterdir()) == ["sovstack.yml"]
        return "refused"
    # The stack is what the file says: nothing dropped, nothing made up.
    assert (stack.organisation, stack.domain, stack.admin_email) == \
        (data["organisation"], data["domain"], data["admin_email"])
    assert sorted(stack.servers) == sorted(data["servers"]) and sorted(stack.tools) == sorted(data["tools"])
    for tool_id, place in stack.tools.items():
        assert deployable(catalog.tools[tool_id])[0] and place.server in stack.servers
    # Every web address is unique and under the domain; the portal's too.
    hosts = [h for h in (*(stack.fqdn(t, catalog) for t in stack.tools), stack.portal_fqdn()) if h]
    assert len(hosts) == len(set(hosts)) and all(h.endswith("." + stack.domain) for h in hosts)
    # What loaded can be written back and loads the same.
    assert parse_stack(stack.model_dump(), path, catalog) == stack
    # Its secrets: every one the wiring wants, private, and stable on the next render.
    secrets_path = where / "secrets.yml"
    if stack.mail_relay:
        secrets_path.write_text(f"mail_relay:\n  password: {RELAY_PASSWORD}\n")
    wanted = wire(stack, catalog).wanted_secrets()
    secrets = ensure_secrets(stack, secrets_path, wanted)
    assert secrets_path.stat().st_mode & 0o777 == 0o600
    for tool_id, names in wanted["tools"].items():
        assert all(isinstance(v := secrets.data["tools"][tool_id].get(n), str) and len(v) >= 16 for n in names), tool_id
    assert ensure_secrets(stack, secrets_path, wanted).data == secrets.data
    return "loaded"


LOADED_SHARE = 1 / 3


def test_any_stack_file_loads_or_fails_clearly_and_writes_nothing(catalog, tmp_path_factory):
    outcomes: Counter[str] = Counter()

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.one_of(stacks(), stacks(), stacks(), VALUES))  # a quarter of free-form YAML values
    def check(data):
        outcome = load_or_fail(catalog, tmp_path_factory.mktemp("fuzz"), data)
        event(outcome)
        outcomes[outcome] += 1

    check()
    total = sum(outcomes.values())
    assert outcomes["loaded"] >= LOADED_SHARE * total, f"only {outcomes['loaded']} of {total} drawn stacks load"
    assert outcomes["refused"] >= 0.1 * total, f"only {outcomes['refused']} of {total} drawn stacks are refused"
