"""`sovstack migrate lists`: the inventory of a list export (Mailchimp zip, Google Groups CSV, plain CSV).

The exports here are stand-ins written by the tests, shaped like the real files as far as public
sources show them (sovstack/migrate/movers/lists.py says which parts are UNVERIFIED); no Mailchimp or
Google account is reached. No destination exists yet (no list tool is deployable), so what is proven
is the inventory and the dry-run contract, and that a real move is refused before anything is written.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from sovstack.errors import UserError
from sovstack.migrate import run
from sovstack.migrate.model import SourceSecrets
from sovstack.migrate.movers import lists
from sovstack.migrate.movers.lists import CLEANED, MOVER, UNSUBSCRIBED
from tests.test_cli_conventions import clean_env, run as sovstack, stack_in

# The columns seen in public code that reads Mailchimp's audience exports (merge fields vary).
HEADER = ("Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,"
          "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS")
UNSUB_EXTRA = ",UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER"
CLEAN_EXTRA = ",CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID"


def member(address, optin="2020-01-01 10:00:00", confirm="", name="Ann"):
    return f"{address},{name},,2,{optin},,{confirm},,,,,,,,,2024-01-01,1,e,,"


def mailchimp_zip(folder: Path, subscribed, unsubscribed=(), cleaned=(), name="members_export_3f2a.zip",
                  leave_out=(), folder_in_zip=""):
    """A stand-in for Mailchimp's audience export: the three CSVs, each with its header."""
    files = {"subscribed": (HEADER, subscribed), "unsubscribed": (HEADER + UNSUB_EXTRA, unsubscribed),
             "cleaned": (HEADER + CLEAN_EXTRA, cleaned)}
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for what, (header, rows) in files.items():
            if what not in leave_out:
                extra = {"subscribed": "", "unsubscribed": ",2023-05-01,,,,", "cleaned": ",2023-05-01,,"}[what]
                body = "".join(f"{r}{extra}\n" for r in rows)
                archive.writestr(f"{folder_in_zip}{what}_members_export_3f2a.csv", f"{header}\n{body}")
    return path


def inventory(path, to=""):
    return run.inventory(MOVER, run.Move(to, str(path), SourceSecrets()))


def listed(inv):
    return ({i.id: inv.extra[i].action for i in inv.items}, {s.id: s.why for s in inv.skipped})


# (subscribed rows, unsubscribed rows, cleaned rows) -> (items with what a copy does, skipped with why)
CASES = [
    pytest.param([member("ann@asso.example")], [], [],
                 {"ann@asso.example": "subscribe"}, {}, id="one-member-with-consent"),
    pytest.param([member("Ann@Asso.Example")], [], [],
                 {"ann@asso.example": "subscribe"}, {}, id="address-lower-cased"),
    pytest.param([member("ann@asso.example", optin="", confirm="")], [], [],
                 {"ann@asso.example": "invite"}, {}, id="no-record-of-consent-is-invited"),
    pytest.param([member("ann@asso.example", optin="", confirm="2020-02-02 09:00:00")], [], [],
                 {"ann@asso.example": "subscribe"}, {}, id="confirm-time-alone-is-consent"),
    pytest.param([member("ann@asso.example"), member("ANN@asso.example")], [], [],
                 {"ann@asso.example": "subscribe"},
                 {"ann@asso.example (subscribed_members_export_3f2a.csv, line 3)":
                  "duplicate of subscribed_members_export_3f2a.csv, line 2 (addresses compared ignoring case)"},
                 id="duplicate-ignoring-case-skipped-once"),
    pytest.param([member("ann@asso.example")], [member("ben@asso.example")], [member("cat@asso.example")],
                 {"ann@asso.example": "subscribe"}, {"ben@asso.example": UNSUBSCRIBED, "cat@asso.example": CLEANED},
                 id="unsubscribed-and-cleaned-are-bans"),
    pytest.param([member("Ben@asso.example")], [member("ben@ASSO.example")], [],
                 {}, {"ben@asso.example": UNSUBSCRIBED,
                      "ben@asso.example (subscribed_members_export_3f2a.csv, line 2)":
                      "also unsubscribed at the source (unsubscribed_members_export_3f2a.csv, line 2): never subscribed"},
                 id="unsubscribed-wins-over-subscribed"),
    pytest.param([member("cat@asso.example")], [], [member("cat@asso.example")],
                 {}, {"cat@asso.example": CLEANED,
                      "cat@asso.example (subscribed_members_export_3f2a.csv, line 2)":
                      "also cleaned (bounced) at the source (cleaned_members_export_3f2a.csv, line 2): never subscribed"},
                 id="cleaned-wins-over-subscribed"),
    pytest.param([member("not-an-address"), member("a b@asso.example"), member("ann@asso"), member("")], [], [],
                 {}, {"not-an-address": "not a valid address: 'not-an-address'",
                      "a b@asso.example": "not a valid address: 'a b@asso.example'",
                      "ann@asso": "not a valid address: 'ann@asso'",
                      "(empty)": "no address in this row"}, id="invalid-addresses-skipped"),
    pytest.param([member("élodie@exemple.fr"), member("x@ünï.example")], [], [],
                 {"élodie@exemple.fr": "subscribe", "x@ünï.example": "subscribe"}, {}, id="non-ascii-addresses"),
]


@pytest.mark.parametrize("subscribed, unsubscribed, cleaned, items, skipped", CASES)
def test_each_row_lands_once_with_its_reason_with_standin_mailchimp_export(tmp_path, subscribed, unsubscribed,
                                                                            cleaned, items, skipped):
    inv = inventory(mailchimp_zip(tmp_path, subscribed, unsubscribed, cleaned), to="newsletter")
    assert listed(inv) == (items, skipped)
    assert len(inv.items) + len(inv.skipped) == len(subscribed) + len(unsubscribed) + len(cleaned)
    assert {i.collection for i in inv.items} | {s.collection for s in inv.skipped} <= {"newsletter"}
    # no address that left at the source is ever to be subscribed or invited
    assert not set(lists.bans(inv)) & set(items)


def test_who_is_invited_and_who_is_banned_with_standin_mailchimp_export(tmp_path):
    path = mailchimp_zip(tmp_path, [member("ann@asso.example", optin=""), member("dan@asso.example")],
                         [member("ben@asso.example")], [member("cat@asso.example")], folder_in_zip="audience/")
    inv = inventory(path)
    assert {i.collection for i in inv.items} == {"members_export_3f2a"}  # no --to: the file's name
    assert lists.invited(inv) == ["ann@asso.example"]
    assert lists.bans(inv) == ["ben@asso.example", "cat@asso.example"]
    notes = " ".join(inv.notes)
    assert "1 address(es) show no record of consent" in notes and "ann@asso.example" in notes
    assert "2 address(es) left the list" in notes


GROUPS = """Members for group Bureau de l'asso
Email address,Nickname,Group status,Email status,Email preference,Posting permissions,Join year,Join month,Join day,Join hour,Join minute,Join second,Time zone
ann@asso.example,Ann,owner,,All email,Allowed,2019,3,1,10,0,0,Europe/Paris
ben@asso.example,Ben,member,,Digest,Allowed,2020,1,1,10,0,0,Europe/Paris
Ben@Asso.example,Ben,member,,Digest,Allowed,2020,1,1,10,0,0,Europe/Paris
cat@asso.example,,invited,,,,,,,,,,
dan@asso.example,,pending,,,,,,,,,,

eve@asso.example,Eve,manager,,All email,Allowed,2021,1,1,10,0,0,Europe/Paris
"""


def test_statuses_are_read_with_standin_google_groups_export(tmp_path):
    path = tmp_path / "bureau.csv"
    path.write_text(GROUPS)
    inv = inventory(path)
    items, skipped = listed(inv)
    assert items == {"ann@asso.example": "subscribe", "ben@asso.example": "subscribe", "cat@asso.example": "invite",
                     "eve@asso.example": "subscribe"}
    assert skipped == {
        "ben@asso.example (bureau.csv, line 5)": "duplicate of bureau.csv, line 4 (addresses compared ignoring case)",
        "dan@asso.example": "asked to join at the source and was never approved: not subscribed "
                            "(approve them on the new list if the group wants)"}
    assert {i.collection for i in inv.items} == {"Bureau de l'asso"}  # the group's name from its first line
    assert any("owner(s) or manager(s)" in n and "ann@asso.example, eve@asso.example" in n for n in inv.notes)


@pytest.mark.parametrize("text, encoding, items", [
    ("email,name\nann@asso.example,Ann\nben@asso.example,Ben\n", "utf-8", ["ann@asso.example", "ben@asso.example"]),
    ("Nom;Courriel\nÉlodie;elodie@asso.example\n", "cp1252", ["elodie@asso.example"]),  # French Excel's CSV
    ("\ufeffE-mail\nann@asso.example\n", "utf-8", ["ann@asso.example"]),
    ("ann@asso.example\nben@asso.example\n", "utf-8", ["ann@asso.example", "ben@asso.example"]),  # no header
])
def test_a_plain_csv_is_read_and_every_address_invited(tmp_path, text, encoding, items):
    path = tmp_path / "membres.csv"
    path.write_bytes(text.encode(encoding))
    inv = inventory(path, to="membres")
    assert sorted(i.id for i in inv.items) == items and not inv.skipped
    assert lists.invited(inv) == items  # a plain list shows no record of consent
    assert any("no record of consent" in n for n in inv.notes)


BAD = [
    ("no-address.csv", b"name,phone\nAnn,0102\n", "no address column", "'email'"),
    ("members_export.zip", b"not a zip at all", "not a readable zip", "as downloaded"),
    ("unsubscribed_members_export_3f2a.csv", (HEADER + UNSUB_EXTRA + "\n").encode(), "one file of a Mailchimp export",
     "whole zip"),
    ("left.csv", (HEADER + CLEAN_EXTRA + "\nann@asso.example\n").encode(), "one file of a Mailchimp export",
     "whole zip"),
    ("empty.csv", b"", "no addresses in it", "members"),
    ("binary.csv", bytes(range(128, 256)) * 4, "not a text file", "UTF-8"),
]


@pytest.mark.parametrize("name, content, message, fix", BAD, ids=[b[0] for b in BAD])
def test_a_file_not_what_it_claims_is_refused_with_standin_files(tmp_path, name, content, message, fix):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as caught:
        inventory(path)
    assert str(path) in caught.value.message and fix in caught.value.hint


@pytest.mark.parametrize("leave_out, message", [
    (("unsubscribed",), "no unsubscribed_members_export_*.csv"),
    (("subscribed", "cleaned"), "no cleaned_members_export_*.csv, subscribed_members_export_*.csv"),
])
def test_a_zip_without_the_mailchimp_files_is_refused_with_standin_zip(tmp_path, leave_out, message):
    path = mailchimp_zip(tmp_path, [member("ann@asso.example")], leave_out=leave_out)
    with pytest.raises(UserError, match=re.escape(message)) as caught:
        inventory(path)
    assert str(path) in caught.value.message and "three files" in caught.value.hint


def test_a_zip_of_several_audiences_is_refused_with_standin_zip(tmp_path):
    path = mailchimp_zip(tmp_path, [member("ann@asso.example")])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("other/subscribed_members_export_99.csv", HEADER + "\n")
    with pytest.raises(UserError, match="holds 2 audiences"):
        inventory(path)


# --- the command --------------------------------------------------------------------------------

def test_dry_run_json_needs_no_stack_with_standin_mailchimp_export(tmp_path):
    path = mailchimp_zip(tmp_path, [member("ann@asso.example"), member("ANN@asso.example")],
                         [member("ben@asso.example")])
    work = tmp_path / "empty"
    work.mkdir()
    done = sovstack("migrate", "lists", "--from", str(path), "--to", "infolettre", "--dry-run", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "kind": "lists", "source": str(path),
        "items": [{"collection": "infolettre", "id": "ann@asso.example"}],
        "skipped": [
            {"collection": "infolettre", "id": "ann@asso.example (subscribed_members_export_3f2a.csv, line 3)",
             "why": "duplicate of subscribed_members_export_3f2a.csv, line 2 (addresses compared ignoring case)"},
            {"collection": "infolettre", "id": "ben@asso.example", "why": UNSUBSCRIBED}]}
    assert list(work.iterdir()) == []


def test_a_bad_file_exits_2_and_writes_nothing(tmp_path):
    path = tmp_path / "no-address.csv"
    path.write_text("name,phone\nAnn,0102\n")
    stack = stack_in(tmp_path / "stack")
    before = sorted(p.name for p in stack.parent.iterdir())
    done = sovstack("migrate", "lists", "--from", str(path), "--to", "membres", cwd=stack.parent)
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(path) in done.stderr and "no address column" in done.stderr and "fix:" in done.stderr
    assert sorted(p.name for p in stack.parent.iterdir()) == before


def test_a_move_into_a_stack_without_mailman_is_refused_saying_what_to_do_with_standin_mailchimp_export(tmp_path):
    """The stack has no list tool: the move stops before anything is written, and says what to do."""
    path = mailchimp_zip(tmp_path, [member("ann@asso.example")])
    stack = stack_in(tmp_path / "stack")
    before = sorted(p.name for p in stack.parent.iterdir())
    done = sovstack("migrate", "lists", "--from", str(path), "--to", "infolettre", cwd=stack.parent,
                    env=clean_env())
    assert done.returncode == 2, done.stdout + done.stderr
    for phrase in ("lists move into Mailman 3", "the stack has no mailman3", "add mailman3 to 'tools'",
                   "Framalistes by Framasoft", "never the unsubscribed"):
        assert phrase in done.stderr, phrase
    assert sorted(p.name for p in stack.parent.iterdir()) == before  # no migration report either


@pytest.mark.parametrize("to, named, fix", [
    ("Info Lettre", "not a list name", "lower-case letters, digits and dashes"),
    ("9lives", "not a list name", "starting with a letter"),
    ("members", "keeps that list's subscribers from the directory (every member)", "a name of its own"),
    ("nord", "the group nord's members", "a name of its own"),
])
def test_a_newsletter_name_mailman_cannot_take_or_sovstack_keeps_is_refused_before_any_server(tmp_path, to, named, fix):
    import yaml

    path = mailchimp_zip(tmp_path, [member("ann@asso.example")])
    stack = stack_in(tmp_path / "stack")
    data = yaml.safe_load(stack.read_text())
    data["tools"]["mailman3"] = {"server": "main"}
    data["groups"] = {"nord": {"name": "Groupe Nord"}}
    stack.write_text(yaml.safe_dump(data))
    before = sorted(p.name for p in stack.parent.iterdir())
    done = sovstack("migrate", "lists", "--from", str(path), "--to", to, cwd=stack.parent, env=clean_env())
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--to {to}" in done.stderr or f"--to {to!r}" in done.stderr, done.stderr
    assert named in done.stderr and fix in done.stderr, done.stderr
    assert sorted(p.name for p in stack.parent.iterdir()) == before  # the server (203.0.113.10) was never asked


@pytest.mark.parametrize("source, suffix", [("Audience.ZIP", ".zip"), ("groups.csv", ".csv"),
                                            ("adresses.txt", ".txt"), ("export", ".export"),
                                            ("x.sh;rm -rf", ".export")])
def test_the_kept_export_is_named_by_its_content_inside_mailmans_backup_set(source, suffix):
    from sovstack.catalog import load_catalog

    path = lists.evidence_path("infolettre", b"Email Address\nann@asso.example\n", source)
    assert path == lists.evidence_path("infolettre", b"Email Address\nann@asso.example\n", "other/" + source)
    assert path != lists.evidence_path("infolettre", b"Email Address\nbob@asso.example\n", source)
    assert re.fullmatch(r"/var/lib/sovstack/mailman3/consent/infolettre/[0-9a-f]{32}" + re.escape(suffix), path)
    backup = load_catalog().tools["mailman3"].deploy.backup
    assert any(path.startswith(kept.rstrip("/") + "/") for kept in backup.paths), backup.paths
