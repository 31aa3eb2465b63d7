"""Moving mail in, without a server: the Takeout split, the IMAP inventory's folder rules, the source
URL, the per-run migration config, and the dry-run contract on a generated Takeout-shaped mbox (the
stand-in for Google's export: CRLF line ends, X-Gmail-Labels with non-ASCII and multiple labels, Spam,
Trash and Chat, a message without Message-ID)."""

from __future__ import annotations

import email.header
import hashlib
import json
import mailbox
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sovstack.errors import UserError
from sovstack.migrate.model import Item, SourceSecrets
from sovstack.migrate.movers import mail
from sovstack.migrate.sources import imap_list, takeout_mbox

TAKEOUT_NAME = "All mail Including Spam and Trash.mbox"


def encoded(label: str) -> str:
    return email.header.Header(label, "utf-8").encode()


# (X-Gmail-Labels, Message-ID or None, folder or None when skipped)
MESSAGES = [
    ("Inbox,Opened", "<in-1@mail.gmail.com>", "INBOX"),
    ("Inbox,Starred,Important", "<in-2@mail.gmail.com>", "INBOX"),
    ("Sent,Opened", "<sent-1@mail.gmail.com>", "Sent"),
    ("Sent,Inbox", "<to-self@mail.gmail.com>", "Sent"),
    ("Archived,Opened,Projets/Subventions", "<arch-1@mail.gmail.com>", "Projets/Subventions"),
    (f"Inbox,{encoded('Réunions')},Projets", "<multi@mail.gmail.com>", "Réunions"),  # first own label wins
    ('Inbox,"Bureau, CA"', "<comma@mail.gmail.com>", "Bureau, CA"),
    ("Archived,Category Updates", "<upd@mail.gmail.com>", "Archive"),
    ("Opened", None, "Archive"),  # no Message-ID, no label
    ("Spam", "<spam-1@mail.gmail.com>", None),
    ("Trash,Opened", "<bin-1@mail.gmail.com>", None),
    ("Chat", "<chat-1@mail.gmail.com>", None),
    ("Inbox,Opened", "<in-1@mail.gmail.com>", None),  # the same message twice in one folder
]


def takeout(path: Path) -> Path:
    """A Takeout-shaped mbox with CRLF line ends, as Google writes it."""
    chunks = []
    for n, (labels, message_id, _) in enumerate(MESSAGES):
        lines = [f"From 17000000000000{n:05d}@xxx Mon Jan 01 10:00:00 +0000 2024",
                 "X-GM-THRID: 1700000000000000000", f"X-Gmail-Labels: {labels}",
                 "From: Carol <carol@example.org>", "To: asso@gmail.com", f"Subject: message {n}",
                 f"Date: Mon, 01 Jan 2024 10:{n:02d}:00 +0000"]
        if message_id:
            lines.append(f"Message-ID: {message_id}")
        lines += ["Content-Type: text/plain; charset=utf-8", "", f"Body {n}, café.", ">From the start of a line (escaped, as in any mbox).", ""]
        chunks.append("\r\n".join(lines))
    path.write_bytes("\r\n".join(chunks).encode())
    return path


@pytest.mark.parametrize("labels, folder", [(labels, folder) for labels, _, folder in MESSAGES[:-1]])
def test_each_message_gets_one_folder_from_its_labels(labels, folder):
    assert takeout_mbox.folder_of(takeout_mbox.labels_of(labels))[0] == folder


@pytest.mark.parametrize("labels, why", [("Spam", "spam"), ("Trash,Opened", "bin"), ("Inbox,Chat", "Chat")])
def test_spam_trash_and_chat_are_skipped_with_the_reason(labels, why):
    folder, reason = takeout_mbox.folder_of(takeout_mbox.labels_of(labels))
    assert folder is None and why in reason


def test_the_takeout_split_lists_every_message_once_in_items_or_skipped(tmp_path):
    found = mail.takeout_inventory(takeout(tmp_path / TAKEOUT_NAME))
    assert found.twice() == []
    assert len(found.items) + len(found.skipped) == len(MESSAGES)
    wanted = {(folder, mid) for _, mid, folder in MESSAGES if folder and mid}
    assert {(i.collection, i.id) for i in found.items if not i.id.startswith(imap_list.NO_ID)} == wanted
    no_id = [i for i in found.items if i.id.startswith(imap_list.NO_ID)]
    assert [i.collection for i in no_id] == ["Archive"]
    skipped = {s.id: s.why for s in found.skipped}
    assert set(skipped) == {"<spam-1@mail.gmail.com>", "<bin-1@mail.gmail.com>", "<chat-1@mail.gmail.com>",
                            "<in-1@mail.gmail.com>"}
    assert "another copy of a message already in INBOX" in skipped["<in-1@mail.gmail.com>"]


def test_a_message_without_message_id_keeps_its_key_across_line_ends_and_folding():
    crlf = b"From: Carol\r\n <carol@example.org>\r\nSubject: a  b\r\nDate: Mon, 01 Jan 2024\r\n\r\n"
    lf = b"Date: Mon, 01 Jan 2024\nFrom: Carol <carol@example.org>\nSubject: a b\nX-Other: 1\n\n"
    assert imap_list.identity_of_headers(crlf) == imap_list.identity_of_headers(lf)
    assert imap_list.identity_of_headers(crlf).startswith(imap_list.NO_ID)
    other = b"Date: Mon, 01 Jan 2024\nFrom: Carol <carol@example.org>\nSubject: a c\n\n"
    assert imap_list.identity_of_headers(other) != imap_list.identity_of_headers(lf)
    assert imap_list.identity_of_headers(b"Message-ID:\r\n <x@y>\r\n\r\n") == "<x@y>"


def test_the_split_files_hold_exactly_the_wanted_messages_with_their_flags(tmp_path):
    source = takeout(tmp_path / TAKEOUT_NAME)
    messages = takeout_mbox.read(source)
    wanted = [m for m in messages if m.folder]
    out = tmp_path / "split"
    dirs = takeout_mbox.write_split(source, wanted, out)
    back: dict[str, list] = {}
    for d in dirs:
        for file in sorted(p for p in (out / d).rglob("*") if p.is_file() and p.stat().st_size):
            name = "/".join(imap_list.mutf7_decode(part.encode()) for part in file.relative_to(out / d).parts)
            back[name] = list(mailbox.mbox(str(file)))
    assert sorted(back) == sorted({m.folder for m in wanted})
    for folder, box in back.items():
        assert sorted(imap_list.identity_of_headers(takeout_mbox.header_block(bytes(m))) for m in box) == \
            sorted(m.id for m in wanted if m.folder == folder)
    inbox = {m["Subject"]: m for m in back["INBOX"]}
    assert "R" in inbox["message 0"].get_flags() and "F" in inbox["message 1"].get_flags()
    assert "R" not in inbox["message 1"].get_flags()
    # every directory has an INBOX file (the import's mail_inbox_path), and no name ends in ".mbox"
    assert all((out / d / "INBOX").exists() for d in dirs)
    assert not [p for p in out.rglob("*") if "." in p.name]
    # an escaped body line stays as it was (not escaped twice, not taken for a new message)
    assert b"\n>From the start of a line" in bytes(inbox["message 0"]).replace(b"\r\n", b"\n")


def test_the_dry_run_needs_no_stack_writes_nothing_and_prints_the_contract(tmp_path):
    source = takeout(tmp_path / TAKEOUT_NAME)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    result = subprocess.run([sys.executable, "-m", "sovstack", "migrate", "mail", "--from", str(source), "--dry-run",
                             "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) == {"kind", "source", "items", "skipped"} and shown["kind"] == "mail"
    assert len(shown["items"]) + len(shown["skipped"]) == len(MESSAGES)
    assert {"collection": "Réunions", "id": "<multi@mail.gmail.com>"} in shown["items"]
    assert {s["collection"] for s in shown["skipped"]} == {"Spam", "Trash,Opened", "Chat", "Inbox,Opened"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [TAKEOUT_NAME]  # nothing written beside it
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("content, named", [
    (None, "no such file"),
    (b"username,name\nalice,Alice\n", "not an mbox file"),
])
def test_a_file_that_is_not_a_takeout_mbox_is_refused_naming_it(tmp_path, content, named):
    path = tmp_path / "export.mbox"
    if content is not None:
        path.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "sovstack", "migrate", "mail", "--from", str(path), "--dry-run"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and named in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def folder(name, flags, *ids, sep="/"):
    return {"name": name, "separator": sep, "flags": list(flags),
            "messages": [{"uid": n + 1, "size": 100, "id": i} for n, i in enumerate(ids)]}


# A Gmail-shaped listing, French names: the folders are found by their SPECIAL-USE flags.
GMAIL = {"folders": [
    folder("INBOX", ["\\HasNoChildren"], "<a>", "<b>", "<b>"),
    folder("Projets", [], "<b>", "<c>"),
    folder("Réunions/2024", [], "<d>"),
    folder("[Gmail]/Messages envoyés", ["\\Sent"], "<e>"),
    folder("[Gmail]/Tous les messages", ["\\All"], "<a>", "<b>", "<c>", "<d>", "<e>", "<archived>",
           imap_list.NO_ID + "abc"),
    folder("[Gmail]/Spam", ["\\Junk"], "<s>"),
    folder("[Gmail]/Corbeille", ["\\Trash"], "<t>"),
    folder("[Gmail]/Suivis", ["\\Flagged"], "<a>"),
    folder("[Gmail]/Important", ["\\Important"], "<b>"),
    folder("[Gmail]/Chats", [], "<chat>"),
]}


def test_the_imap_inventory_keeps_each_message_once_and_says_why_the_rest_stays():
    found = mail.imap_inventory("imaps://a@h:993", GMAIL)
    assert found.twice() == []
    assert sorted((i.collection, i.id) for i in found.items) == sorted([
        ("INBOX", "<a>"), ("INBOX", "<b>"), ("Projets", "<b>"), ("Projets", "<c>"), ("Réunions/2024", "<d>"),
        ("[Gmail]/Messages envoyés", "<e>"), ("[Gmail]/Tous les messages", "<archived>"),
        ("[Gmail]/Tous les messages", imap_list.NO_ID + "abc")])
    why = {(s.collection, s.id): s.why for s in found.skipped}
    assert "also in INBOX" in why[("[Gmail]/Tous les messages", "<a>")]
    assert "spam" in why[("[Gmail]/Spam", "<s>")] and "bin" in why[("[Gmail]/Corbeille", "<t>")]
    assert "starred" in why[("[Gmail]/Suivis", "<a>")] and "important" in why[("[Gmail]/Important", "<b>")]
    assert "Chat" in why[("[Gmail]/Chats", "<chat>")]
    assert "another copy" in why[("INBOX", "<b> (copy 2)")]
    assert sum(len(f["messages"]) for f in GMAIL["folders"]) == len(found.items) + len(found.skipped)
    assert sorted(found.excluded) == ["[Gmail]/Chats", "[Gmail]/Corbeille", "[Gmail]/Important", "[Gmail]/Spam",
                                      "[Gmail]/Suivis"]
    assert found.views == {"[Gmail]/Tous les messages": "[Gmail]/Tous les messages"}
    assert found.extra[Item("[Gmail]/Tous les messages", "<archived>")] == 6  # its UID, for the import


def test_a_dot_separated_source_is_named_with_slashes():
    found = mail.imap_inventory("imap://a@127.0.0.1:143", {"folders": [folder("INBOX.Projets.2024", [], "<x>",
                                                                              sep=".")]})
    assert found.items == [Item("INBOX/Projets/2024", "<x>")] and found.separator == "."


@pytest.mark.parametrize("url, expected", [
    ("imaps://alice%40gmail.com@imap.gmail.com", ("alice@gmail.com", "imap.gmail.com", 993, "imaps")),
    ("imaps://alice@gmail.com@imap.gmail.com:1993", ("alice@gmail.com", "imap.gmail.com", 1993, "imaps")),
    ("imap://bob@mail.example.org", ("bob", "mail.example.org", 143, "starttls")),
    ("imap://bob@127.0.0.1:10143", ("bob", "127.0.0.1", 10143, "none")),  # no TLS only on the loopback
    ("IMAPS://bob@outlook.office365.com", ("bob", "outlook.office365.com", 993, "imaps")),
])
def test_imap_sources(url, expected):
    found = mail.parse_imap(url)
    assert (found.user, found.host, found.port, found.tls) == expected


@pytest.mark.parametrize("url, named", [
    ("imaps://alice:secret@imap.gmail.com", "a password never goes here"),
    ("imaps://al$ice@imap.gmail.com", "not an IMAP user name"),
    ("imaps://alice@imap_gmail.com", "not a host name"),
    ("imaps://alice@imap.gmail.com:99999", "port"),
    ("imaps://alice@imap.gmail.com/INBOX", "only USER@HOST"),
    ("imaps://imap.gmail.com", "not an IMAP user name"),
])
def test_a_bad_imap_source_is_refused_naming_it(url, named):
    with pytest.raises(UserError) as caught:
        mail.parse_imap(url)
    assert named in caught.value.message and caught.value.hint


def test_a_takeout_path_is_not_an_imap_source():
    assert mail.parse_imap("takeout/Mail/All mail Including Spam and Trash.mbox") is None


@pytest.mark.parametrize("name", ["Réunions", "a&b", "日本語/メール", "[Gmail]/All Mail", "Tous les messages ✓"])
def test_modified_utf7_round_trips(name):
    assert imap_list.mutf7_decode(imap_list.mutf7_encode(name)) == name
    assert imap_list.mutf7_encode(name).isascii()


def test_modified_utf7_matches_rfc_3501_examples():
    assert imap_list.mutf7_encode("~peter/mail/台北/日本語") == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"


@pytest.mark.parametrize("token, mechanism_line", [(False, None), (True, "imapc_sasl_mechanisms = xoauth2")])
def test_the_migration_script_keeps_the_secret_out_and_starts_the_config_right(token, mechanism_line):
    source = mail.ImapSource("alice@gmail.com", "imap.gmail.com", 993, "imaps")
    script = mail.migration_script(source, "/", token, ["doveadm sync"])
    config = mail.migration_config(source, "/", token, "/run/x/secret")
    assert config.splitlines()[0].startswith("dovecot_config_version = ")
    assert config.splitlines()[1] == "!include /etc/dovecot/dovecot.conf"
    assert "imapc_password = </run/x/secret" in config and "imapc_ssl = imaps" in config
    assert (mechanism_line in config) if mechanism_line else "sasl" not in config
    assert "separator = /" in config and config.count("auto = no") == 4
    # the secret arrives on standard input into a file in a private directory, removed on any exit
    assert 'cat > "$d/secret"' in script and "umask 077" in script and "trap 'rm -rf \"$d\"' EXIT" in script
    assert script.index("trap") < script.index("cat >")


def test_the_secret_file_must_hold_one_line(tmp_path):
    source = mail.ImapSource("a", "h", 993, "imaps")
    good = tmp_path / "good"
    good.write_text("app password 16c\n")
    assert mail.secret_of(source, SourceSecrets(good)) == "app password 16c"
    for text in ("", "one\ntwo\n"):
        bad = tmp_path / "bad"
        bad.write_text(text)
        with pytest.raises(UserError, match="empty, or more than one line"):
            mail.secret_of(source, SourceSecrets(bad))
    with pytest.raises(UserError, match="--password-file"):
        mail.secret_of(source, SourceSecrets(None))


def loaded(mail_server, hosted=None):
    stack = SimpleNamespace(domain="voisins.test", hosted=hosted or {}, tools={"postfix-dovecot":
                                                                              SimpleNamespace(server="main")})
    catalog = SimpleNamespace(tools={"other-mail": SimpleNamespace(name="Other Mail")})
    return SimpleNamespace(stack=stack, wiring=SimpleNamespace(mail_server=mail_server, catalog=catalog),
                           target=lambda name: name)


def test_hosted_mail_says_what_to_ask_the_hoster():
    with pytest.raises(UserError) as caught:
        mail.MOVER.destination(loaded(None, {"email": "Infomaniak"}), "alice")
    assert "hosted by Infomaniak" in caught.value.message
    assert "Infomaniak" in caught.value.hint and "IMAP" in caught.value.hint


@pytest.mark.parametrize("to, address", [("alice", "alice@voisins.test"), ("alice@voisins.test", "alice@voisins.test")])
def test_the_destination_is_the_members_mailbox(to, address):
    dest = mail.MOVER.destination(loaded("postfix-dovecot"), to)
    assert dest.address == address and dest.target == "main"


@pytest.mark.parametrize("to, named", [("alice@elsewhere.org", "not an address of voisins.test"),
                                       ("Alice Martin", "is not a user name")])
def test_a_bad_member_is_refused(to, named):
    with pytest.raises(UserError, match=named):
        mail.MOVER.destination(loaded("postfix-dovecot"), to)


def test_another_mail_server_is_named():
    with pytest.raises(UserError, match="Other Mail"):
        mail.MOVER.destination(loaded("other-mail"), "alice")
