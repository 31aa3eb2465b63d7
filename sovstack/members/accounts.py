"""Members of the association: validation, CSV import, and the LDIF the directory is given.

Pure functions; the directory on the server is in sovstack/directory.py.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import secrets as random
from dataclasses import dataclass
from pathlib import Path

from sovstack import patterns
from sovstack.errors import UserError

USERNAME = re.compile(patterns.USERNAME)
EMAIL = re.compile(patterns.EMAIL, re.IGNORECASE)  # the stack file's admin_email takes the same
MIN_PASSWORD = 10
CSV_COLUMNS = ("username", "name", "email")
USERNAME_FIX = "use 1 to 32 lowercase letters, digits, dots, hyphens or underscores, starting with a letter"


@dataclass(frozen=True)
class Member:
    username: str
    name: str
    contact: str | None  # personal address the welcome mail goes to (may be empty with a mailbox)
    disabled: bool = False
    mail: str | None = None  # the address tools know them by (their mailbox when mail is self-hosted)


def check_username(value: str, where: str) -> str:
    if not USERNAME.match(value):
        raise UserError(f"{where}: {value!r} is not a user name", USERNAME_FIX)
    return value


def check_member(username: str, name: str, contact: str | None, where: str) -> Member:
    """A member from the command line or one CSV row; `where` names the source in errors."""
    check_username(username, f"{where} username")
    name = " ".join(name.split())
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise UserError(f"{where} name: {name!r} is not a name", "give the member's full name (1 to 200 characters)")
    contact = (contact or "").strip() or None
    if contact and not EMAIL.fullmatch(contact):
        raise UserError(f"{where} email: {contact!r} is not a mail address", "give an address like alice@example.org")
    return Member(username, name, contact)


def check_password(password: str, where: str = "--password-stdin") -> str:
    password = password.rstrip("\r\n")
    if len(password) < MIN_PASSWORD or any(ord(c) < 32 for c in password):
        raise UserError(f"{where}: the password is too short or has control characters",
                        f"give at least {MIN_PASSWORD} printable characters")
    return password


def new_password() -> str:
    return random.token_urlsafe(12)  # 16 characters, about 96 bits


def read_csv(path: Path) -> list[Member]:
    """Members from a CSV file with the header username,name,email. Every row is checked first."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror})", "give the path of a CSV file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text", "save the spreadsheet as CSV UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise UserError(f"{path}: not a valid CSV file ({exc})", "save the spreadsheet as CSV UTF-8") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if tuple(header) != CSV_COLUMNS:
        raise UserError(f"{path} line 1: the header is {','.join(header) or '(empty)'!r}",
                        f"the first line must be exactly: {','.join(CSV_COLUMNS)}")
    members: list[Member] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path} line {number}"
        if len(row) != len(CSV_COLUMNS):
            problems.append(f"{where}: {len(row)} columns instead of {len(CSV_COLUMNS)}; fix: give "
                            f"{','.join(CSV_COLUMNS)} (quote names that contain commas)")
            continue
        try:
            member = check_member(row[0].strip(), row[1], row[2], f"{where} column")
        except UserError as exc:
            problems.append(f"{exc.message}; fix: {exc.hint}")
            continue
        if member.username in seen:
            problems.append(f"{where}: username {member.username!r} is already on line {seen[member.username]}; "
                            "fix: give each member their own user name")
            continue
        seen[member.username] = number
        members.append(member)
    if problems:
        raise UserError("\n".join(problems), "correct the lines named above; nobody was added")
    if not members:
        raise UserError(f"{path}: no members after the header", "add one line per member")
    return members


def ldif_value(attribute: str, value: str) -> str:
    """One LDIF line; values are base64 so names with any character stay intact (RFC 2849)."""
    return f"{attribute}:: {base64.b64encode(value.encode()).decode()}"


def member_ldif(member: Member, users_dn: str, mail: str, password: str) -> str:
    """An inetOrgPerson entry; the clear password is hashed by slapd (ppolicy hash cleartext)."""
    surname = member.name.split()[-1]
    lines = [f"dn: uid={member.username},{users_dn}", "objectClass: inetOrgPerson",
             f"uid: {member.username}", ldif_value("cn", member.name), ldif_value("sn", surname),
             ldif_value("displayName", member.name), ldif_value("mail", mail), ldif_value("userPassword", password)]
    return "\n".join(lines) + "\n\n"


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    """Entries of `ldapsearch -LLL -o ldif_wrap=no` output (attribute names lowercased)."""
    entries: list[dict[str, list[str]]] = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, list[str]] = {}
        for line in block.splitlines():
            if not line or line.startswith("#") or ":" not in line:
                continue
            name, _, rest = line.partition(":")
            if rest.startswith(":"):
                value = base64.b64decode(rest[1:].strip()).decode("utf-8", "replace")
            else:
                value = rest.strip()
            entry.setdefault(name.lower(), []).append(value)
        if entry:
            entries.append(entry)
    return entries
