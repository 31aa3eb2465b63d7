"""Lists: a Mailchimp audience export, a Google Groups member export or a plain CSV of addresses.

The identity key is the address, compared lower-cased. The destination is a newsletter on the stack's
Mailman 3 (<list>@lists.<domain>, named by --to): the addresses with a record of consent are
subscribed without a confirmation mail, those without one get Mailman's invitation (they join only if
they accept), and those unsubscribed or cleaned at the source are banned, never subscribed. The copy and
the verification run Mailman's REST API on the server, through the script deploy installs there
(/usr/local/lib/sovstack/mailman3-lists.py newsletter / roster), the addresses on its standard input.

Source shapes (facts: the project's migration notes, section "Mailing lists"):
- Mailchimp audience export: a zip of subscribed_members_export_<id>.csv,
  unsubscribed_members_export_<id>.csv and cleaned_members_export_<id>.csv, column "Email Address",
  consent in OPTIN_TIME / CONFIRM_TIME (column names seen in public code, not in a Mailchimp document).
- Google Groups "Export members": a first line "Members for group <name>", then the header
  "Email address,Nickname,Group status,Email status,Email preference,Posting permissions,Join year,…".
  UNVERIFIED against a Google document: this shape is the one public parsers of the export expect
  (and status values member/owner/manager/invited/pending seen there); no Google page giving it was found.
- A plain CSV with an address column (email, e-mail, address, courriel, adresse…), or a bare list of
  addresses one per line.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shlex
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovstack.errors import UserError
from sovstack.migrate.model import Inventory, Item, Progress, Skipped, SourceSecrets, Verification

KIND = "lists"

# The reasons a later copy reads: these addresses become bans at the destination, never members.
UNSUBSCRIBED = "unsubscribed at the source: recorded as a ban"
CLEANED = "cleaned (bounced) at the source: recorded as a ban"
BAN_REASONS = (UNSUBSCRIBED, CLEANED)
NO_ADDRESS = "no address in this row"

MAILCHIMP_FILES = {  # what each file of the zip holds, in the order they are read (bans first)
    "unsubscribed": re.compile(r"^unsubscribed_members_export_[^/]*\.csv$", re.I),
    "cleaned": re.compile(r"^cleaned_members_export_[^/]*\.csv$", re.I),
    "subscribed": re.compile(r"^subscribed_members_export_[^/]*\.csv$", re.I),
}
BAN_OF = {"unsubscribed": UNSUBSCRIBED, "cleaned": CLEANED}
CONSENT_COLUMNS = ("OPTIN_TIME", "CONFIRM_TIME")
# Header names taken as the address column of a plain CSV, compared lower-cased.
ADDRESS_HEADERS = ("email address", "email", "e-mail", "e-mail address", "mail", "address", "email_address",
                   "courriel", "adresse", "adresse e-mail", "adresse mail", "adresse électronique")
GROUPS_TITLE = re.compile(r"^\s*Members for group (.+?)\s*$")
GROUPS_STATUS_INVITE = {"invited"}  # asked to join by an owner, never accepted
GROUPS_STATUS_PENDING = {"pending"}  # asked to join, never approved
GROUPS_STATUS_OWNERS = {"owner", "manager"}

# An address as a list can deliver to: one @, no spaces, quotes, brackets or separators, a domain of
# dotted labels (Unicode letters allowed: internationalised domains).
_LOCAL = r"[^\s@<>()\[\],;:\"\\.]+(?:\.[^\s@<>()\[\],;:\"\\.]+)*"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
ADDRESS = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")


@dataclass(frozen=True)
class Row:
    """Where one entry of the inventory comes from, and what a copy does with it."""

    file: str
    line: int
    written: str  # the address as the source wrote it
    action: str  # "subscribe", "invite", "ban" or "skip"
    name: str = ""
    role: str = "member"  # Google Groups: owner or manager become the list's owners by hand
    why: str = ""  # a ban's reason


def valid(address: str) -> bool:
    return len(address) <= 254 and bool(ADDRESS.match(address))


def bans(inventory: Inventory) -> list[str]:
    """The addresses a copy records as bans at the destination (unsubscribed or cleaned at the source)."""
    return sorted({s.id for s in inventory.skipped if s.why in BAN_REASONS})


def invited(inventory: Inventory) -> list[str]:
    """The addresses a copy invites instead of subscribing (no record of consent at the source)."""
    return sorted(i.id for i in inventory.items if inventory.extra[i].action == "invite")


class _Builder:
    """Fills an inventory row by row, so that every row lands exactly once in items or skipped."""

    def __init__(self, source: str, collection: str):
        self.inv = Inventory(KIND, source)
        self.collection = collection
        self.first: dict[str, Row] = {}  # lower-cased address -> the row that took it
        self.used: set[str] = set()

    def _key(self, wanted: str, file: str, line: int) -> str:
        # An id is used once per collection: a row repeating an earlier one is named by its place.
        key = wanted if wanted not in self.used else f"{wanted} ({file}, line {line})"
        self.used.add(key)
        return key

    def skip(self, file: str, line: int, written: str, why: str) -> None:
        shown = written.strip() or "(empty)"
        key = self._key(shown.lower() if valid(shown) else shown, file, line)
        self.inv.skipped.append(Skipped(self.collection, key, why))
        self.inv.extra[Item(self.collection, key)] = Row(file, line, written, "skip")

    def add(self, file: str, line: int, written: str, action: str, name: str = "", role: str = "member",
            ban_reason: str = "") -> None:
        address = written.strip()
        if not address:
            return self.skip(file, line, written, NO_ADDRESS)
        if not valid(address):
            return self.skip(file, line, written, f"not a valid address: {address!r}")
        lower = address.lower()
        earlier = self.first.get(lower)
        if earlier is not None:
            if earlier.action == "ban" and action != "ban":
                left = "unsubscribed" if earlier.why == UNSUBSCRIBED else "cleaned (bounced)"
                why = f"also {left} at the source ({earlier.file}, line {earlier.line}): never subscribed"
            else:
                why = f"duplicate of {earlier.file}, line {earlier.line} (addresses compared ignoring case)"
            return self.skip(file, line, written, why)
        row = Row(file, line, written, action, name, role, ban_reason)
        self.first[lower] = row
        key = self._key(lower, file, line)
        if action == "ban":
            self.inv.skipped.append(Skipped(self.collection, key, ban_reason))
            self.inv.extra[Item(self.collection, key)] = row
        else:
            item = Item(self.collection, key)
            self.inv.items.append(item)
            self.inv.extra[item] = row


def _read_text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # a spreadsheet saved as CSV on Windows (French Excel's default)
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise UserError(f"--from {where}: not a text file in UTF-8 or Windows-1252",
                        "save it as CSV (UTF-8) from the spreadsheet and give that file") from None


def _rows(text: str, skipped_lines: int = 0) -> list[tuple[int, list[str]]]:
    """The non-blank rows with the line each ends on in the file (after `skipped_lines` left out)."""
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    return [(reader.line_num + skipped_lines, row) for row in reader if any(cell.strip() for cell in row)]


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _mailchimp_csv(builder: _Builder, file: str, text: str, what: str, where: str) -> None:
    rows = _rows(text)
    if not rows:
        return  # Mailchimp writes the file even when the audience has none of these
    header, body = rows[0][1], rows[1:]
    col = _column(header, ("email address",))
    if col is None:
        raise UserError(f"--from {where}: {file} has no 'Email Address' column (its first line: {', '.join(header)[:120]!r})",
                        "give the audience export exactly as Mailchimp made it (Audience > Export audience)")
    consent = [_column(header, (c.lower(),)) for c in CONSENT_COLUMNS]
    for number, row in body:
        cell = row[col] if col < len(row) else ""
        if what in BAN_OF:
            builder.add(file, number, cell, "ban", ban_reason=BAN_OF[what])
            continue
        recorded = any(c is not None and c < len(row) and row[c].strip() for c in consent)
        builder.add(file, number, cell, "subscribe" if recorded else "invite", name=_name(header, row))


def _name(header: list[str], row: list[str]) -> str:
    first, last = _column(header, ("first name", "fname")), _column(header, ("last name", "lname"))
    parts = [row[c].strip() for c in (first, last) if c is not None and c < len(row)]
    return " ".join(p for p in parts if p)


def _mailchimp(path: Path, collection: str | None) -> Inventory:
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"--from {where}: not a readable zip ({exc})",
                        "give the zip Mailchimp made (Audience > Export audience), as downloaded") from None
    with archive:
        found: dict[str, list[zipfile.ZipInfo]] = {k: [] for k in MAILCHIMP_FILES}
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            for what, pattern in MAILCHIMP_FILES.items():
                if pattern.match(base):
                    found[what].append(info)
        lacking = [w for w, infos in found.items() if not infos]
        if lacking:
            raise UserError(f"--from {where}: not a Mailchimp audience export: no "
                            + ", ".join(f"{w}_members_export_*.csv" for w in lacking) + " in the zip",
                            "export the audience again from Mailchimp (Audience > Export audience) and give the "
                            "zip as downloaded, with its three files (subscribed, unsubscribed, cleaned)")
        several = [w for w, infos in found.items() if len(infos) > 1]
        if several:
            raise UserError(f"--from {where}: holds {len(found[several[0]])} audiences "
                            f"({', '.join(i.filename for i in found[several[0]])})",
                            "give one audience's export at a time (export each audience from Mailchimp on its own)")
        builder = _Builder(where, collection or path.stem)
        for what, (info,) in found.items():
            base = info.filename.rsplit("/", 1)[-1]
            _mailchimp_csv(builder, base, _read_text(archive.read(info), f"{where} ({base})"), what, where)
    inv = builder.inv
    inv.notes += _notes(inv)
    return inv


def _csv(path: Path, collection: str | None) -> Inventory:
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"--from {where}: cannot read it ({exc.strerror})", "give a readable export file") from None
    lines = _read_text(data, where).splitlines()
    base = path.name
    if MAILCHIMP_FILES["unsubscribed"].match(base) or MAILCHIMP_FILES["cleaned"].match(base):
        # its addresses must become bans, never members: read them only with the rest of the export
        raise UserError(f"--from {where}: this is one file of a Mailchimp export (the addresses that left)",
                        "give the whole zip Mailchimp made, so that these addresses are recorded as bans")
    title = GROUPS_TITLE.match(lines[0]) if lines else None
    start = 1 if title else 0
    rows = _rows("\n".join(lines[start:]), start)
    if not rows:
        raise UserError(f"--from {where}: no addresses in it", "give the export with its members")
    header = rows[0][1]
    lowered = [h.strip().lower() for h in header]
    if "unsub_time" in lowered or "clean_time" in lowered:
        raise UserError(f"--from {where}: this is one file of a Mailchimp export (the addresses that left)",
                        "give the whole zip Mailchimp made, so that these addresses are recorded as bans")
    if "email address" in lowered and "group status" in lowered:
        return _google_groups(where, rows, collection or (title.group(1) if title else path.stem))
    col = _column(header, ADDRESS_HEADERS)
    headerless = col is None and len(header) == 1 and valid(header[0].strip())
    if col is None and not headerless:
        raise UserError(f"--from {where}: no address column (its first line: {', '.join(header)[:120]!r})",
                        "name the column of addresses 'email' in the first line, or give a Mailchimp export zip "
                        "or a Google Groups member export")
    builder = _Builder(where, collection or path.stem)
    consent = [_column(header, (c.lower(),)) for c in CONSENT_COLUMNS]
    mailchimp_shaped = any(c is not None for c in consent)
    body = rows if headerless else rows[1:]
    for number, row in body:
        cell = row[col or 0] if (col or 0) < len(row) else ""
        if mailchimp_shaped:
            recorded = any(c is not None and c < len(row) and row[c].strip() for c in consent)
        else:
            recorded = False  # a plain list shows no record of consent
        builder.add(base, number, cell, "subscribe" if recorded else "invite",
                    name="" if headerless else _name(header, row))
    inv = builder.inv
    if not mailchimp_shaped and inv.items:
        inv.notes.append("a plain list of addresses holds no record of consent: every address is invited "
                         "(the person confirms), not subscribed directly")
    inv.notes += _notes(inv, plain=not mailchimp_shaped)
    return inv


def _google_groups(where: str, rows: list[tuple[int, list[str]]], collection: str) -> Inventory:
    header, body = rows[0][1], rows[1:]
    col, status_col = _column(header, ("email address",)), _column(header, ("group status",))
    name_col = _column(header, ("nickname",))
    builder = _Builder(where, collection)
    base = Path(where).name
    owners = []
    for number, row in body:
        cell = row[col] if col < len(row) else ""
        status = (row[status_col] if status_col < len(row) else "").strip().lower()
        name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
        if status in GROUPS_STATUS_PENDING:
            builder.skip(base, number, cell, "asked to join at the source and was never approved: not subscribed "
                                             "(approve them on the new list if the group wants)")
            continue
        action = "invite" if status in GROUPS_STATUS_INVITE else "subscribe"
        role = status if status in GROUPS_STATUS_OWNERS else "member"
        before = len(builder.inv.items)
        builder.add(base, number, cell, action, name=name, role=role)
        if role != "member" and len(builder.inv.items) > before:
            owners.append(builder.inv.items[-1].id)
    inv = builder.inv
    if owners:
        inv.notes.append(f"{len(owners)} owner(s) or manager(s) at the source, to make owners or moderators of "
                         f"the new list: {', '.join(sorted(owners))}")
    inv.notes += _notes(inv)
    return inv


def _notes(inv: Inventory, plain: bool = False) -> list[str]:
    notes = []
    invites = invited(inv)
    if invites and not plain:
        notes.append(f"{len(invites)} address(es) show no record of consent at the source: they are invited "
                     f"(the person confirms), not subscribed directly: {', '.join(invites)}")
    banned = bans(inv)
    if banned:
        notes.append(f"{len(banned)} address(es) left the list at the source (unsubscribed or cleaned): they are "
                     "recorded as bans, so that no later import can add them again")
    return notes


def _offer_name(catalog: Any, offer: Any) -> str:
    if offer.name:
        return offer.name
    return catalog.tools[offer.tool].name if offer.tool in catalog.tools else (offer.software or "lists")


LIST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")  # Mailman's listname_chars, as sovstack names lists
SCRIPT = "/usr/local/lib/sovstack/mailman3-lists.py"
# The export itself, kept as the evidence of consent: root-only, under a path of Mailman's backup set
# (mailman3.yml backup.paths), so it is in every backup, which restic encrypts.
EVIDENCE_DIR = "/var/lib/sovstack/mailman3/consent"
EVIDENCE_SUFFIXES = (".zip", ".csv", ".txt")


def evidence_path(list_name: str, data: bytes, source: str) -> str:
    """Where the export is kept: named by its content's hash, so a re-run of the same file keeps one copy."""
    return _evidence_path(list_name, hashlib.sha256(data).hexdigest(), source)


def _evidence_path(list_name: str, digest: str, source: str) -> str:
    suffix = Path(source).suffix.lower()
    return f"{EVIDENCE_DIR}/{list_name}/{digest[:32]}{suffix if suffix in EVIDENCE_SUFFIXES else '.export'}"


@dataclass(frozen=True)
class Newsletter:
    """A list of its own on the stack's Mailman 3, reached through the script deploy installs on its server."""

    target: Any  # engines.remote.Target of Mailman's server
    name: str  # validated by LIST_NAME
    domain: str  # lists.<domain>

    def __str__(self) -> str:
        return f"{self.name}@{self.domain}"

    def keep(self, source: str) -> str:
        """Store the export on the server (root only, 0600) as the evidence of consent; returns its path."""
        data = Path(source).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        path = _evidence_path(self.name, digest, source)
        folder = shlex.quote(path.rsplit("/", 1)[0])
        script = (f"umask 077 && mkdir -p {folder} && t=$(mktemp {folder}/.incoming.XXXXXX) && base64 -d > \"$t\" "
                  f"&& {{ echo '{digest}  '\"$t\" | sha256sum -c --quiet || {{ rm -f \"$t\"; exit 1; }}; }} "
                  f"&& mv -f \"$t\" {shlex.quote(path)}")
        result = self.target.run(script, timeout=900, as_root=True, stdin=base64.b64encode(data).decode())
        if result.returncode != 0:
            raise UserError(f"server {self.target.name!r}: the export could not be kept at {path}: "
                            f"{(result.stderr or result.stdout).strip()[-400:]}",
                            "check the server's free space (df -h /var/lib), then run again: the list is complete, "
                            "a re-run stores the export")
        return path

    def call(self, command: str, job: dict | None = None) -> dict:
        line = f"python3 {SCRIPT} newsletter" if command == "newsletter" else f"python3 {SCRIPT} roster {self.name}"
        result = self.target.run(line, timeout=900, as_root=True, stdin=json.dumps(job) if job else None)
        if result.returncode != 0:
            raise UserError(f"server {self.target.name!r}: Mailman did not take the list {self}: "
                            f"{(result.stderr or result.stdout).strip()[-400:]}",
                            "check that `sovstack deploy` completed (Mailman 3 from Debian); what was copied stays, "
                            "a re-run copies the rest")
        return json.loads(result.stdout.strip().splitlines()[-1])


class ListsMover:
    kind = KIND
    inventory_takes_to = True  # the list's name comes from --to (or the file): see run.inventory

    def needs_stack(self, source: str) -> bool:
        return False  # every source is a file

    def inventory(self, source: str, secrets: SourceSecrets, to: str = "") -> Inventory:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"--from {source}: no such file",
                            "give the export file: a Mailchimp audience zip, a Google Groups member CSV or a CSV of addresses")
        collection = to.strip() or None
        if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            return _mailchimp(path, collection)
        return _csv(path, collection)

    def destination(self, loaded: Any, to: str) -> Newsletter:
        stack, catalog = loaded.stack, loaded.catalog
        if "mailman3" not in stack.tools:
            offers = sorted({f"{_offer_name(catalog, o)} by {h.name}" for h in catalog.hosters.values()
                             for o in h.offers if o.need == "lists"})
            raise UserError(f"{loaded.path}: lists move into Mailman 3, and the stack has no mailman3",
                            "add mailman3 to 'tools' (beside postfix-dovecot), deploy, then run again; or use a "
                            f"hoster's lists ({', '.join(offers) or 'see `sovstack catalog`'}) and import the "
                            "subscribed addresses there by hand, never the unsubscribed or cleaned ones")
        name = to.strip()
        if not LIST_NAME.match(name):
            raise UserError(f"--to {to!r}: not a list name",
                            "use lower-case letters, digits and dashes, starting with a letter (e.g. --to infolettre)")
        if name == "members" or name in stack.groups:
            raise UserError(f"--to {name}: sovstack keeps that list's subscribers from the directory "
                            f"({'every member' if name == 'members' else 'the group ' + name + chr(39) + 's members'})",
                            "give the newsletter a name of its own, e.g. --to infolettre")
        return Newsletter(loaded.target(stack.tools["mailman3"].server), name, stack.fqdn("mailman3", catalog))

    def copy(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Newsletter,
             progress: Progress) -> int:
        before = dest.call("roster")
        rows = {item: inventory.extra[item] for item in inventory.items}
        job = {"list": dest.name, "display": dest.name,
               "subscribe": sorted(r.written.strip() for r in rows.values() if r.action == "subscribe"),
               "invite": sorted(r.written.strip() for r in rows.values() if r.action == "invite"),
               "ban": bans(inventory)}
        after = dest.call("newsletter", job)
        kept = dest.keep(source)
        inventory.notes.append(f"the export is kept on the server as the evidence of consent: {kept} (root only, "
                               "in every backup, encrypted by restic); delete it there when the law no longer "
                               "asks you to keep it")
        progress(len(rows), len(rows))
        had = set(before["members"]) | set(before["pending"])
        return len({i.id for i in rows} & (set(after["members"]) | set(after["pending"])) - had)

    def verify(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Newsletter) -> Verification:
        there = dest.call("roster")
        found = set()
        altered = {}
        for item in inventory.items:
            action = inventory.extra[item].action
            if item.id in there["members"] or (action == "invite" and item.id in there["pending"]):
                found.add(item)
        for ban in inventory.skipped:  # a ban the source recorded must hold: never a subscriber
            if ban.why in BAN_REASONS and ban.id in there["members"]:
                altered[Item(ban.collection, ban.id)] = "unsubscribed or cleaned at the source, yet subscribed here"
        return Verification(expected=sorted(inventory.items), found=found, altered=altered)


MOVER = ListsMover()
