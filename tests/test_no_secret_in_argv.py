"""No secret in any process argument (issue 15): a value from secrets.yml may reach a tool through
stdin, an env file or a 0600 file, never through argv, where every local user reads it in
/proc/*/cmdline. Every deployable tool (with what it needs) and the example stacks are rendered with
generated secrets; each step script line and each compose command/entrypoint/healthcheck is scanned.
Text a step script writes through a here-document is fine: it is stdin, not an argument.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.render.bundle import render_server
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, load_stack, parse_stack
from sovstack.wiring.wire import wire

ROOT = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()
DEPLOYABLE = sorted(t for t, tool in CATALOG.tools.items() if deployable(tool)[0])
BASE = {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
        "servers": {"main": {"address": "203.0.113.10"}},
        "mail_relay": {"host": "smtp.example.net", "port": 587, "username": "asso@example.net"}}
EXAMPLES = sorted((ROOT / "examples" / "stacks").rglob("*.yml"))
# Tools whose rendered commands still carry a secret, and why (strict: a fix shows).
PENDING: dict[str, str] = {}
PENDING_EXAMPLES: dict[str, str] = {}

HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def argv_lines(script: str) -> list[str]:
    """The lines of a shell script that become commands: here-document bodies left out."""
    lines, end = [], None
    for line in script.splitlines():
        if end is not None:
            if line.strip() == end:
                end = None
            continue
        lines.append(line)
        if (found := HEREDOC.search(line)):
            end = found.group(2)
    return lines


def compose_argv(text: str) -> list[str]:
    found = []
    for name, service in (yaml.safe_load(text).get("services") or {}).items():
        for key in ("command", "entrypoint"):
            if service.get(key) is not None:
                found.append(f"{name} {key}: {service[key]}")
        if (service.get("healthcheck") or {}).get("test") is not None:
            found.append(f"{name} healthcheck: {service['healthcheck']['test']}")
    return found


ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.MULTILINE)


def secret_variables(bundle, values: list[str]) -> set[str]:
    """Names that env files bind to a secret: `$NAME` in a command expands to an argument too."""
    return {m.group(1) for dest, content in bundle.files.items() if dest.endswith(".env")
            for m in ENV_LINE.finditer(content.decode(errors="replace"))
            if m.group(2).strip("\"'") in values}


BUILTINS = {"printf", "echo", "test", "[", "read", "export"}


def expands_secret(line: str, names: set[str]) -> str | None:
    """A `$NAME` of a secret variable used as an argument. Fine: an environment assignment
    (`NAME2="$NAME" tool`) and an argument of a shell builtin (`printf %s "$NAME" > file`), which
    runs in the shell itself, so no process gets it."""
    for found in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", line):
        if found.group(1) not in names:
            continue
        before = line[:found.start()].rstrip("\"'$")
        if re.search(r"""(^|[\s;&|('"])[A-Za-z_][A-Za-z0-9_]*=$""", before):
            continue
        command = re.split(r"&&|\|\||[;|(`]|\$\(|\bthen\b|\bdo\b", before)[-1].split()
        while command and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", command[0]):
            command.pop(0)
        if command and command[0].strip("\"'") in BUILTINS:
            continue
        return found.group(0)
    return None


def leaks(bundle, values: list[str]) -> list[str]:
    found = []
    names = secret_variables(bundle, values)
    for dest, content in bundle.files.items():
        text = content.decode(errors="replace")
        if "/steps/" in dest or dest.startswith("/srv/sovstack/bin/"):
            candidates = [f"{dest}: {line.strip()}" for line in argv_lines(text)]
        elif dest.endswith("/compose.yml"):
            candidates = [f"{dest}: {line}" for line in compose_argv(text)]
        else:
            continue
        for line in candidates:
            hit = next((v for v in values if v in line), None) or expands_secret(line, names)
            if hit:
                # Never print the secret itself, only where it is.
                found.append(line.replace(hit, "<secret>"))
    return found


def render(stack, tmp_path: Path, server: str = "main"):
    wired = wire(stack, CATALOG)
    tmp_path.mkdir(parents=True, exist_ok=True)
    if stack.mail_relay:
        (tmp_path / "secrets.yml").write_text("mail_relay:\n  password: relay-password-123456\n")
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wired.wanted_secrets())
    return render_server(wired, secrets, server, tmp_path / "build"), secrets


def tool_cases():
    for tool_id in DEPLOYABLE:
        marks = [pytest.mark.xfail(strict=True, reason=PENDING[tool_id])] if tool_id in PENDING else []
        yield pytest.param(tool_id, id=tool_id, marks=marks)


def check_tool(tool_id, tmp_path, identity):
    tool = CATALOG.tools[tool_id]
    # With what it needs, the host it plugs into, and a directory (its bind password is a secret too)
    # or an OpenID provider (the client secret is one).
    companions = tool.requires_tools + [b for b in tool.addon_for if deployable(CATALOG.tools[b])[0]][:1]
    if "identity" not in tool.categories and identity["wire"] in tool.deploy.wires:
        companions.append(identity["tool"])
    tools = {t: {"server": "main"} for t in [tool_id, *companions]}
    stack = parse_stack({**BASE, "tools": tools}, "sovstack.yml", CATALOG)
    bundle, secrets = render(stack, tmp_path)
    assert not leaks(bundle, secrets.values()), "\n".join(leaks(bundle, secrets.values()))


@pytest.mark.parametrize("tool_id", list(tool_cases()))
def test_no_secret_reaches_a_process_argument(tool_id, tmp_path):
    check_tool(tool_id, tmp_path, {"wire": "ldap", "tool": "openldap"})


OIDC_CLIENTS = [t for t in DEPLOYABLE if "oidc" in CATALOG.tools[t].deploy.wires
                and "identity" not in CATALOG.tools[t].categories]


@pytest.mark.parametrize("tool_id", OIDC_CLIENTS)
def test_no_secret_reaches_a_process_argument_with_an_openid_provider(tool_id, tmp_path):
    check_tool(tool_id, tmp_path, {"wire": "oidc", "tool": "keycloak"})


def example_cases():
    for path in EXAMPLES:
        name = str(path.relative_to(ROOT / "examples" / "stacks"))
        marks = [pytest.mark.xfail(strict=True, reason=PENDING_EXAMPLES[name])] if name in PENDING_EXAMPLES else []
        yield pytest.param(path, id=name, marks=marks)


@pytest.mark.parametrize("path", list(example_cases()))
def test_no_secret_reaches_a_process_argument_in_the_example_stacks(path, tmp_path):
    stack = load_stack(path, CATALOG)
    for server in stack.servers:
        bundle, secrets = render(stack, tmp_path / server, server)
        assert not leaks(bundle, secrets.values()), "\n".join(leaks(bundle, secrets.values()))


def test_the_scan_sees_arguments_and_skips_here_documents():
    script = "cat > /f <<'EOF'\nhidden-secret-value\nEOF\ntool --pass visible-secret-value\n"
    assert argv_lines(script) == ["cat > /f <<'EOF'", "tool --pass visible-secret-value"]
    assert expands_secret('sh -c \'mariadb -p"$DB_PASSWORD"\'', {"DB_PASSWORD"}) == "$DB_PASSWORD"
    assert expands_secret('sh -c \'MYSQL_PWD="$DB_PASSWORD" mariadb\'', {"DB_PASSWORD"}) is None
    assert expands_secret('redis-server --requirepass "$$DB_PASSWORD"', {"DB_PASSWORD"}) == "$DB_PASSWORD"
    assert expands_secret('umask 077 && printf %s "$$DB_PASSWORD" > f && exec tool f', {"DB_PASSWORD"}) is None
