"""A Google Takeout mail export ("All mail Including Spam and Trash.mbox"): one folder per message,
chosen from its X-Gmail-Labels header, and the split mbox files `doveadm import` reads.

Which label wins: the first user label in the header's order (a label the member made, e.g.
"Projets/Subventions"); without one, Sent, then Inbox (INBOX), then Drafts; anything else is archived
mail and goes to "Archive". A message is stored once, whatever its number of labels. Messages labelled
Spam, Trash or Chat are skipped, with the reason.
"""

from __future__ import annotations

import csv
import email.header
import mailbox
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from sovstack.errors import UserError
from sovstack.migrate.sources.imap_list import identity_of_headers, mutf7_encode

# Gmail's own labels: they say where a message is or what state it has, not a folder the member made.
SYSTEM = {"Inbox", "Sent", "Drafts", "Opened", "Unread", "Important", "Starred", "Archived", "Spam", "Trash", "Chat",
          "IMAP_$NotJunk", "IMAP_NotJunk", "IMAP_$Junk", "IMAP_Junk"}
SKIP = {"Spam": "Gmail's spam (label Spam): not moved by default",
        "Trash": "Gmail's bin (label Trash): not moved by default",
        "Chat": "a Google Chat/Hangouts transcript (label Chat), not mail: not moved"}


@dataclass(frozen=True)
class Message:
    key: int  # the mailbox module's key in the source file
    id: str  # Message-ID, or the stand-in key (imap_list.identity)
    labels: tuple[str, ...]
    folder: str | None  # None when skipped
    why: str = ""


def labels_of(value: str | None) -> tuple[str, ...]:
    """X-Gmail-Labels: comma-separated, a label with a comma in double quotes, non-ASCII ones as
    RFC 2047 encoded words."""
    if not value:
        return ()
    text = str(email.header.make_header(email.header.decode_header(" ".join(str(value).split()))))
    row = next(csv.reader([text], skipinitialspace=True), [])
    return tuple(label.strip() for label in row if label.strip())


def folder_of(labels: tuple[str, ...]) -> tuple[str | None, str]:
    """(folder, "") or (None, why it is skipped)."""
    for label in labels:
        if label in SKIP:
            return None, SKIP[label]
    user = [label for label in labels if label not in SYSTEM and not label.startswith("Category ")]
    if user:
        return user[0], ""
    for label, folder in (("Sent", "Sent"), ("Inbox", "INBOX"), ("Drafts", "Drafts")):
        if label in labels:
            return folder, ""
    return "Archive", ""


def open_mbox(path: Path) -> mailbox.mbox:
    where = f"--from {path}"
    if not path.is_file():
        raise UserError(f"{where}: no such file", "give the Takeout mail file, e.g. "
                        "\"takeout/Mail/All mail Including Spam and Trash.mbox\" (unzip the Takeout archive first)")
    with path.open("rb") as handle:
        start = handle.read(5)
    if start and start != b"From ":
        raise UserError(f"{where}: not an mbox file (it does not start with a \"From \" line)",
                        "give the .mbox file from the Takeout archive's Mail folder")
    return mailbox.mbox(str(path), create=False)


def header_block(raw: bytes) -> bytes:
    """The header lines of a message, CRLF (as Takeout writes) or LF."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[:min(ends)] + b"\n\n" if ends else raw


def read(path: Path) -> list[Message]:
    """Every message of the file once, with its folder or why it is skipped; a second copy of the same
    Message-ID in the same folder is skipped as such."""
    box = open_mbox(path)
    found: list[Message] = []
    seen: set[tuple[str, str]] = set()
    try:
        for key in box.keys():
            header = header_block(box.get_bytes(key))
            labels = labels_of(BytesHeaderParser(policy=policy.compat32).parsebytes(header).get("X-Gmail-Labels"))
            ident = identity_of_headers(header)
            folder, why = folder_of(labels)
            if folder is not None and (folder, ident) in seen:  # skipped under the label list, not the folder
                folder, why = None, f"another copy of a message already in {folder} (same Message-ID): stored once"
            if folder is not None:
                seen.add((folder, ident))
            found.append(Message(key, ident, labels, folder, why))
    finally:
        box.close()
    return found


def write_split(path: Path, wanted: list[Message], out: Path) -> list[str]:
    """The mbox files `doveadm import` reads, holding only `wanted`: one directory per folder under
    `out` (so a folder and its sub-folder never need a file and a directory of the same name), with
    the folder's file under its name as Dovecot's mbox storage spells it (modified UTF-7, "/" between
    levels; INBOX as the file INBOX, which every directory has, empty but for the INBOX folder). Read
    mail (label Opened) gets Status: RO and starred mail X-Status: F, so Dovecot keeps \\Seen and
    \\Flagged. Never the Takeout file itself: its name ends in ".mbox", which Dovecot refuses as a
    folder name. Returns the directories' names."""
    box = open_mbox(path)
    boxes: dict[str, mailbox.mbox] = {}
    try:
        for message in wanted:
            assert message.folder is not None
            target = boxes.get(message.folder)
            if target is None:
                folder_dir = out / str(len(boxes))
                folder_dir.mkdir(parents=True)
                (folder_dir / "INBOX").touch()
                parts = ["INBOX"] if message.folder == "INBOX" else \
                    [mutf7_encode(p).decode() for p in message.folder.split("/") if p]
                file = folder_dir.joinpath(*parts)
                file.parent.mkdir(parents=True, exist_ok=True)
                target = boxes[message.folder] = mailbox.mbox(str(file))
            raw = box.get_bytes(message.key)
            status = (b"Status: RO\n" if "Opened" in message.labels else b"") + \
                (b"X-Status: F\n" if "Starred" in message.labels else b"")
            target.add(status + raw)  # the bytes as Takeout wrote them; mailbox escapes "From " lines
    finally:
        box.close()
        for target in boxes.values():
            target.flush()
            target.close()
    return [str(n) for n in range(len(boxes))]
