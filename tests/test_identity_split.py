"""The identity wiring split per protocol: a stack may hold the directory (OpenLDAP, LDAP for the tools
that speak it) and an OpenID Connect portal over it (LemonLDAP::NG) at once.

Data-driven: which identity tool and protocol each tool gets (LDAP first; OpenID Connect where the stack
file's per-tool `login: oidc` asks for it and the portal serves it), that the decision sees the same rule
(catalog.login_route), and that both sides of every wire are rendered with the same secret: the portal's
configuration declares each OIDC client, the directory holds the portal's own read-only account.
"""

from __future__ import annotations

import json
import re

import pytest

from sovstack.catalog import load_catalog, login_order, login_route
from sovstack.render.bundle import render_server
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring import identity
from sovstack.wiring.wire import wire
from tests.test_wiring_config import BASE, OIDC_VALUES, has_name, holds_value, ssha_matches, tool_files

CATALOG = load_catalog()
PORTAL = "lemonldap-ng"
SPLIT = ["openldap", PORTAL]
# Tools that speak OpenID Connect and whose templates render it (deploy.wires): each can be the portal's client.
OIDC_TOOLS = sorted(t for t, tool in CATALOG.tools.items() if tool.deploy and "oidc" in tool.deploy.wires)
CONF = "/etc/sovstack/lemonldap-ng/lmConf.json"


def render(tmp_path, tools: dict[str, dict]):
    data = {**BASE, "tools": {t: {"server": "main", **extra} for t, extra in tools.items()}}
    stack = parse_stack(data, "sovstack.yml", CATALOG)
    wired = wire(stack, CATALOG)
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wired.wanted_secrets())
    return render_server(wired, secrets, "main", tmp_path / "build"), wired, secrets


# (tools of the stack with their stack-file extras) -> {tool: (protocol, identity tool)}
CASES = [
    ({"openldap": {}, PORTAL: {}, "radicale": {}, "matrix-synapse": {}},
     {"radicale": ("ldap", "openldap"), "matrix-synapse": ("ldap", "openldap"), PORTAL: ("ldap", "openldap"),
      "openldap": (None, None)}),
    ({"openldap": {}, PORTAL: {}, "radicale": {"login": "oidc"}, "matrix-synapse": {"login": "oidc"}},
     # Radicale speaks no OpenID Connect: the preference cannot be met, it keeps LDAP.
     {"radicale": ("ldap", "openldap"), "matrix-synapse": ("oidc", PORTAL), PORTAL: ("ldap", "openldap")}),
    ({"openldap": {}, "matrix-synapse": {"login": "oidc"}},
     # No portal: OpenLDAP serves LDAP only, so the preference falls back to it.
     {"matrix-synapse": ("ldap", "openldap")}),
    ({"keycloak": {}, "matrix-synapse": {}},
     {"matrix-synapse": ("oidc", "keycloak")}),
]


@pytest.mark.parametrize("tools,expected", CASES, ids=[",".join(f"{t}{'=' + e['login'] if e else ''}" for t, e in c[0].items())
                                                       for c in CASES])
def test_each_tool_logs_in_to_the_directory_or_the_portal_by_the_shared_rule(tools, expected):
    stack = parse_stack({**BASE, "tools": {t: {"server": "main", **e} for t, e in tools.items()}}, "sovstack.yml", CATALOG)
    w = wire(stack, CATALOG)
    got = {t: (w.tools[t].identity, w.tools[t].identity_by) for t in expected}
    assert got == expected
    # The members stay in the directory whatever else the stack holds (`sovstack members` manages them there).
    assert w.provider == ("keycloak" if "keycloak" in tools else "openldap")
    # The decision asks the same rule with the same providers (catalog.login_route, recommend/decide.py).
    for tool_id, (protocol, by) in expected.items():
        prefer = tools[tool_id].get("login") if tools[tool_id] else None
        assert login_route(CATALOG, login_order(CATALOG, w.providers), tool_id, None, prefer)[:2] == (protocol, by)


def test_the_portal_brings_the_directory_and_is_ordered_after_it():
    assert CATALOG.tools[PORTAL].requires_tools == ["openldap"]
    assert login_order(CATALOG, [PORTAL, "openldap"]) == ["openldap", PORTAL]


@pytest.mark.parametrize("tool_id", OIDC_TOOLS)
def test_an_oidc_tool_is_a_client_of_the_portal_with_the_secret_it_renders(tmp_path, tool_id):
    tools = {t: {} for t in [*SPLIT, *CATALOG.tools[tool_id].requires_tools]}
    tools[tool_id] = {"login": "oidc"}
    bundle, w, secrets = render(tmp_path, tools)
    ctx = identity.context(w, tool_id, secrets.for_tool(tool_id))
    assert ctx["protocol"] == "oidc" and ctx["tool"] == PORTAL
    fqdn = w.stack.fqdn(PORTAL, CATALOG)
    assert ctx["oidc"]["issuer"] == f"https://{fqdn}/"
    assert ctx["oidc"]["token_url"] == f"https://{fqdn}/oauth2/token"
    files = tool_files(bundle, tool_id)
    names = CATALOG.tools[tool_id].sso.settings["oidc"].names
    assert [n for n in names if not has_name(files, n)] == []
    assert [n for n, key in OIDC_VALUES[tool_id].items() if not holds_value(files, n, ctx["oidc"][key], names)] == []
    secret = secrets.for_tool(tool_id)["oidc_client_secret"]
    conf = json.loads(bundle.files[CONF])
    client = conf["oidcRPMetaDataOptions"][tool_id]
    assert client["oidcRPMetaDataOptionsClientSecret"] == secret
    assert client["oidcRPMetaDataOptionsClientID"] == ctx["oidc"]["client_id"] == tool_id
    expected_uris = [f"https://{w.stack.fqdn(tool_id, CATALOG)}{p}"
                     for p in CATALOG.tools[tool_id].sso.settings["oidc"].redirect_paths]
    assert client["oidcRPMetaDataOptionsRedirectUris"].split() == expected_uris
    assert conf["oidcRPMetaDataExportedVars"][tool_id]["preferred_username"] == "uid"
    # Claims in the ID token too: Synapse and others read them there when the scope has openid.
    assert client["oidcRPMetaDataOptionsIDTokenForceClaims"] == 1
    # The client secrets are in a root-only file, never in a step script or a world-readable file.
    entry = next(e for e in bundle.manifest["files"] if e["dest"] == CONF)
    assert entry["mode"] == "0600" and entry["secret"]


def test_the_portal_replaces_the_demo_backend_with_the_directory_and_its_own_read_only_account(tmp_path):
    bundle, w, secrets = render(tmp_path, {t: {} for t in SPLIT})
    conf = json.loads(bundle.files[CONF])
    ldap = identity.context(w, PORTAL, secrets.for_tool(PORTAL))["ldap"]
    assert (conf["authentication"], conf["userDB"], conf["passwordDB"]) == ("LDAP", "Same", "Null")
    assert "Demo" not in json.dumps(conf) and "timelords" not in json.dumps(conf)
    assert conf["ldapServer"] == "ldap://127.0.0.1:389" and conf["ldapBase"] == ldap["users_dn"]
    # The same member filter as every other tool (service accounts cannot log in), in the portal's syntax.
    assert conf["AuthLDAPFilter"] == ldap["user_filter"].replace("{username}", "$user")
    assert conf["captcha_login_enabled"] == 0 and conf["portalDisplayRegister"] == 0
    assert conf["oidcRPMetaDataOptions"] == {}  # no tool asked for OpenID Connect: no client
    password = secrets.for_tool(PORTAL)["ldap_bind_password"]
    assert conf["managerDn"] == ldap["bind_dn"] and conf["managerPassword"] == password
    # ... and the directory holds that account with the same password (as its {SSHA} hash).
    services = bundle.files["/etc/sovstack/openldap/services.ldif"].decode()
    block = next(b for b in services.split("\n\n") if f"dn: {ldap['bind_dn']}\n" in b)
    assert ssha_matches(re.search(r"^userPassword: (\S+)$", block, re.MULTILINE).group(1), password)


def test_a_login_preference_the_stack_file_cannot_hold_is_refused(tmp_path):
    from sovstack.errors import UserError

    with pytest.raises(UserError) as caught:
        parse_stack({**BASE, "tools": {"openldap": {"server": "main"},
                                       "radicale": {"server": "main", "login": "saml"}}}, "sovstack.yml", CATALOG)
    assert "login" in str(caught.value)
