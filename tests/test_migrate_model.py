"""The migration's shared parts: the dry-run contract's shape, the check that every source item is
listed once, the moves CSV and the report beside the stack file."""

from __future__ import annotations

import json

import pytest

from sovstack.errors import CatalogError, UserError
from sovstack.migrate import run
from sovstack.migrate.model import Inventory, Item, RunResult, Skipped, SourceSecrets
from sovstack.migrate.report import JSON_NAME, MARKDOWN_NAME, record


def test_the_dry_run_json_has_the_contract_keys_sorted():
    inv = Inventory("calendars", "a.ics", items=[Item("b", "2"), Item("a", "1")],
                    skipped=[Skipped("a", "3", "cancelled")])
    assert inv.as_json() == {"kind": "calendars", "source": "a.ics",
                             "items": [{"collection": "a", "id": "1"}, {"collection": "b", "id": "2"}],
                             "skipped": [{"collection": "a", "id": "3", "why": "cancelled"}]}


@pytest.mark.parametrize("items, skipped, twice", [
    ([Item("a", "1"), Item("a", "2")], [], []),
    ([Item("a", "1"), Item("a", "1")], [], [("a", "1")]),
    ([Item("a", "1")], [Skipped("a", "1", "why")], [("a", "1")]),
    ([Item("a", "1")], [Skipped("b", "1", "why")], []),  # the same key in two collections is two items
])
def test_an_item_listed_twice_is_found(items, skipped, twice):
    assert Inventory("mail", "s", items=items, skipped=skipped).twice() == twice


class Twice:
    kind = "mail"

    def inventory(self, source, secrets):
        return Inventory("mail", source, items=[Item("INBOX", "<a@x>")], skipped=[Skipped("INBOX", "<a@x>", "x")])


def test_a_mover_that_lists_an_item_twice_is_a_bug_not_a_result():
    with pytest.raises(CatalogError, match="twice"):
        run.inventory(Twice(), run.Move("alice", "s", SourceSecrets()))


@pytest.mark.parametrize("text, message", [
    ("member,source\nalice,a.ics\n", "no column 'to', 'from'"),
    ("to,from\n", "no moves in it"),
    ("to,from\nalice,\n", "line 2: 'to' and 'from' must both be given"),
])
def test_a_bad_moves_file_names_the_file_and_the_fix(tmp_path, text, message):
    path = tmp_path / "moves.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as caught:
        run.moves_from_csv(path, "password")
    assert str(path) in caught.value.message and caught.value.hint


def test_the_moves_file_reads_secret_files_beside_it(tmp_path):
    path = tmp_path / "moves.csv"
    path.write_text("to,from,secret_file,to_secret_file\nalice,a.ics,alice.pass,alice.app\nbob,b.ics,,\n")
    moves = run.moves_from_csv(path, "token")
    assert [(m.to, m.source, m.secrets.path, m.secrets.kind, m.secrets.to_path) for m in moves] == [
        ("alice", "a.ics", tmp_path / "alice.pass", "token", tmp_path / "alice.app"), ("bob", "b.ics", None, "token", None)]


def result(member, missing=()):
    return RunResult("contacts", member, "c.vcf", "radicale", expected=3, copied=3 - len(missing),
                     missing=list(missing), altered={}, skipped=[Skipped("c", "x", "no | name")])


def test_the_report_keeps_each_moves_latest_state_and_names_every_loss(tmp_path):
    record(tmp_path, result("alice", [Item("Contacts", "uid-1")]))
    record(tmp_path, result("bob"))
    record(tmp_path, result("alice"))  # the re-run of alice's move replaces its entry
    moves = json.loads((tmp_path / JSON_NAME).read_text())["moves"]
    assert [(m["member"], m["verified"], m["missing"]) for m in moves] == [("alice", True, []), ("bob", True, [])]
    record(tmp_path, result("bob", [Item("Contacts", "uid-9")]))
    text = (tmp_path / MARKDOWN_NAME).read_text()
    assert "missing at the destination: Contacts / uid-9" in text and "**NO**" in text
    assert "no \\| name" in text  # a source's text cannot break the table
    assert "revoke the app passwords" in text
