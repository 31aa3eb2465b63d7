"""What a migration's phases hand each other: the source's inventory, the verification and one
run's result. Pure data; the movers fill it, report.py and the CLI show it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

KINDS = ("mail", "files", "calendars", "contacts", "lists")
# What `id` is for each kind, as the report and --help say it.
IDENTITY = {
    "mail": "Message-ID",
    "files": "path (with size or hash)",
    "calendars": "UID",
    "contacts": "UID",
    "lists": "address",
}


@dataclass(frozen=True, order=True)
class Item:
    """One thing at the source: `collection` is the folder, calendar, address book, list or directory;
    `id` its identity key (IDENTITY)."""

    collection: str
    id: str


@dataclass(frozen=True, order=True)
class Skipped:
    collection: str
    id: str
    why: str


@dataclass
class Inventory:
    """Everything the source holds: each item exactly once, either to move (`items`) or not, with the
    reason (`skipped`). `extra` is the mover's own per-item data (sizes, hashes, file names) that the
    dry-run JSON does not show."""

    kind: str
    source: str
    items: list[Item] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    extra: dict[Item, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the report should say about this source

    def twice(self) -> list[tuple[str, str]]:
        """(collection, id) pairs listed more than once: a mover's bug, never the source's (a source
        that repeats a key gets the repeat skipped, with the reason)."""
        counts = Counter([(i.collection, i.id) for i in self.items] + [(s.collection, s.id) for s in self.skipped])
        return sorted(key for key, n in counts.items() if n > 1)

    def as_json(self) -> dict[str, Any]:
        """The dry-run contract (issue: `--dry-run --json`)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "items": [{"collection": i.collection, "id": i.id} for i in sorted(self.items)],
            "skipped": [{"collection": s.collection, "id": s.id, "why": s.why} for s in sorted(self.skipped)],
        }


@dataclass
class Verification:
    """The source's items compared with what the destination holds, by identity key."""

    expected: list[Item]
    found: set[Item]
    altered: dict[Item, str] = field(default_factory=dict)  # item -> what differs

    @property
    def missing(self) -> list[Item]:
        return sorted(set(self.expected) - self.found)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.altered


@dataclass
class RunResult:
    """One move (one member or list, one kind, one source), as the report records it."""

    kind: str
    member: str
    source: str
    destination: str
    expected: int
    copied: int
    missing: list[Item]
    altered: dict[Item, str]
    skipped: list[Skipped]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.altered


Progress = Callable[[int, int], None]  # (done, total)


class Mover(Protocol):
    """One kind's mover (movers/<kind>.py exposes MOVER). Sources are read-only to every method;
    nothing is written anywhere before `copy`."""

    kind: str

    def needs_stack(self, source: str) -> bool:
        """False for file sources in a dry run: a Takeout file or an export is read without a stack."""

    def inventory(self, source: str, secrets: SourceSecrets) -> Inventory:
        """Read the source (UserError naming the source and the fix if it is not what it claims).
        A mover whose collection is named by --to (lists) sets `inventory_takes_to = True` and takes
        `to=` here as well (run.inventory passes it)."""

    def destination(self, loaded: Any, to: str) -> Any:
        """Resolve --to against the loaded stack (UserError naming the member or list and the fix)."""

    def copy(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Any, progress: Progress) -> int:
        """Copy what the destination lacks; return how many items were copied (0 on a re-run)."""

    def verify(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Any) -> Verification:
        """Compare by identity key; never trust a mover's exit code."""


@dataclass(frozen=True)
class SourceSecrets:
    """Where the source's secret is: a file named on the command line (its content never goes to argv,
    logs or the report). `kind` is "password" (an app password) or "token" (an OAuth access token)."""

    path: Path | None = None
    kind: str = "password"
    # The destination's secret, where it needs one the server cannot stand in for: the member's app
    # password for a file tool reached over WebDAV (--to-password-file, or the CSV's to_secret_file).
    to_path: Path | None = None

    @property
    def option(self) -> str:
        return "--token-file" if self.kind == "token" else "--password-file"

    def source_secret(self, what: str) -> str:
        """The source's password or token (`what` says which, for the error)."""
        return read_secret_file(self.path, self.option, what)

    def destination_secret(self, what: str) -> str:
        return read_secret_file(self.to_path, "--to-password-file", what)


def is_loopback(host: str) -> bool:
    """This machine's own address ("localhost", 127.0.0.0/8, ::1): where plain text crosses no network."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerAddress:
    """A server's address as a command gave it, checked (server_address): `user` is the name before the @,
    unquoted, or None."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    user: str | None

    @property
    def netloc(self) -> str:
        """HOST[:PORT], without the user; an IPv6 host in brackets."""
        return (f"[{self.host}]" if ":" in self.host else self.host) + (f":{self.port}" if self.port else "")

    @property
    def url(self) -> str:
        """The address without the user: lower-case scheme, "/" for an empty path."""
        return urlunsplit((self.scheme, self.netloc, self.path or "/", self.query, ""))


def server_address(value: str, where: str, option: str, *, what: str, example: str, secret: str,
                   secret_option: str, schemes: tuple[str, ...] = ("https", "http")) -> ServerAddress:
    """`value` as the address of a server that `secret` (e.g. "bob's app password") is sent to. UserError
    starting with `where` (the argument as given) and showing `example` when it is not one of `schemes` with a
    host, or when plain HTTP would carry the secret to another machine; when the address holds a password,
    the error names only `option`, so the password is not shown again."""
    import re

    from sovstack.errors import UserError

    holds_password = UserError(f"{option}: the address holds a password", "never put a password in a command: "
                               f"give the address without it, and {secret} in {secret_option}")
    try:
        parts = urlsplit(value)
        host, port = parts.hostname or "", parts.port
    except ValueError as exc:
        if re.search(r"://[^/@]*:[^/@]*@", value):  # USER:PASSWORD@ that did not parse: still not shown
            raise holds_password from None
        raise UserError(f"{where} is not a {what} address ({exc})", f"give e.g. {example}") from None
    if parts.password is not None:
        raise holds_password
    scheme = parts.scheme.lower()
    if scheme not in schemes or not host:
        raise UserError(f"{where} is not a {what} address", f"give e.g. {example}")
    if scheme.split("+")[-1] == "http" and not is_loopback(host):
        raise UserError(f"{where}: plain HTTP would send {secret} unencrypted to {host}",
                        "use the server's https:// address")
    return ServerAddress(scheme, host, port, parts.path, parts.query,
                         unquote(parts.username) if parts.username else None)


def read_secret_file(path: Path | None, option: str, what: str) -> str:
    """The secret a file holds: one line of UTF-8, its line ending dropped. UserError naming the option,
    the file and the fix when it is not given, unreadable, empty or more than one line; the error never
    shows the file's content."""
    from sovstack.errors import UserError

    if path is None:
        raise UserError(f"{what} is needed: {option} is not given",
                        f"write {what} in a file only you can read (chmod 600) and pass {option} FILE")
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot read it ({exc.strerror})",
                        f"give a readable file holding {what}") from None
    except UnicodeDecodeError:
        raise UserError(f"{option} {path}: not UTF-8 text", f"the file must hold only {what}") from None
    if not secret or any(ord(c) < 32 for c in secret):
        raise UserError(f"{option} {path}: empty, or more than one line",
                        f"the file must hold only {what}, on one line")
    return secret
