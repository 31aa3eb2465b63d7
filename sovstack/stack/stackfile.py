"""`sovstack.yml`: the stack a techie reads, edits and versions. Validated against the catalog.

Every mistake is reported with the file, the key, the bad value and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sovstack.catalog import Catalog, deployable, describe_validation_error
from sovstack.errors import UserError
from sovstack.layout import ROOT
from sovstack.patterns import EMAIL, LABEL, USERNAME
from sovstack.yamlio import load_yaml

DOMAIN = rf"^({LABEL}\.)+[a-z]{{2,63}}$"
NAME = r"^[a-z][a-z0-9-]{0,30}$"
ORGANISATION_MAX = 100


class Strict(BaseModel):
    """The stack file's models: an unknown key is a mistake, and a loaded stack never changes. A pydantic
    model, unlike the catalog's schema dataclasses (catalog.Strict), which avoid pydantic on `ask`'s warm
    start: the stack file is read only by the provisioning commands, which need pydantic anyway."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Host-key checking off, for throwaway servers (sandboxes) whose host key changes at each rebuild.
UNCHECKED_HOST_KEY = {"StrictHostKeyChecking": "no", "UserKnownHostsFile": "/dev/null"}


def host_key_options(check_host_key: bool) -> list[str]:
    """The ssh -o options for the host key (none when it is checked, OpenSSH's default)."""
    return [] if check_host_key else [a for k, v in UNCHECKED_HOST_KEY.items() for a in ("-o", f"{k}={v}")]


@dataclass(frozen=True)
class SshAccess:
    """How to reach a server over SSH, spelled once for every client: the ssh command line
    (engines/remote.py, engines/sandbox.py), Ansible's and pyinfra's inventories (render/bundle.py)."""

    host: str
    port: int
    user: str
    key: str | None = None  # private key file, ~ expanded; None: the SSH agent / ~/.ssh
    check_host_key: bool = True

    def host_key_options(self) -> list[str]:
        return host_key_options(self.check_host_key)

    def ansible(self, **extra: Any) -> dict[str, Any]:
        host = {"ansible_host": self.host, "ansible_port": self.port, "ansible_user": self.user, **extra}
        if self.key:
            host["ansible_ssh_private_key_file"] = self.key
        if not self.check_host_key:
            host["ansible_ssh_common_args"] = " ".join(self.host_key_options())
        return host

    def pyinfra(self, **extra: Any) -> dict[str, Any]:
        data = {"ssh_hostname": self.host, "ssh_port": self.port, "ssh_user": self.user, **extra}
        if self.key:
            data["ssh_key"] = self.key
        if not self.check_host_key:
            data.update(ssh_strict_host_key_checking=UNCHECKED_HOST_KEY["StrictHostKeyChecking"],
                        ssh_known_hosts_file=UNCHECKED_HOST_KEY["UserKnownHostsFile"])
        return data


class Server(Strict):
    address: str = Field(min_length=1)  # IP address or host name SSH reaches
    ssh_user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_-]*$")
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_key: str | None = None  # private key file; default: the SSH agent / ~/.ssh
    public_ip: str | None = None  # the address DNS points at, when SSH goes elsewhere (NAT, tunnel)
    check_host_key: bool = True  # false only for throwaway servers (sandboxes) whose host key changes

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.:-]+", value):
            raise ValueError("must be an IP address or a host name")
        return value

    def ssh_access(self) -> SshAccess:
        return SshAccess(self.address, self.ssh_port, self.ssh_user,
                         str(Path(self.ssh_key).expanduser()) if self.ssh_key else None, self.check_host_key)


class Placement(Strict):
    server: str
    subdomain: str | None = Field(default=None, pattern=rf"^{LABEL}$")
    # How members log in to this tool when the stack offers both (an LDAP directory and an OpenID Connect
    # portal such as LemonLDAP::NG): None takes LDAP where the tool speaks it (catalog.login_route).
    login: Literal["ldap", "oidc"] | None = None


class MailRelay(Strict):
    host: str = Field(pattern=r"^[A-Za-z0-9.-]+$")
    port: int = Field(default=587, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f\x7f]+$")  # no space, no control
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_domain: str | None = Field(default=None, pattern=DOMAIN, max_length=200)  # defaults to the stack's domain
    # Who tools send as: "per-tool" (<tool>@from_domain, for a relay that takes any sender on the domain) or
    # "login" (the username, an address: hosters that accept only the mailbox's own address).
    sender: Literal["per-tool", "login"] = "per-tool"
    # The password is in secrets.yml under mail_relay.password.

    @model_validator(mode="after")
    def _login_sender(self) -> MailRelay:
        if self.sender == "login":
            if not re.fullmatch(EMAIL, self.username, re.IGNORECASE):
                raise ValueError(f"sender: login sends as the username, so 'username' must be an address "
                                 f"(name@example.org), not {self.username!r}")
            if self.from_domain is not None:
                raise ValueError("from_domain has no use with sender: login (mail goes out as the username); "
                                 "remove one of them")
        return self

    def address(self, local_part: str, domain: str) -> str:
        """The From address for a sender (a tool, a server, postmaster) on this relay."""
        return self.username if self.sender == "login" else f"{local_part}@{self.from_domain or domain}"

    def sender_domain(self, domain: str) -> str:
        """The domain the relayed mail comes from: its SPF, DKIM and DMARC live there."""
        return self.username.rsplit("@", 1)[1] if self.sender == "login" else self.from_domain or domain


class Portal(Strict):
    """The members' portal: one static page listing every tool, served by Caddy (sovstack/portal.py).

    Its own subdomain, because the apex is usually the association's existing website."""

    enabled: bool = True
    subdomain: str = Field(default="apps", pattern=rf"^{LABEL}$")
    server: str | None = None  # default: the first server


class Backups(Strict):
    """Daily restic snapshots of every tool's data (sovstack/backup.py). The repository password is
    generated into secrets.yml (backup.password): a restore on a new server needs it."""

    enabled: bool = True
    local: str = Field(default=f"{ROOT}/backups", pattern=r"^/[A-Za-z0-9._/-]+$")  # on each server
    # A second repository off the server: sftp:user@host:/path or s3:https://host/bucket/path (restic URL).
    # S3 credentials go in secrets.yml under backup.remote_env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY);
    # for SFTP, root's SSH key on the server must be accepted by the remote host.
    remote: str | None = Field(default=None, pattern=r"^(sftp:[^\s'\"]+|s3:https?://[^\s'\"]+|rest:https?://[^\s'\"]+)$")
    time: str = Field(default="03:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # daily, server time
    keep_daily: int = Field(default=7, ge=1, le=366)
    keep_weekly: int = Field(default=4, ge=0, le=520)
    keep_monthly: int = Field(default=12, ge=0, le=1200)


GROUP_ID = r"^[a-z][a-z0-9-]{0,30}$"
# Names the tools already give a meaning to: DokuWiki's default group, the directory's group of everyone.
RESERVED_GROUPS = ("all", "admin", "members", "user", "toolkit")


class Group(Strict):
    """One group of a network (a hub and its partner groups, `sovstack groups`). Its members are in the
    directory (a group entry under ou=groups); the stack file holds what deploy converges from."""

    name: str = Field(min_length=1, max_length=100)
    coordinators: list[str] = []  # user names of the members who coordinate it
    hub: bool = False  # the hub writes the public goods every group reads
    # Removed with `sovstack groups remove` without --purge: its spaces stay, read-only, and it takes no
    # new members; `--purge` deletes them.
    archived: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError("must be one line of printable text, with no space at either end")
        return value

    @field_validator("coordinators")
    @classmethod
    def _coordinators(cls, value: list[str]) -> list[str]:
        for username in value:
            if not re.fullmatch(USERNAME, username):
                raise ValueError(f"{username!r} is not a user name: use 1 to 32 lowercase letters, digits, dots, "
                                 "hyphens or underscores, starting with a letter")
        return value


class Stack(Strict):
    organisation: str = Field(min_length=1)
    domain: str = Field(pattern=DOMAIN, max_length=200)
    admin_email: str
    language: Literal["en", "fr"] = "en"
    tls: Literal["public", "internal"] = "public"  # internal: Caddy's own CA, for sandboxes/no DNS
    servers: dict[str, Server] = {}  # none when every need is hosted: nothing to deploy
    tools: dict[str, Placement] = {}
    hosted: dict[str, str] = {}  # need -> hoster (or a free-text provider name), for the report
    mail_relay: MailRelay | None = None
    # Whether the chat servers talk with other servers (Matrix federation, XMPP server-to-server); false keeps
    # them to the members: no federation listener, no port for other servers in the firewall.
    federation: bool = True
    portal: Portal = Portal()
    backup: Backups = Backups()
    # Network mode: the hub and its partner groups (empty for a single association).
    groups: dict[str, Group] = {}

    @field_validator("organisation")
    @classmethod
    def _organisation(cls, value: str) -> str:
        # It lands in env files, debconf, /etc/issue, mail headers: one line of printable text.
        if not value.isprintable():
            raise ValueError("must be one line of printable text (no newline, tab or control character)")
        if value != value.strip():
            raise ValueError("must not start or end with a space")
        if len(value) > ORGANISATION_MAX:
            raise ValueError(f"is {len(value)} characters long, at most {ORGANISATION_MAX} are allowed")
        return value

    @field_validator("admin_email")
    @classmethod
    def _admin_email(cls, value: str) -> str:
        if not re.fullmatch(EMAIL, value, re.IGNORECASE):
            raise ValueError("must be an address like name@example.org: before the @ only letters, digits "
                             "and . _ % + - ' (no space, $, `, ;, quotes or brackets), after it a domain name")
        return value

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict) -> dict:
        for name in value:
            if not re.match(NAME, name):
                raise ValueError(f"server name {name!r} must be lowercase letters, digits and hyphens")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: dict) -> dict:
        for group_id in value:
            if not re.fullmatch(GROUP_ID, group_id):
                raise ValueError(f"group id {group_id!r} must be 1 to 31 lowercase letters, digits and hyphens, "
                                 "starting with a letter")
            if group_id in RESERVED_GROUPS:
                raise ValueError(f"group id {group_id!r} is reserved (the tools use {', '.join(RESERVED_GROUPS)}); "
                                 "choose another id")
        hubs = [g for g, group in value.items() if group.hub]
        if len(hubs) > 1:
            raise ValueError(f"{' and '.join(hubs)} are both marked hub: true; a network has one hub")
        return value

    def hub(self) -> str | None:
        """The id of the network's hub group, or None."""
        return next((g for g, group in self.groups.items() if group.hub), None)

    def check_joinable(self, group: str, where: str = "the stack file") -> None:
        """A group members may join: in the stack file and not archived (checked before secrets or any
        server are touched); `where` names the stack file in the message."""
        known = self.groups.get(group)
        if known is None:
            raise UserError(f"no group {group!r} in {where}",
                            f"use one of {', '.join(self.groups) or '(none yet)'}, or add it with "
                            "`sovstack groups add`, then `sovstack deploy`")
        if known.archived:
            raise UserError(f"group {group!r} is archived: it takes no new members",
                            "choose another group (see `sovstack groups list`)")

    def active_groups(self) -> list[str]:
        return sorted(g for g, group in self.groups.items() if not group.archived)

    def tools_on(self, server: str) -> list[str]:
        return sorted(tool for tool, place in self.tools.items() if place.server == server)

    def fqdn(self, tool: str, catalog: Catalog) -> str | None:
        sub = self.subdomain(tool, catalog)
        return f"{sub}.{self.domain}" if sub else None

    def portal_server(self) -> str | None:
        """Where Caddy serves the members' portal, or None when it is off."""
        if not self.portal.enabled or not self.servers:
            return None
        return self.portal.server or next(iter(self.servers))

    def portal_fqdn(self) -> str | None:
        return f"{self.portal.subdomain}.{self.domain}" if self.portal_server() else None

    def subdomain(self, tool: str, catalog: Catalog) -> str | None:
        deploy = catalog.tools[tool].deploy
        if not deploy or not deploy.subdomain:
            return None
        return self.tools[tool].subdomain or deploy.subdomain


def parse_stack(data: object, path: Path | str, catalog: Catalog) -> Stack:
    if not isinstance(data, dict):
        raise UserError(f"{path}: must be a mapping with organisation, domain, servers and tools",
                        "start from the file `sovstack init` writes")
    try:
        stack = Stack.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error(path, exc),
                        "see the comments in the file `sovstack init` writes") from None
    problems = check_against_catalog(stack, catalog, path)
    if problems:
        raise UserError("\n".join(problems), "correct the keys named above; nothing was changed")
    return stack


def load_stack(path: Path, catalog: Catalog) -> Stack:
    if not path.exists():
        raise UserError(f"{path}: no such stack file", "create it with `sovstack init`, or pass --stack FILE")
    return parse_stack(load_yaml(path), path, catalog)


def check_against_catalog(stack: Stack, catalog: Catalog, path: Path | str) -> list[str]:
    problems: list[str] = []
    seen_hosts: dict[tuple[str, str], str] = {}
    public_ports: dict[tuple[str, int], str] = {}
    for tool_id, place in stack.tools.items():
        key = f"{path}: key 'tools.{tool_id}"  # the closing quote comes after any sub-key
        tool = catalog.tools.get(tool_id)
        if tool is None:
            known = ", ".join(sorted(t for t in catalog.tools if deployable(catalog.tools[t])[0]))
            problems.append(f"{key}': no tool {tool_id!r} in the catalog; fix: use one of {known}")
            continue
        ok, why = deployable(tool)
        if not ok:
            problems.append(f"{key}': sovstack does not deploy {tool.name}: {why}; "
                            f"fix: remove it, or choose another tool with `sovstack catalog list`")
            continue
        if place.server not in stack.servers:
            problems.append(f"{key}.server' = {place.server!r}: no such server; "
                            f"fix: use one of {', '.join(stack.servers)} or add it under 'servers'")
        if place.subdomain and not tool.deploy.subdomain:
            problems.append(f"{key}.subdomain' = {place.subdomain!r}: {tool.name} has no web interface; "
                            f"fix: remove the subdomain")
        sub = stack.subdomain(tool_id, catalog)
        if sub:
            other = seen_hosts.get((sub, stack.domain))
            if other:
                problems.append(f"{key}.subdomain' = {sub!r}: also used by {other}; "
                                f"fix: give one of them another subdomain")
            seen_hosts[(sub, stack.domain)] = tool_id
        for port in [*tool.deploy.public_ports, *tool.deploy.federation_ports]:
            other = public_ports.get((place.server, port))
            if other:
                problems.append(f"{key}': needs public port {port}, already taken by {other} on server "
                                f"{place.server!r}; fix: keep one of them, or place them on different servers")
            public_ports[(place.server, port)] = tool_id
        if tool.role == "addon" and not any(b in stack.tools for b in tool.addon_for):
            problems.append(f"{key}': {tool.name} is an add-on for {', '.join(tool.addon_for)}; "
                            f"fix: add {tool.addon_for[0]} to 'tools' too")
        for base in tool.addon_for:
            if base in stack.tools and stack.tools[base].server != place.server:
                problems.append(f"{key}.server' = {place.server!r}: an add-on runs beside {base} "
                                f"(on {stack.tools[base].server!r}); fix: place both on one server")
        for beside in tool.runs_beside:
            if beside in stack.tools and stack.tools[beside].server != place.server:
                problems.append(f"{key}.server' = {place.server!r}: {tool.name} runs beside {beside} "
                                f"(on {stack.tools[beside].server!r}); fix: place both on one server")
        for needed in tool.requires_tools:
            if needed not in stack.tools:
                problems.append(f"{key}': {tool.name} needs {needed}; fix: add {needed} to 'tools'")
    problems += _portal_problems(stack, seen_hosts, path)
    problems += _group_problems(stack, catalog, path)
    for need, provider in stack.hosted.items():
        if need not in catalog.criteria.needs:
            problems.append(f"{path}: key 'hosted.{need}': not a need; fix: use one of "
                            f"{', '.join(catalog.criteria.needs)}")
    return problems


def _portal_problems(stack: Stack, seen_hosts: dict[tuple[str, str], str], path: Path | str) -> list[str]:
    portal = stack.portal
    if not portal.enabled:
        return []
    problems = []
    if portal.server is not None and portal.server not in stack.servers:
        problems.append(f"{path}: key 'portal.server' = {portal.server!r}: no such server; "
                        f"fix: use one of {', '.join(stack.servers)}, or remove it (default: the first server)")
    other = seen_hosts.get((portal.subdomain, stack.domain))
    if other:
        problems.append(f"{path}: key 'portal.subdomain' = {portal.subdomain!r}: also used by {other}; "
                        f"fix: give the portal another subdomain, or the tool another one under 'tools.{other}'")
    return problems


def _group_problems(stack: Stack, catalog: Catalog, path: Path | str) -> list[str]:
    """Groups live in the directory: a stack with groups needs an identity tool sovstack manages members in."""
    if not stack.groups:
        return []
    holders = [t for t in stack.tools if t in catalog.tools and "identity" in catalog.tools[t].categories
               and catalog.tools[t].deploy and catalog.tools[t].deploy.directory
               and catalog.tools[t].deploy.directory.manages_members]
    if holders:
        return []
    return [f"{path}: key 'groups': the groups' members live in the directory, and this stack has none that "
            f"sovstack manages; fix: add openldap to 'tools' (or remove 'groups')"]
