"""Tools wired to the stack's directory and mail "by configuration only" (their images cannot run here):
the rendered files carry every setting name the catalog cites from upstream, with the wiring's values.

Data-driven: the catalog says which names a tool documents (sso.settings, smtp.settings); the tables
below say which value of the `identity` context each key setting must hold.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.render.bundle import render_server
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, parse_stack
from sovstack.wiring import identity, mail
from sovstack.wiring.wire import wire

DOMAIN = "voisins.example.org"
BASE = {"organisation": "Les Voisins", "domain": DOMAIN, "admin_email": f"admin@{DOMAIN}",
        "servers": {"main": {"address": "203.0.113.10"}}}
RELAY = {"host": "smtp.example.net", "port": 587, "username": "asso@example.net"}

# tool -> {setting name: key of identity.ldap / identity.oidc its value must be}. Every wired tool is
# listed (test_every_wired_tool_has_a_value_table), so a new wiring comes with its checks.
LDAP_VALUES = {
    "hedgedoc": {"CMD_LDAP_URL": "url", "CMD_LDAP_BINDDN": "bind_dn", "CMD_LDAP_BINDCREDENTIALS": "bind_password",
                 "CMD_LDAP_SEARCHBASE": "users_dn"},
    "jitsi-meet": {"LDAP_URL": "url", "LDAP_BINDDN": "bind_dn", "LDAP_BINDPW": "bind_password", "LDAP_BASE": "users_dn"},
    "matrix-synapse": {"uri": "url", "bind_dn": "bind_dn", "bind_password": "bind_password", "base": "users_dn"},
    "nextcloud": {"ldapHost": "host", "ldapPort": "port", "ldapAgentName": "bind_dn",
                  "ldapAgentPassword": "bind_password", "ldapBase": "base_dn", "ldapBaseUsers": "users_dn"},
    "rocketchat": {"LDAP_Host": "host", "LDAP_Port": "port", "LDAP_Authentication_UserDN": "bind_dn",
                   "LDAP_Authentication_Password": "bind_password", "LDAP_BaseDN": "users_dn"},
    "seafile": {"LDAP_SERVER_URL": "url", "LDAP_ADMIN_DN": "bind_dn", "LDAP_ADMIN_PASSWORD": "bind_password",
                "LDAP_BASE_DN": "users_dn"},
    "zulip": {"AUTH_LDAP_SERVER_URI": "url", "AUTH_LDAP_BIND_DN": "bind_dn", "AUTH_LDAP_USER_SEARCH": "users_dn",
              "auth_ldap_bind_password": "bind_password"},
}
OIDC_VALUES = {
    "hedgedoc": {"CMD_OAUTH2_CLIENT_ID": "client_id", "CMD_OAUTH2_CLIENT_SECRET": "client_secret",
                 "CMD_OAUTH2_AUTHORIZATION_URL": "authorization_url", "CMD_OAUTH2_TOKEN_URL": "token_url",
                 "CMD_OAUTH2_USER_PROFILE_URL": "userinfo_url"},
    "matrix-synapse": {"issuer": "issuer", "client_id": "client_id", "client_secret": "client_secret"},
    "nextcloud": {"--clientid": "client_id", "--clientsecret": "client_secret", "--discoveryuri": "discovery_url"},
    "seafile": {"OAUTH_CLIENT_ID": "client_id", "OAUTH_CLIENT_SECRET": "client_secret",
                "OAUTH_AUTHORIZATION_URL": "authorization_url", "OAUTH_TOKEN_URL": "token_url",
                "OAUTH_USER_INFO_URL": "userinfo_url"},
    "zulip": {"oidc_url": "issuer", "client_id": "client_id", "social_auth_oidc_secret": "client_secret"},
}
# Directories to test each protocol against, and why one cannot pass yet (strict: passing is news).
PROVIDERS = {"ldap": ["openldap", "lldap"], "oidc": ["keycloak", "authentik"]}
PENDING_PROVIDER: dict[str, str] = {}
# Tools whose smtp.method is env/config-file but whose mail settings are not rendered, and why.
MAIL_NOT_RENDERED = {
    "kanidm": "Kanidm sends mail through a separate mail-sender program that needs a service-account token; "
              "its docs page is a draft (deploy note)",
}
# Other owners' tools whose mail settings do not pass yet, by (tool, route); strict, so a fix shows.
MAIL_PENDING = {
}
# Other owners' tools whose free LDAP/OIDC login is neither wired nor explained (sso.not_wired) yet.
LOGIN_PENDING = {
}


def _catalog():
    return load_catalog()


CATALOG = _catalog()
DEPLOYABLE = sorted(t for t, tool in CATALOG.tools.items() if deployable(tool)[0])
# Compose tools wired by configuration only (the Debian-package tools are proven end to end on servers).
WIRED = [(t, p) for t in DEPLOYABLE if CATALOG.tools[t].deploy.how == "compose" for p in CATALOG.tools[t].deploy.wires]
MAILERS = [t for t in DEPLOYABLE if CATALOG.tools[t].smtp.method in ("env", "config-file")]


@pytest.fixture
def rendered(catalog, tmp_path):
    """(tools, relay) -> (bundle, stack, secrets). The provider's templates see `identity_clients`, every
    wired tool's client and secret (identity.clients), only through the context render gives them."""
    def make(tools: list[str], relay: bool = False):
        data = {**BASE, "tools": {t: {"server": "main"} for t in tools}}
        if relay:
            data["mail_relay"] = RELAY
        stack = parse_stack(data, "sovstack.yml", catalog)
        path = tmp_path / f"secrets-{'-'.join(tools)}-{relay}.yml"
        path.write_text("mail_relay:\n  password: relay-password-123456\n")
        wired = wire(stack, catalog)
        secrets = ensure_secrets(stack, path, wired.wanted_secrets())
        return render_server(wired, secrets, "main", tmp_path / "build"), stack, secrets
    return make


def tool_files(bundle, tool_id: str) -> dict[str, str]:
    """Everything rendered for one tool: its compose project, host files named after it, its step scripts."""
    found = {}
    for entry in bundle.manifest["files"]:
        dest = entry["dest"]
        if (f"/apps/{tool_id}/" in dest or re.search(rf"/steps/\d+-{re.escape(tool_id)}\.sh$", dest)
                or (f"/{tool_id}" in dest and not dest.startswith("/srv/sovstack/apps/"))):
            found[dest] = bundle.files[dest].decode()
    return found


def name_pattern(name: str) -> re.Pattern:
    """A documented name as it appears in a file: whole, though it may follow a prefix like SETTING_ or
    OVERWRITE_SETTING_; a dotted YAML path (email.smtp_host) is matched by its last key."""
    last = name.rsplit(".", 1)[-1] if name[:1].isalpha() and "." in name and "/" not in name else name
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(last)}(?![A-Za-z0-9_])")


def has_name(files: dict[str, str], name: str) -> bool:
    return any(name_pattern(name).search(text) for text in files.values())


def holds_value(files: dict[str, str], name: str, value: str, names: list[str]) -> bool:
    """Some occurrence of `name` is followed by `value` before the next documented name or the end of
    the line (or on the next line, for a YAML key that opens a block), directly or through an environment
    variable that a rendered file defines (NAME=value)."""
    value = str(value)
    others = [name_pattern(n) for n in names if n != name]
    defined = {m.group(1): m.group(2) for text in files.values()
               for m in re.finditer(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.MULTILINE)}
    for text in files.values():
        lines = text.splitlines()
        for number, line in enumerate(lines):
            for found in name_pattern(name).finditer(line):
                rest = line[found.end():]
                if not rest.strip(" \"'") or rest.rstrip().endswith(":"):
                    rest += " " + (lines[number + 1] if number + 1 < len(lines) else "")
                cut = min((m.start() for p in others if (m := p.search(rest))), default=len(rest))
                segment = rest[:cut]
                if value in segment or value.rstrip("/") in segment:
                    return True
                if any(defined.get(token) == value for token in re.findall(r"[A-Z][A-Z0-9_]{3,}", segment)):
                    return True
    return False


def secret_files(bundle, files: dict[str, str], secret: str) -> list[dict]:
    return [e for e in bundle.manifest["files"] if e["dest"] in files and secret in files[e["dest"]]]


class TaggedLoader(yaml.SafeLoader):
    """Reads YAML with application tags (authentik's !Env, !Find...) as plain values."""


TaggedLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def assert_yaml_parses(files: dict[str, str]) -> None:
    for dest, text in files.items():
        if dest.endswith((".yml", ".yaml")):
            yaml.load(text, Loader=TaggedLoader)  # raises on a broken file


def extra_hosts(files: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for dest, text in files.items():
        if dest.endswith("/compose.yml"):
            for service in yaml.safe_load(text)["services"].values():
                found.update(service.get("extra_hosts", []))
    return found


def ssha_matches(hashed: str, password: str) -> bool:
    """An RFC 2307 {SSHA} value (slapd's userPassword) checked against the password it should hold."""
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    return hashed.startswith("{SSHA}") and hashlib.sha1(password.encode() + raw[20:]).digest() == raw[:20]


def keycloak_secret_json(env: str) -> re.Pattern:
    """kcadm gets a client's secret as JSON on stdin (never -s secret=..., an argument ps shows): the
    container's shell escapes the env variable into p and printf (a builtin) writes {"secret": p}."""
    return re.compile(r'p=\$\{' + env + r'//[^;]*; p=\$\{p//[^;]*; printf "\{\\"secret\\":\\"%s\\"\}" "\$p" \|')


def provider_registers(files: dict[str, str], provider: str, tool_id: str, secret: str, values: dict) -> bool:
    """The provider's own files declare `tool_id` as a client holding `secret` (each provider its way:
    Keycloak's kcadm step and env file, authentik's blueprint and env file, lldap's bootstrap account,
    slapd's service entry with a hash of the password)."""
    text = "\n".join(files.values())
    env = "SOVSTACK_SECRET_" + tool_id.upper().replace("-", "_")  # the provider's env variable for it
    if provider == "keycloak":
        return f"clientId={tool_id}" in text and bool(keycloak_secret_json(env).search(text)) and f"{env}={secret}" in text
    if provider == "authentik":
        return f"client_id: {tool_id}" in text and f"!Env {env}" in text and f"{env}={secret}" in text
    if provider == "lldap":
        accounts = [json.loads(line) for dest, body in files.items() if dest.endswith("/services.json")
                    for line in body.splitlines() if line.strip()]
        return any(a["id"] == tool_id and a["password"] == secret for a in accounts)
    if provider == "openldap":
        entries = [block for body in files.values() for block in body.split("\n\n")
                   if f"dn: {values['bind_dn']}\n" in block]
        return any(ssha_matches(m.group(1), secret)
                   for block in entries for m in re.finditer(r"^userPassword: (\S+)$", block, re.MULTILINE))
    raise AssertionError(f"no check for provider {provider}: add one to provider_registers")


def wiring_cases():
    for tool_id, protocol in WIRED:
        for provider in PROVIDERS[protocol]:
            marks = [pytest.mark.xfail(strict=True, reason=PENDING_PROVIDER[provider])] \
                if provider in PENDING_PROVIDER else []
            yield pytest.param(tool_id, protocol, provider, id=f"{tool_id}-{protocol}-{provider}", marks=marks)


@pytest.mark.parametrize("tool_id,protocol,provider", list(wiring_cases()))
def test_a_wired_tool_renders_its_documented_login_settings(catalog, rendered, tool_id, protocol, provider):
    bundle, stack, secrets = rendered([tool_id, provider])
    identity_ctx = identity.context(wire(stack, catalog), tool_id, secrets.for_tool(tool_id))
    assert identity_ctx is not None and identity_ctx["protocol"] == protocol, (tool_id, provider)
    values = identity_ctx[protocol]
    files = tool_files(bundle, tool_id)
    assert_yaml_parses(files)
    names = catalog.tools[tool_id].sso.settings[protocol].names
    missing = [n for n in names if not has_name(files, n)]
    assert not missing, f"{tool_id}: documented {protocol} settings not rendered: {missing}"
    table = (LDAP_VALUES if protocol == "ldap" else OIDC_VALUES)[tool_id]
    wrong = [n for n, key in table.items() if not holds_value(files, n, values[key], names)]
    assert not wrong, f"{tool_id}: these settings do not hold the wiring's value: {wrong}"
    # The secret lives only in private files the tool reads, never in compose.yml or a step script.
    secret = values["bind_password" if protocol == "ldap" else "client_secret"]
    holders = secret_files(bundle, files, secret)
    assert holders, f"{tool_id}: its {protocol} secret is rendered nowhere"
    for entry in holders:
        assert entry["mode"] in ("0600", "0640") and entry["secret"], entry["dest"]
        assert not entry["dest"].endswith("/compose.yml") and "/steps/" not in entry["dest"], entry["dest"]
    # Its containers reach the directory (LDAP) or the provider (OIDC) through Docker's gateway.
    expected = ("host.docker.internal:host-gateway" if protocol == "ldap"
                else f"{stack.fqdn(provider, catalog)}:host-gateway")
    assert expected in extra_hosts(files), tool_id
    # And the provider, rendered by the same render call, knows this tool as a client with the same
    # secret: a login wired on one side only fails at the first member's login.
    assert provider_registers(tool_files(bundle, provider), provider, tool_id, secret, values), (tool_id, provider)


def test_every_wired_tool_has_a_value_table_and_documented_names(catalog):
    for tool_id, protocol in WIRED:
        sso = catalog.tools[tool_id].sso
        assert protocol in sso.free(), (tool_id, protocol)
        assert protocol in sso.settings, f"{tool_id}: deploy.wires has {protocol} but sso.settings does not"
        assert tool_id in (LDAP_VALUES if protocol == "ldap" else OIDC_VALUES), (tool_id, protocol)
        assert set((LDAP_VALUES if protocol == "ldap" else OIDC_VALUES)[tool_id]) <= set(sso.settings[protocol].names)


def login_cases():
    for tool_id in DEPLOYABLE:
        if "identity" not in CATALOG.tools[tool_id].categories:
            marks = [pytest.mark.xfail(strict=True, reason=LOGIN_PENDING[tool_id])] if tool_id in LOGIN_PENDING else []
            yield pytest.param(tool_id, id=tool_id, marks=marks)


@pytest.mark.parametrize("tool_id", list(login_cases()))
def test_a_free_login_is_wired_or_explained(catalog, tool_id):
    """Every LDAP/OIDC login a tool's free edition has is either wired or comes with a reason."""
    tool = catalog.tools[tool_id]
    claimed = {p for p in tool.sso.free() if p in ("ldap", "oidc")}
    unwired = claimed - set(tool.deploy.wires)
    if unwired:
        assert tool.sso.not_wired and len(tool.sso.not_wired) > 40, f"{tool_id}: {sorted(unwired)} neither wired nor explained"
    companions = tool.requires_tools + [b for b in tool.addon_for if deployable(catalog.tools[b])[0]][:1]
    for provider in ("openldap", "lldap", "keycloak", "authentik", "kanidm"):
        tools = {t: {"server": "main"} for t in [tool_id, provider, *companions]}
        stack = parse_stack({**BASE, "tools": tools}, "sovstack.yml", catalog)
        wired = wire(stack, catalog).tools[tool_id]
        protocol, why = wired.identity, wired.identity_why
        assert protocol is not None or len(why) > 20, (tool_id, provider)


def test_each_provider_serves_or_explains_what_it_speaks(catalog):
    for tool_id in DEPLOYABLE:
        tool = catalog.tools[tool_id]
        if "identity" not in tool.categories:
            continue
        for protocol in tool.identity_provides:
            assert protocol in identity.served(catalog, tool_id) or protocol in tool.deploy.not_served, \
                (tool_id, protocol)


@pytest.mark.parametrize("provider", ["openldap", "lldap"])
def test_ldap_context_follows_the_directory_layout(catalog, provider):
    stack = parse_stack({**BASE, "tools": {"hedgedoc": {"server": "main"}, provider: {"server": "main"}}},
                        "sovstack.yml", catalog)
    ldap = identity.context(wire(stack, catalog), "hedgedoc", {"ldap_bind_password": "pw-1234567890"})["ldap"]
    layout = catalog.tools[provider].deploy.directory
    base = "dc=voisins,dc=example,dc=org"
    assert ldap["bind_dn"] == layout.service_dn.format(tool="hedgedoc", base=base)
    assert ldap["port"] == layout.port and ldap["url"].endswith(f":{layout.port}")
    assert ldap["host_url"] == f"ldap://127.0.0.1:{layout.port}"
    assert ldap["users_dn"] == f"{layout.people},{base}"
    assert ldap["user_filter"].count("(") == ldap["user_filter"].count(")")
    assert "(uid={username})" in ldap["user_filter"] and ldap["user_object_filter"] in ldap["user_filter"]


def test_lldap_serves_ldap_where_the_wiring_says_and_gets_a_service_account_per_tool(catalog, rendered):
    bundle, _, secrets = rendered(["lldap", "hedgedoc", "nextcloud", "matrix-synapse"])
    files = tool_files(bundle, "lldap")
    service = yaml.safe_load(files["/srv/sovstack/apps/lldap/compose.yml"])["services"]["lldap"]
    # Host network: LDAP on the port the wiring gives tools, the web page on loopback only, nothing published.
    env = service["environment"]
    assert service["network_mode"] == "host" and "ports" not in service
    assert int(env["LLDAP_LDAP_PORT"]) == catalog.tools["lldap"].deploy.directory.port
    assert env["LLDAP_HTTP_HOST"] == "127.0.0.1" and int(env["LLDAP_HTTP_PORT"]) == catalog.tools["lldap"].deploy.web_port
    accounts = [yaml.safe_load(line) for line in
                files["/srv/sovstack/apps/lldap/bootstrap/user-configs/services.json"].splitlines() if line.strip()]
    assert sorted(a["id"] for a in accounts) == ["hedgedoc", "matrix-synapse", "nextcloud"]
    for account in accounts:
        assert account["password"] == secrets.for_tool(account["id"])["ldap_bind_password"]
        assert account["groups"] == ["lldap_strict_readonly"]
    entry = next(e for e in bundle.manifest["files"] if e["dest"].endswith("services.json"))
    assert entry["mode"] == "0600"
    assert any("bootstrap.sh" in text for dest, text in files.items() if "/steps/" in dest)


def test_keycloak_registers_one_client_per_wired_tool(catalog, rendered):
    bundle, stack, secrets = rendered(["keycloak", "hedgedoc", "nextcloud", "zulip"])
    files = tool_files(bundle, "keycloak")
    step = next(text for dest, text in files.items() if "/steps/" in dest and "kcadm" in text and "clientId" in text)
    env = files["/srv/sovstack/apps/keycloak/app.env"]
    for client in identity.clients(wire(stack, catalog), secrets.data["tools"]):
        assert f"clientId={client['client_id']}" in step
        for uri in client["redirect_uris"]:
            assert uri in step and uri.startswith(f"https://{stack.fqdn(client['tool'], catalog)}/")
        assert keycloak_secret_json(client["env"]).search(step) and client["secret"] not in step
        assert f"{client['env']}={secrets.for_tool(client['tool'])['oidc_client_secret']}" in env


def test_authentik_blueprint_declares_one_application_per_wired_tool(catalog, rendered):
    bundle, stack, secrets = rendered(["authentik", "hedgedoc", "nextcloud"])
    files = tool_files(bundle, "authentik")
    blueprint = files["/srv/sovstack/apps/authentik/blueprints/sovstack-clients.yaml"]
    clients = identity.clients(wire(stack, catalog), secrets.data["tools"])
    assert [c["tool"] for c in clients] == ["hedgedoc", "nextcloud"]
    for client in clients:
        assert f"client_id: {client['client_id']}" in blueprint and f"!Env {client['env']}" in blueprint
        assert all(f"url: {uri}" in blueprint for uri in client["redirect_uris"])
        assert client["secret"] not in blueprint
        assert f"{client['env']}={client['secret']}" in files["/srv/sovstack/apps/authentik/app.env"]


def mail_cases():
    for tool_id in MAILERS:
        if tool_id in MAIL_NOT_RENDERED:
            continue
        for route in ("self-hosted", "relay"):
            pending = MAIL_PENDING.get((tool_id, route))
            marks = [pytest.mark.xfail(strict=True, reason=pending)] if pending else []
            yield pytest.param(tool_id, route, id=f"{tool_id}-{route}", marks=marks)


@pytest.mark.parametrize("tool_id,route", list(mail_cases()))
def test_a_mail_sending_tool_renders_its_documented_smtp_settings(catalog, rendered, tool_id, route):
    tools = [tool_id] + [b for b in catalog.tools[tool_id].addon_for if deployable(catalog.tools[b])[0]][:1]
    tools += catalog.tools[tool_id].requires_tools
    bundle, stack, secrets = rendered(tools + (["postfix-dovecot"] if route == "self-hosted" else []),
                                      relay=route == "relay")
    mail_ctx = mail.context(wire(stack, catalog), tool_id, secrets.for_tool(tool_id), secrets.get("mail_relay.password"))
    assert mail_ctx is not None and mail_ctx["route"] == route
    if route == "self-hosted":
        assert (mail_ctx["host"], mail_ctx["port"], mail_ctx["username"]) == (f"mail.{DOMAIN}", 587, f"{tool_id}@{DOMAIN}")
        assert mail_ctx["password"] == secrets.for_tool(tool_id)["smtp_password"]
    files = tool_files(bundle, tool_id)
    assert_yaml_parses(files)
    names = catalog.tools[tool_id].smtp.settings
    missing = [n for n in names if not has_name(files, n)]
    assert not missing, f"{tool_id}: documented SMTP settings not rendered: {missing}"
    for key in ("host", "port", "username", "password"):
        assert any(holds_value(files, n, mail_ctx[key], names) for n in names), f"{tool_id}: no setting holds the {key}"
    for entry in secret_files(bundle, files, mail_ctx["password"]):
        assert entry["mode"] in ("0600", "0640") and not entry["dest"].endswith("/compose.yml"), entry["dest"]
    composes = [d for d in files if d.endswith("/compose.yml")]
    if route == "self-hosted" and composes:
        # The mail server's certificate names mail.<domain>: containers reach it under that name.
        assert f"mail.{DOMAIN}:host-gateway" in extra_hosts(files), tool_id


def test_the_value_matcher_needs_the_value_next_to_the_name():
    files = {"/a/app.env": "A_URL=ldap://x\nB_DN=cn=y\nC_PASSWORD_REF=$SECRET_VAR\n",
             "/a/secret.env": "SECRET_VAR=s3cret\n"}
    names = ["A_URL", "B_DN", "C_PASSWORD_REF"]
    assert holds_value(files, "A_URL", "ldap://x", names)
    assert not holds_value(files, "A_URL", "cn=y", names)
    assert holds_value(files, "C_PASSWORD_REF", "s3cret", names)
    assert not holds_value(files, "B_DN", "s3cret", names)
    assert not has_name({"/b": "database: x"}, "base") and has_name({"/b": "  base: x"}, "base")
    assert has_name({"/b": "SETTING_AUTH_LDAP_BIND_DN=x"}, "AUTH_LDAP_BIND_DN")
    assert not has_name({"/b": "ldapBaseUsers x"}, "ldapBase")


def test_pending_lists_name_real_tools():
    for table in (PENDING_PROVIDER, MAIL_NOT_RENDERED, LOGIN_PENDING, {t for t, _ in MAIL_PENDING}):
        assert set(table) <= set(CATALOG.tools), table


@pytest.mark.parametrize("tls, same_server, login, trusted", [
    ("internal", True, "oidc", True), ("public", True, "oidc", False), ("internal", False, "oidc", False),
    ("internal", True, "ldap", False)])
def test_synapse_trusts_caddys_own_ca_for_its_openid_provider_only_with_internal_tls(tmp_path, tls, same_server,
                                                                                     login, trusted):
    """With tls: internal, the portal's certificate comes from Caddy's own CA on that server: Synapse fetches
    the provider's keys server-side, so it must trust that CA too (beside Debian's, not instead)."""
    from click.testing import CliRunner

    from sovstack.cli.main import main as cli

    servers = {"main": {"address": "192.0.2.10", "public_ip": "192.0.2.10"},
               "chat": {"address": "192.0.2.11", "public_ip": "192.0.2.11"}}
    tools = {"openldap": {"server": "main"}, "lemonldap-ng": {"server": "main"},
             "matrix-synapse": {"server": "main" if same_server else "chat", "login": login}}
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump({
        "organisation": "Les Voisins", "domain": "voisins.test", "admin_email": "admin@voisins.test", "tls": tls,
        "servers": servers if not same_server else {"main": servers["main"]}, "tools": tools}))
    result = CliRunner().invoke(cli, ["render", "--stack", str(tmp_path / "sovstack.yml")])
    assert result.exit_code == 0, result.output
    server = "main" if same_server else "chat"
    compose = yaml.safe_load((tmp_path / f"build/{server}/files/srv/sovstack/apps/matrix-synapse/compose.yml").read_text())
    synapse = compose["services"]["synapse"]
    mounts = [v for v in synapse["volumes"] if isinstance(v, dict)]
    script = synapse["entrypoint"][-1]
    if not trusted:
        assert not mounts and "SSL_CERT_FILE" not in script
        return
    assert mounts == [{"type": "bind", "source": identity.CADDY_LOCAL_CA, "target": "/config/provider-ca.crt",
                       "read_only": True, "bind": {"create_host_path": False}}]
    bundle = "cat /etc/ssl/certs/ca-certificates.crt /config/provider-ca.crt > /run/ca-certificates.crt;"
    assert bundle in script and script.index(bundle) < script.index("export SSL_CERT_FILE=/run/ca-certificates.crt;") \
        < script.index("exec setpriv")


# Debian-package tools whose login settings are a Python file (Django): setting -> identity.ldap key its
# literal must equal, read with Python's own parser. Their logins are proven on sandbox servers too.
PYTHON_LDAP_VALUES = {
    ("mailman3", "/etc/mailman3/mailman-web.py"): {
        "AUTH_LDAP_SERVER_URI": "host_url", "AUTH_LDAP_BIND_DN": "bind_dn", "AUTH_LDAP_BIND_PASSWORD": "bind_password"},
}


def python_settings(text: str) -> dict[str, ast.expr]:
    """The top-level assignments of a settings file, parsed (a quoting mistake fails here)."""
    return {target.id: node.value for node in ast.parse(text).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


@pytest.mark.parametrize("provider", PROVIDERS["ldap"])
@pytest.mark.parametrize("tool_id,dest", list(PYTHON_LDAP_VALUES))
def test_a_debian_tools_python_settings_log_members_in_through_the_directory(catalog, rendered, tool_id, dest, provider):
    bundle, stack, secrets = rendered([tool_id, provider, *catalog.tools[tool_id].requires_tools])
    ldap = identity.context(wire(stack, catalog), tool_id, secrets.for_tool(tool_id))["ldap"]
    text = bundle.files[dest].decode()
    settings = python_settings(text)
    names = catalog.tools[tool_id].sso.settings["ldap"].names
    assert not [n for n in names if n not in settings], f"{tool_id}: documented names not set in {dest}"
    for name, key in PYTHON_LDAP_VALUES[(tool_id, dest)].items():
        assert ast.literal_eval(settings[name]) == ldap[key], name
    # The directory alone logs people in: no local-password backend behind it.
    assert ast.literal_eval(settings["AUTHENTICATION_BACKENDS"]) == ("django_auth_ldap.backend.LDAPBackend",)
    # LDAPSearch(base, scope, filter): people under the people OU, by uid, with the directory's person filter
    # (service accounts excluded); the member's name is django-auth-ldap's %(user)s, which it escapes.
    search = settings["AUTH_LDAP_USER_SEARCH"]
    assert isinstance(search, ast.Call) and ast.unparse(search.func) == "LDAPSearch"
    base, scope, user_filter = search.args
    assert ast.literal_eval(base) == ldap["users_dn"] and ast.unparse(scope) == "ldap.SCOPE_SUBTREE"
    assert ast.literal_eval(user_filter) == ldap["user_filter"].replace("{username}", "%(user)s")
    assert ast.literal_eval(settings["AUTH_LDAP_USER_ATTR_MAP"]) == {"first_name": ldap["name_attribute"],
                                                                     "email": ldap["mail_attribute"]}
    # No web-only sign-up, and no confirmation mail standing before a directory member's first login.
    assert ast.literal_eval(settings["ACCOUNT_ADAPTER"]) == "django_mailman3.views.user_adapter.DisableSignupAdapter"
    assert ast.literal_eval(settings["ACCOUNT_EMAIL_VERIFICATION"]) == "none"
    # The service account's password: on the tool's side in this private file only (root:www-data 0640),
    # nowhere else rendered but in the directory's own private files (lldap's bootstrap account).
    secret = ldap["bind_password"]
    holders = [e for e in bundle.manifest["files"] if secret in bundle.files[e["dest"]].decode(errors="replace")]
    provider_files = tool_files(bundle, provider)
    assert [e["dest"] for e in holders if e["dest"] not in provider_files] == [dest], holders
    assert all(e["mode"] in ("0600", "0640") and e["secret"] for e in holders), holders
    assert next(e for e in holders if e["dest"] == dest)["group"] == "www-data" and text.count(secret) == 1


def test_without_a_directory_the_web_pages_keep_debians_own_logins(catalog, rendered):
    bundle, _, _ = rendered(["mailman3", "postfix-dovecot"])
    settings = python_settings(bundle.files["/etc/mailman3/mailman-web.py"].decode())
    assert not [n for n in settings if n.startswith("AUTH_LDAP") or n in ("AUTHENTICATION_BACKENDS", "ACCOUNT_ADAPTER")]
