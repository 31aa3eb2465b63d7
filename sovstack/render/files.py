"""The files of one server's bundle: rendered from templates, each with its manifest entry (owner,
mode, checksum, what a change restarts); and writing bundles and inventories to disk."""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from sovstack.errors import CatalogError
from sovstack.layout import ROOT
from sovstack.render import envfile
from sovstack.stack.passwords import ssha
from sovstack.stack.stackfile import Stack
from sovstack.yamlio import dump_yaml

# A post-deploy step as a script: `sh script --check` says whether it is done (exit 0), `sh script`
# runs it unless done and prints "changed" when it ran. Both engines only call it.
STEP_SCRIPT = """#!/bin/sh
# sovstack step: {name}
set -e
done_already() {{
{unless}
}}
if done_already >/dev/null 2>&1; then exit 0; fi
[ "${{1:-}}" = --check ] && exit 1
{run}
echo changed
"""
# Host files whose change restarts or reloads a base service.
BASE_NOTIFY = [("/etc/caddy/", "reload:caddy"), ("/etc/ssh/", "reload:ssh"), ("/etc/fail2ban/", "restart:fail2ban"),
               ("/etc/docker/", "restart:docker"), ("/etc/sysctl.d/", "restart:systemd-sysctl")]


def php_string(value: object) -> str:
    """A single-quoted PHP string literal: only \\ and ' are special inside it."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_string(value: object) -> str:
    """A standard SQL string literal (PostgreSQL, standard_conforming_strings on: its default since 9.1):
    the quote doubled, the backslash literal. Not for MariaDB, where a backslash escapes."""
    return "'" + str(value).replace("'", "''") + "'"


def lua_string(value: object) -> str:
    """A double-quoted Lua string literal: \\, " and every control character escaped (\\ddd, decimal)."""
    return '"' + "".join(f"\\{ord(c):03d}" if ord(c) < 32 or ord(c) == 127 else "\\" + c if c in '\\"' else c
                         for c in str(value)) + '"'


def systemd_word(value: object) -> str:
    """One double-quoted word of a systemd unit's command line: C escapes for \\ and ", and $ and % doubled
    (systemd would expand $VAR and %specifiers inside the quotes)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{text}"'


# One quoting filter per target language: a value from the stack file, the answers or the member list
# that lands in a script or a config is written through the filter of that language (tests/test_hostile_values.py).
def ldif_line(value: object, attribute: str) -> str:
    """One LDIF attribute line, base64 so that any name stays intact (RFC 2849)."""
    return f"{attribute}:: {base64.b64encode(str(value).encode()).decode()}"


def dokuwiki_name(value: object) -> str:
    """A user or group name as DokuWiki's ACL file spells it (its auth_nameencode: ASCII punctuation
    as %xx in lowercase hex, other characters as they are)."""
    return re.sub(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]", lambda m: f"%{ord(m.group(0)):x}", str(value))


def radicale_group(value: object) -> str:
    """A group's folder name under Radicale's GROUPS/: its name in base64 (radicale/storage/multifilesystem/
    discover.py). A group id's letters, digits and hyphens never give '/' or '+' (tests/test_groups.py)."""
    return base64.b64encode(str(value).encode()).decode()


FILTERS = {"sh": lambda value: shlex.quote(str(value)), "ldif": ldif_line, "b64": radicale_group, "dokuwiki_name": dokuwiki_name, "php": php_string, "sql": sql_string, "lua": lua_string,
           "systemd": systemd_word,
           # a password slapd checks, written as its {SSHA} hash so the clear value never reaches a command
           "ssha": ssha}


def environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False)
    env.filters.update(FILTERS)
    return env


class Files:
    """The files gathered for one server: dest -> content, and one manifest entry per file."""

    def __init__(self, server: str, templates: Path, secret_values: list[bytes], groups: dict[str, str]):
        self.server = server
        self.templates = templates
        self.env = environment(templates)
        self.secret_values = secret_values  # a file holding one (or a hash of one) is private
        self.groups = groups  # host file -> group of the service that reads it
        self.content: dict[str, bytes] = {}
        self.entries: list[dict[str, Any]] = []

    def add(self, dest: str, content: bytes, notify: list[str]) -> None:
        if dest in self.content:
            raise CatalogError(f"two templates write {dest} on server {self.server!r}",
                            "this is a catalog mistake: report it")
        if dest.startswith(f"{ROOT}/apps/") and dest.endswith(".env"):  # read by Compose: values literal
            content = envfile.literal(content.decode()).encode()
        self.content[dest] = content
        # Env files carry secrets, sometimes encoded (a URL-encoded relay password): always private.
        secret = dest.endswith(".env") or any(value in content for value in self.secret_values)
        mode = "0600" if secret else ("0755" if dest.startswith(f"{ROOT}/bin/") else "0644")
        group = self.groups.get(dest, "root")
        if group != "root":  # private to the service that reads it (secrets, password hashes)
            mode = "0640"
        self.entries.append({"src": "files" + dest, "dest": dest, "owner": "root", "group": group, "mode": mode,
                             "sha256": hashlib.sha256(content).hexdigest(), "secret": secret,
                             "notify": notify or base_notify(dest)})

    def render(self, source: Path, ctx: dict[str, Any]) -> str:
        try:
            return self.env.get_template(source.relative_to(self.templates).as_posix()).render(ctx)
        except jinja2.TemplateError as exc:
            raise CatalogError(f"{source}: cannot render ({exc})", "this is a template mistake: report it") from None

    def render_tree(self, tree: Path, ctx: dict[str, Any], dest_root: str, notify: list[str]) -> None:
        """Every file under `tree` to `dest_root`: *.j2 rendered (without the suffix), the rest copied."""
        if not tree.is_dir():
            return
        for source in sorted(p for p in tree.rglob("*") if p.is_file()):
            name = str(PurePosixPath(dest_root) / source.relative_to(tree).as_posix())
            if source.suffix == ".j2":
                self.add(name[:-3], self.render(source, ctx).encode(), notify)
            else:
                self.add(name, source.read_bytes(), notify)

    def step(self, dest: str, name: str, unless: str, run: str) -> None:
        self.add(dest, STEP_SCRIPT.format(name=name, unless=unless, run=run).encode(), [])


def base_notify(dest: str) -> list[str]:
    for prefix, target in BASE_NOTIFY:
        if dest.startswith(prefix):
            return [target]
    if dest.endswith("firewall.nft") or dest.endswith("sovstack-firewall.service"):
        return ["restart:sovstack-firewall"]
    if dest == "/etc/default/sysstat":
        return ["restart:sysstat"]
    return []


def inventory_data(stack: Stack, out: Path) -> dict[str, Any]:
    hosts = {name: server.ssh_access().ansible(sovstack_bundle=str((out / name).resolve()))
             for name, server in stack.servers.items()}
    return {"all": {"hosts": hosts}}


def write_inventory(stack: Stack, out: Path) -> Path:
    """build/hosts.yml for Ansible and build/inventory.py for pyinfra: the same servers."""
    out.mkdir(parents=True, exist_ok=True)  # no server bundle made it when every need is hosted
    path = out / "hosts.yml"
    path.write_text("# Ansible inventory rendered by sovstack: ansible-playbook -i build/hosts.yml playbooks/site.yml\n"
                    + dump_yaml(inventory_data(stack, out)))
    rows = []
    for name, server in stack.servers.items():
        data = server.ssh_access().pyinfra(sovstack_bundle=str((out / name).resolve()), _sudo=server.ssh_user != "root")
        rows.append(f"    ({name!r}, {data!r}),")
    (out / "inventory.py").write_text("# pyinfra inventory rendered by sovstack.\nservers = [\n" + "\n".join(rows) + "\n]\n")
    return path
