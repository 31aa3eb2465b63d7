"""Mail into the stack's own Dovecot (postfix-dovecot), for one member.

From any IMAP server: `doveadm sync -1 -R imapc:` runs on the mail server with a per-run migration
config (the real config included, the source's password read from a 0600 file that SSH's standard
input fills and the run deletes); `--final` makes it a full pass (`-f`), because incremental passes
were seen to exit 0 while skipping new source mail. From a Google Takeout mbox: one folder per message
(sources/takeout_mbox.py), then `doveadm import` of what the destination lacks (import has no duplicate
check). Completion is never read from an exit code: the (folder, Message-ID) pairs at the source are
compared with those in the member's mailbox.

Folders: a folder the source flags \\Junk or \\Trash, the views \\Flagged (Gmail's Starred) and
\\Important, and Gmail's [Gmail]/Chats are skipped with the reason (found by SPECIAL-USE flags, because
their names are localised). A folder flagged \\All (Gmail's All Mail) shows every message again: only its
messages found in no other moved folder are copied (label-less archived mail), the others are listed
as skipped, stored once in their label's folder.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import re
import shlex
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sovstack.errors import UserError
from sovstack.engines.remote import Target
from sovstack.members.accounts import check_username
from sovstack.migrate.model import Inventory, Item, Progress, Skipped, SourceSecrets, Verification, is_loopback
from sovstack.migrate.sources import imap_list, takeout_mbox

SUPPORTED = "postfix-dovecot"
# The rendered dovecot.conf sets no separator: Maildir++'s own "." separates sub-folders.
DEST_SEPARATOR = "."
# An address or a plain name; nothing a shell or Dovecot's config expands ($, `, %).
IMAP_USER = re.compile(r"^[A-Za-z0-9._+=@-]{1,200}$")
HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$")
SKIP_FLAGS = {
    "\\junk": "the spam folder (\\Junk): not moved by default",
    "\\trash": "the bin (\\Trash): not moved by default",
    "\\flagged": "a view of starred mail (\\Flagged): each message is moved from its own folder",
    "\\important": "a view of mail marked important (\\Important): each message is moved from its own folder",
}
CHAT = "Google Chat/Hangouts transcripts ([Gmail]/Chats), not mail: not moved"
DAY = 24 * 3600  # a large mailbox over a slow link takes hours; SSH is given a day


@dataclass(frozen=True)
class ImapSource:
    user: str
    host: str
    port: int
    tls: str  # imaps | starttls | none (loopback only)

    def __str__(self) -> str:
        scheme = "imaps" if self.tls == "imaps" else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}"


def parse_imap(source: str) -> ImapSource | None:
    """imaps://USER@HOST[:PORT] (TLS, 993) or imap://USER@HOST[:PORT] (STARTTLS, 143; without TLS only
    to a loopback address, where nothing crosses a network). None when `source` is not an IMAP URL."""
    if not re.match(r"^imaps?://", source, re.IGNORECASE):
        return None
    where = f"--from {source}"
    fix = "write it as imaps://USER@HOST or imaps://USER@HOST:PORT, e.g. imaps://alice%40gmail.com@imap.gmail.com"
    parts = urlsplit(source)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password is not None:
        raise UserError(f"{where}: only USER@HOST[:PORT] may follow the scheme (a password never goes here)",
                        f"{fix}; give the password with --password-file")
    user = unquote(parts.username or "")
    host = parts.hostname or ""
    if not IMAP_USER.match(user):
        raise UserError(f"{where}: {user!r} is not an IMAP user name", fix)
    loopback = is_loopback(host)
    if not loopback and not HOST.match(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise UserError(f"{where}: {host!r} is not a host name", fix) from None
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"{where}: the port is not a number from 1 to 65535", fix) from None
    if parts.scheme.lower() == "imaps":
        return ImapSource(user, host, port or 993, "imaps")
    return ImapSource(user, host, port or 143, "none" if loopback else "starttls")


def mechanism(secrets: SourceSecrets) -> str:
    # Gmail and Microsoft 365 both take an OAuth access token with SASL XOAUTH2.
    return "xoauth2" if secrets.kind == "token" else "plain"


def secret_of(source: ImapSource, secrets: SourceSecrets) -> str:
    if secrets.path is None:
        raise UserError(f"--from {source}: the source's password is not given",
                        "put the app password in a file only you can read and add --password-file FILE "
                        "(or --token-file FILE for an OAuth access token)")
    return secrets.source_secret("the OAuth access token" if secrets.kind == "token" else "the app password")


@dataclass
class MailInventory(Inventory):
    """An IMAP source's inventory, with what the copy needs: folder names as the source spells them."""

    separator: str = "/"
    excluded: list[str] = field(default_factory=list)  # source names of skipped folders (-x)
    views: dict[str, str] = field(default_factory=dict)  # \All folder: our name -> the source's name
    messages: list[takeout_mbox.Message] = field(default_factory=list)  # Takeout only


def folder_name(name: str, separator: str) -> str:
    """A folder's name as the report and the verification write it: "/" between levels."""
    return "/".join(name.split(separator)) if separator and separator != "/" else name


def imap_inventory(source: str, listing: dict[str, Any]) -> MailInventory:
    """The inventory from imap_list.inventory's answer (pure: tested without a server)."""
    found = MailInventory("mail", source)
    folders = listing["folders"]
    found.separator = next((f["separator"] for f in folders if f["separator"]), "/")
    reasons: dict[str, str] = {}
    for folder in folders:
        flags = {f.lower() for f in folder["flags"]}
        parts = folder["name"].split(folder["separator"] or "/")
        why = next((SKIP_FLAGS[f] for f in SKIP_FLAGS if f in flags), "")
        if not why and len(parts) == 2 and parts[0] in ("[Gmail]", "[Google Mail]") and parts[1] == "Chats":
            why = CHAT
        if why:
            reasons[folder["name"]] = why
            found.excluded.append(folder["name"])
        elif "\\all" in flags:
            found.views[folder_name(folder["name"], folder["separator"])] = folder["name"]
    home: dict[str, str] = {}  # id -> the first moved folder holding it
    for folder in folders:
        if folder["name"] in reasons or folder_name(folder["name"], folder["separator"]) in found.views:
            continue
        for message in folder["messages"]:
            home.setdefault(message["id"], folder_name(folder["name"], folder["separator"]))
    for folder in folders:
        name = folder_name(folder["name"], folder["separator"])
        seen: dict[str, int] = {}
        for message in folder["messages"]:
            ident = message["id"]
            seen[ident] = seen.get(ident, 0) + 1
            if seen[ident] > 1:  # listed under its own key, so the first copy keeps the plain one
                found.skipped.append(Skipped(name, f"{ident} (copy {seen[ident]})", "another copy of the same "
                                             "message in this folder: the verification counts it once"))
                continue
            why = reasons.get(folder["name"])
            if why is None and name in found.views and ident in home:
                why = f"also in {home[ident]}: stored once there (Gmail shows labelled mail again in All Mail)"
            if why:
                found.skipped.append(Skipped(name, ident, why))
                continue
            item = Item(name, ident)
            found.items.append(item)
            found.extra[item] = message["uid"]
    if found.views:
        found.notes.append(f"{', '.join(sorted(found.views))}: only mail in no other folder is moved there "
                           "(archived mail without a label)")
    return found


def takeout_inventory(path: Path) -> MailInventory:
    found = MailInventory("mail", str(path))
    found.messages = takeout_mbox.read(path)
    listed: set[tuple[str, str]] = set()
    for message in found.messages:
        if message.folder is not None:
            found.items.append(Item(message.folder, message.id))
            listed.add((message.folder, message.id))
            continue
        collection, ident, n = ",".join(message.labels) or "(no label)", message.id, 1
        while (collection, ident) in listed:  # a repeated key gets its copy number: every message is listed once
            n += 1
            ident = f"{message.id} (copy {n})"
        listed.add((collection, ident))
        found.skipped.append(Skipped(collection, ident, message.why))
    found.notes.append("one folder per message: its first own label, else Sent, INBOX (Inbox), Drafts or Archive")
    return found


@dataclass(frozen=True)
class MailDestination:
    target: Target
    address: str

    def __str__(self) -> str:
        return f"{self.address} (Dovecot on {self.target.name})"


def _program() -> str:
    return resources.files("sovstack.migrate.sources").joinpath("imap_list.py").read_text(encoding="utf-8")


# Runs imap_list on the server: program and request (with the secret) come on standard input.
REMOTE_LIST = ("python3 -c 'import json, sys; d = json.load(sys.stdin); g = {\"__name__\": \"imap_list\"}; "
               "exec(d[\"program\"], g); sys.stdout.write(g[\"respond\"](d[\"request\"]))'")


def _unreachable(source: ImapSource, where: str, exc: Exception) -> UserError:
    return UserError(f"--from {source}: cannot read the source {where} ({exc})",
                     "check the address, the port, the user name and the password (an app password for Gmail; "
                     "Microsoft 365 takes only OAuth: --token-file)")


def _mbox_path(source: str) -> Path:
    return Path(source).expanduser()


class MailMover:
    kind = "mail"
    final_pass = True  # `--final`: the full pass after the MX switch

    def needs_stack(self, source: str) -> bool:
        return False  # a dry run reads a Takeout file or the IMAP server from this machine

    def inventory(self, source: str, secrets: SourceSecrets) -> Inventory:
        imap = parse_imap(source)
        if imap is None:
            return takeout_inventory(_mbox_path(source))
        secret = secret_of(imap, secrets)
        try:
            listing = imap_list.inventory(imap.host, imap.port, imap.tls, imap.user, secret, mechanism(secrets))
        except (OSError, imap_list.imaplib.IMAP4.error) as exc:
            raise _unreachable(imap, "from this machine", exc) from None
        return imap_inventory(str(imap), listing)

    def inventory_at(self, source: str, secrets: SourceSecrets, dest: MailDestination) -> Inventory:
        """A real run reads an IMAP source from the mail server, which copies from it."""
        imap = parse_imap(source)
        if imap is None:
            return takeout_inventory(_mbox_path(source))
        request = {"host": imap.host, "port": imap.port, "tls": imap.tls, "user": imap.user,
                   "secret": secret_of(imap, secrets), "mechanism": mechanism(secrets)}
        result = dest.target.run(REMOTE_LIST, timeout=DAY, as_root=True,
                                 stdin=json.dumps({"program": _program(), "request": request}))
        try:
            listing = json.loads(result.stdout)
        except ValueError:
            raise UserError(f"server {dest.target.name!r}: reading the source failed: {result.stderr.strip()[-400:]}",
                            "check that python3 is installed there (sovstack deploy installs it)") from None
        if "error" in listing:
            raise _unreachable(imap, f"from server {dest.target.name!r}", listing["error"])
        return imap_inventory(str(imap), listing)

    def destination(self, loaded: Any, to: str) -> MailDestination:
        stack, wiring = loaded.stack, loaded.wiring
        if wiring.mail_server is None:
            hoster = stack.hosted.get("email")
            said = f"by {hoster}" if hoster else "elsewhere"
            raise UserError(f"--to {to}: the association's mail is hosted {said}, not on a server of this stack: "
                            "sovstack has no mailbox to move mail into",
                            f"ask {hoster or 'the mail hoster'} to import the old mail over IMAP (give them the old "
                            "server's IMAP address and each member's app password), or ask them for each new "
                            "mailbox's IMAP details (server, port, user name) to copy it with an IMAP client")
        if wiring.mail_server != SUPPORTED:
            name = wiring.catalog.tools[wiring.mail_server].name
            raise UserError(f"--to {to}: sovstack moves mail into {SUPPORTED} only, and this stack's mail server "
                            f"is {name}", f"use {name}'s own import, or switch the stack to {SUPPORTED}")
        local, _, domain = to.partition("@")
        if domain and domain.lower() != stack.domain.lower():
            raise UserError(f"--to {to}: not an address of {stack.domain}",
                            f"give the member's user name, or their address …@{stack.domain}")
        check_username(local, "--to")
        return MailDestination(loaded.target(stack.tools[wiring.mail_server].server), f"{local}@{stack.domain}")

    # --- the mailbox on the server ---

    def found(self, dest: MailDestination) -> set[Item]:
        """(folder, identity) of every message in the member's mailbox."""
        address = shlex.quote(dest.address)
        # base64: header bytes need not be UTF-8, SSH's text channel must stay intact
        # doveadm user exits 67 (EX_NOUSER) for an address the directory does not know
        result = dest.target.run(f"doveadm user {address} >/dev/null || exit $?; "
                                 f"doveadm -f json fetch -u {address} 'mailbox hdr' all | base64 -w0",
                                 timeout=DAY, as_root=True)
        if result.returncode == 67:
            raise UserError(f"--to: {dest.address} has no mailbox on server {dest.target.name!r}",
                            "add the member first (sovstack members add), or check the user name")
        if result.returncode != 0:
            raise UserError(f"server {dest.target.name!r}: cannot read {dest.address}'s mailbox: "
                            f"{result.stderr.strip()[-400:]}", "check that `sovstack deploy` completed, then run again")
        text = base64.b64decode(result.stdout).decode("utf-8", "surrogateescape")
        rows = json.loads(text) if text.strip() else []
        return {Item(folder_name(row["mailbox"], DEST_SEPARATOR),
                     imap_list.identity_of_headers(row["hdr"].encode("utf-8", "surrogateescape")))
                for row in rows}

    def copy(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: MailDestination,
             progress: Progress, final: bool = False) -> int:
        assert isinstance(inventory, MailInventory)
        before = self.found(dest)
        wanted = set(inventory.items)
        progress(len(wanted & before), len(wanted))
        imap = parse_imap(source)
        if imap is None:
            self._import_takeout(_mbox_path(source), inventory, before, dest)
        else:
            self._sync(imap, secrets, inventory, before, dest, final)
        after = self.found(dest)
        progress(len(wanted & after), len(wanted))
        return len((wanted & after) - before)

    def verify(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: MailDestination) -> Verification:
        return Verification(expected=list(inventory.items), found=self.found(dest))

    def _sync(self, imap: ImapSource, secrets: SourceSecrets, inventory: MailInventory, before: set[Item],
              dest: MailDestination, final: bool) -> None:
        address = shlex.quote(dest.address)
        excluded = [*inventory.excluded, *inventory.views.values()]
        sync = (f"doveadm -c \"$d/migrate.conf\" sync -1 -R{' -f' if final else ''} "
                + "".join(f"-x {shlex.quote(name)} " for name in excluded) + f"-u {address} imapc:")
        commands = [sync]
        for ours, theirs in sorted(inventory.views.items()):
            lacking = sorted(inventory.extra[i] for i in inventory.items if i.collection == ours and i not in before)
            if lacking:  # import has no duplicate check: only the label-less mail the mailbox lacks
                commands.append(f"doveadm -c \"$d/migrate.conf\" import -s -u {address} imapc: '' mailbox "
                                f"{shlex.quote(theirs)} uid {','.join(map(str, lacking))}")
        result = dest.target.run(migration_script(imap, inventory.separator, secrets.kind == "token", commands),
                                 timeout=DAY, as_root=True, stdin=secret_of(imap, secrets))
        if result.returncode != 0:
            raise UserError(f"server {dest.target.name!r}: doveadm could not copy from {imap}: "
                            f"{result.stderr.strip()[-600:]}", "fix what it says, then run the same command again "
                            "(what was copied stays; nothing is copied twice)")

    def _import_takeout(self, path: Path, inventory: MailInventory, before: set[Item], dest: MailDestination) -> None:
        wanted = [m for m in inventory.messages if m.folder is not None and Item(m.folder, m.id) not in before]
        if not wanted:
            return
        with tempfile.TemporaryDirectory(prefix="sovstack-takeout-") as tmp:
            folders = takeout_mbox.write_split(path, wanted, Path(tmp))
            packed = io.BytesIO()
            with tarfile.open(fileobj=packed, mode="w:gz") as tar:
                tar.add(tmp, arcname=".")
        address = shlex.quote(dest.address)
        imports = "".join(
            f"doveadm import -s -u {address} -p mail_index_path=MEMORY -p mail_inbox_path=\"$d/{n}/INBOX\" "
            f"mbox:\"$d/{n}\" '' all\n" for n in folders)
        script = ("set -eu\numask 077\n"
                  "d=$(mktemp -d /var/tmp/sovstack-migrate.XXXXXX)\n"
                  "trap 'rm -rf \"$d\"' EXIT\ntrap 'exit 1' HUP INT TERM\n"
                  "base64 -d | tar -xz -C \"$d\"\n"
                  f"chown -R \"$(doveadm user -f uid {address})\" \"$d\"\n" + imports)
        result = dest.target.run(script, timeout=DAY, as_root=True,
                                 stdin=base64.b64encode(packed.getvalue()).decode())
        if result.returncode != 0:
            raise UserError(f"server {dest.target.name!r}: doveadm import failed: {result.stderr.strip()[-600:]}",
                            "fix what it says, then run the same command again (only what is missing is imported)")


def migration_config(imap: ImapSource, separator: str, token: bool, password_file: str) -> str:
    """The per-run migration config (Dovecot 2.4): the real config, then the source. The password is
    read from `password_file` (Dovecot reads the whole file: it holds no newline)."""
    sasl = "imapc_sasl_mechanisms = xoauth2\n" if token else ""
    # Nothing is created at the source: the stack's auto-created folders stay at the destination.
    autos = "".join(f"  mailbox {name} {{\n    auto = no\n  }}\n" for name in ("Drafts", "Junk", "Trash", "Sent"))
    return (f"dovecot_config_version = 2.4.0\n"
            f"!include /etc/dovecot/dovecot.conf\n"
            f"imapc_host = {imap.host}\nimapc_port = {imap.port}\n"
            f"imapc_ssl = {'no' if imap.tls == 'none' else imap.tls}\n"
            f"imapc_user = {imap.user}\nimapc_password = <{password_file}\n{sasl}"
            f"mail_prefetch_count = 20\nmail_fsync = never\n"
            # dsync needs one hierarchy separator on both sides: the source's
            f"namespace inbox {{\n  separator = {separator}\n{autos}}}\n")


def migration_script(imap: ImapSource, separator: str, token: bool, commands: list[str]) -> str:
    """The shell script run on the server: the secret comes on standard input, lands in a 0600 file in
    a private directory under /run (memory, not disk), and goes away when the script ends, failed or not."""
    config = migration_config(imap, separator, token, "$d/secret")
    return ("set -eu\numask 077\n"
            "d=$(mktemp -d /run/sovstack-migrate.XXXXXX)\n"
            "trap 'rm -rf \"$d\"' EXIT\ntrap 'exit 1' HUP INT TERM\n"
            "cat > \"$d/secret\"\n"
            f"cat > \"$d/migrate.conf\" <<EOF\n{config}EOF\n"
            + "\n".join(commands) + "\n")


MOVER = MailMover()
