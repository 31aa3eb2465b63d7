"""What an IMAP server holds, folder by folder: each message's Message-ID (or a stand-in key), read-only.

Standard library only: the same code runs on the techie's machine (a dry run) and, sent over SSH's
standard input, on the stack's server (a real run, where the source may be reachable only from there).
Folders are opened with EXAMINE and headers fetched with BODY.PEEK, so reading marks nothing as seen.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import imaplib
import json
import re
import ssl
import sys

FIELDS = ("MESSAGE-ID", "DATE", "FROM", "SUBJECT")
NO_ID = "no-message-id:"


def unfold(value: str | None) -> str:
    return " ".join((value or "").split())


def identity(message_id: str | None, date: str | None, sender: str | None, subject: str | None) -> str:
    """The Message-ID as written; without one, a hash of Date, From and Subject (not the size: the size
    changes between stores with CRLF or LF line ends and mbox escaping, these three headers do not)."""
    found = unfold(message_id)
    if found:
        return found
    digest = hashlib.sha256("\n".join(unfold(v) for v in (date, sender, subject)).encode("utf-8", "surrogateescape"))
    return NO_ID + digest.hexdigest()[:24]


def identity_of_headers(raw: bytes) -> str:
    """The identity of a message from its raw header block (any line ends)."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)

    def get(name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else str(value)
    return identity(get("Message-ID"), get("Date"), get("From"), get("Subject"))


# RFC 3501 §5.1.3: folder names are "modified UTF-7" on the wire.
def mutf7_decode(name: bytes) -> str:
    out, i = [], 0
    text = name.decode("ascii", "replace")
    while i < len(text):
        if text[i] == "&":
            end = text.index("-", i)
            if end == i + 1:
                out.append("&")
            else:
                chunk = text[i + 1:end].replace(",", "/")
                chunk += "=" * (-len(chunk) % 4)
                out.append(base64.b64decode(chunk).decode("utf-16-be"))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def mutf7_encode(name: str) -> bytes:
    out, pending = [], ""

    def flush() -> None:
        nonlocal pending
        if pending:
            coded = base64.b64encode(pending.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append("&" + coded + "-")
            pending = ""
    for char in name:
        if 0x20 <= ord(char) <= 0x7e:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending += char
    flush()
    return "".join(out).encode("ascii")


LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<sep>"(?:\\.|[^"])*"|NIL) (?P<name>.*)$')


def parse_list(lines: list) -> list[tuple[str, list[str], str]]:
    """(name, flags, separator) per LIST answer; imaplib hands a literal name as a (prefix, name) tuple."""
    found = []
    for line in lines:
        if line is None:
            continue
        if isinstance(line, tuple):
            prefix, literal = line
            match = LIST_LINE.match(prefix)
            raw_name = literal
        else:
            match = LIST_LINE.match(line)
            raw_name = match.group("name") if match else b""
            if raw_name.startswith(b'"'):
                raw_name = re.sub(rb'\\(.)', rb'\1', raw_name[1:-1])
        if not match:
            continue
        sep = match.group("sep")
        separator = "" if sep == b"NIL" else re.sub(rb'\\(.)', rb'\1', sep[1:-1]).decode()
        flags = [f.decode() for f in match.group("flags").split()]
        found.append((mutf7_decode(raw_name), flags, separator))
    return found


def quoted(name: str) -> str:
    return '"' + mutf7_encode(name).decode().replace("\\", "\\\\").replace('"', '\\"') + '"'


FETCH_META = re.compile(rb"(UID|RFC822\.SIZE) (\d+)")


def connect(host: str, port: int, tls: str, timeout: float = 60) -> imaplib.IMAP4:
    if tls == "imaps":
        return imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
    client = imaplib.IMAP4(host, port, timeout=timeout)
    if tls == "starttls":
        client.starttls(ssl.create_default_context())
    return client


def login(client: imaplib.IMAP4, user: str, secret: str, mechanism: str) -> None:
    if mechanism == "plain":
        client.login(user, secret)
    elif mechanism == "xoauth2":  # Google's and Microsoft's SASL for an OAuth access token
        client.authenticate("XOAUTH2", lambda _: f"user={user}\x01auth=Bearer {secret}\x01\x01".encode())
    else:  # RFC 7628
        client.authenticate("OAUTHBEARER", lambda _: f"n,a={user},\x01auth=Bearer {secret}\x01\x01".encode())


def inventory(host: str, port: int, tls: str, user: str, secret: str, mechanism: str = "plain") -> dict:
    """{"folders": [{"name", "separator", "flags", "messages": [{"uid", "id", "size"}]}]}"""
    client = connect(host, port, tls)
    try:
        login(client, user, secret, mechanism)
        caps = {c.upper() for c in client.capabilities}
        if "SPECIAL-USE" in caps:  # RFC 6154: the server says which folder is Sent, Junk, All…
            typ, lines = client._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
            typ, lines = client._untagged_response(typ, lines, "LIST")
        else:
            typ, lines = client.list('""', '"*"')
        if typ != "OK":
            raise imaplib.IMAP4.error(f"LIST failed: {lines}")
        folders = []
        for name, flags, separator in parse_list(lines):
            lowered = {f.lower() for f in flags}
            if "\\noselect" in lowered or "\\nonexistent" in lowered:
                continue
            folder = {"name": name, "separator": separator, "flags": flags, "messages": []}
            folders.append(folder)
            typ, data = client.select(quoted(name), readonly=True)  # EXAMINE: nothing changes at the source
            if typ != "OK":
                raise imaplib.IMAP4.error(f"EXAMINE {name!r} failed: {data}")
            exists = int(data[-1] or 0)
            if not exists:
                continue
            typ, data = client.uid("FETCH", "1:*", f"(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS)})])")
            if typ != "OK":
                raise imaplib.IMAP4.error(f"FETCH in {name!r} failed: {data}")
            pending = None
            for part in data:
                if isinstance(part, tuple):
                    pending = {"meta": part[0], "headers": part[1]}
                    folder["messages"].append(pending)
                elif pending is not None and isinstance(part, bytes):
                    pending["meta"] += part  # RFC822.SIZE or UID may come after the header literal
                    pending = None
            for message in folder["messages"]:
                meta = dict(FETCH_META.findall(message.pop("meta")))
                message["uid"] = int(meta.get(b"UID", 0))
                message["size"] = int(meta.get(b"RFC822.SIZE", 0))
                message["id"] = identity_of_headers(message.pop("headers"))
        return {"folders": folders}
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the answer is already read; a failed goodbye changes nothing
            pass


def respond(request: dict) -> str:
    """The inventory as JSON, or {"error": why} when the server cannot be reached or refuses the login."""
    try:
        return json.dumps(inventory(**request))
    except (OSError, imaplib.IMAP4.error) as exc:
        return json.dumps({"error": str(exc) or type(exc).__name__})


def main() -> None:
    """On a server: one JSON object on stdin (host, port, tls, user, secret, mechanism); JSON on stdout."""
    sys.stdout.write(respond(json.loads(sys.stdin.read())))


if __name__ == "__main__":
    main()
