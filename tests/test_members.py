"""Members without a server: CSV import, validation, the LDIF the directory is given; fuzzed.

The end-to-end proof (a member logs in to IMAP and Roundcube) is tests/test_members_mail_sandbox.py.
"""

from __future__ import annotations

import string
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovstack.errors import UserError
from sovstack.members.accounts import (
    check_member,
    check_password,
    member_ldif,
    parse_ldif,
    read_csv,
)
from tests.conftest import REPO

HEADER = "username,name,email\n"

GOOD_CSV = [
    # (id, text, expected (username, name, contact))
    ("plain", HEADER + "alice,Alice Martin,alice@example.net\n", [("alice", "Alice Martin", "alice@example.net")]),
    ("quoted comma and accents", HEADER + 'chloe,"Chloé Ünal, trésorière",chloe@example.net\n',
     [("chloe", "Chloé Ünal, trésorière", "chloe@example.net")]),
    ("spreadsheet BOM, CRLF, blank lines", "\ufeff" + HEADER.replace("\n", "\r\n") + "\r\nbob,Bob,bob@example.net\r\n\r\n",
     [("bob", "Bob", "bob@example.net")]),
    ("header in capitals, spaces trimmed", "Username, Name ,EMAIL\n dan ,  Dan   Le  Bihan , dan@example.net \n",
     [("dan", "Dan Le Bihan", "dan@example.net")]),
    ("no email: allowed by the parser", HEADER + "eve,Eve,\n", [("eve", "Eve", None)]),
]


@pytest.mark.parametrize("name,text,expected", GOOD_CSV, ids=[g[0] for g in GOOD_CSV])
def test_a_good_csv_gives_its_members(tmp_path, name, text, expected):
    path = tmp_path / "members.csv"
    path.write_text(text, encoding="utf-8")
    assert [(m.username, m.name, m.contact) for m in read_csv(path)] == expected


BAD_CSV = [
    # (id, content (str or bytes), words the message must contain)
    ("empty file", "", ["line 1", "username,name,email"]),
    ("wrong header", "login,name,mail\nalice,A,a@example.net\n", ["line 1", "'login,name,mail'"]),
    ("header only", HEADER, ["no members"]),
    ("bad user name", HEADER + "Alice!,A,a@example.net\n", ["line 2 column username", "'Alice!'", "lowercase"]),
    ("bad address", HEADER + "alice,A,alice-at-example\n", ["line 2 column email", "'alice-at-example'"]),
    ("missing column", HEADER + "alice,Alice\n", ["line 2", "2 columns instead of 3", "quote names"]),
    ("twice the same member", HEADER + "alice,A,a@example.net\nalice,B,b@example.net\n",
     ["line 3", "already on line 2"]),
    ("control character in a name", HEADER + "alice,\"A\x07\",a@example.net\n", ["line 2 column name"]),
    ("not UTF-8", b"username,name,email\nalice,Ren\xe9,a@example.net\n", ["not UTF-8", "CSV UTF-8"]),
    ("every bad line named at once", HEADER + "B1,A,a@example.net\nok,Ok,ok@example.net\nB2,A,a@example.net\n",
     ["line 2", "line 4", "nobody was added"]),
]


@pytest.mark.parametrize("name,content,words", BAD_CSV, ids=[b[0] for b in BAD_CSV])
def test_a_bad_csv_names_the_line_column_value_and_fix(tmp_path, name, content, words):
    path = tmp_path / "members.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserError) as caught:
        read_csv(path)
    text = str(caught.value)
    assert str(path) in text or "line" not in words[0]
    for word in words:
        assert word in text, (word, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=400),
                 st.text(alphabet=string.printable + "éÜ\ufeff\u2028\x00", max_size=400).map(str.encode),
                 st.lists(st.lists(st.text(max_size=20), min_size=0, max_size=4), max_size=6).map(
                     lambda rows: ("username,name,email\n" + "\n".join(",".join(r) for r in rows)).encode())))
def test_any_csv_gives_members_or_a_clear_error_never_a_traceback(tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        found = read_csv(path)
    except UserError as exc:
        assert exc.message and exc.hint
        return
    for member in found:  # what is accepted is what the directory can take
        assert check_member(member.username, member.name, member.contact, "again") == member


@settings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1, max_size=60).filter(lambda n: n.strip() and not any(ord(c) < 32 for c in n)),
       password=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), min_size=10, max_size=40))
def test_any_name_and_password_reach_the_directory_intact(name, password):
    """LDIF with base64 values: no name or password can add an attribute or an entry (RFC 2849)."""
    member = check_member("alice", name, None, "fuzz")
    entries = parse_ldif(member_ldif(member, "ou=people,dc=example,dc=org", "alice@example.org", password))
    assert len(entries) == 1
    entry = entries[0]
    assert entry["dn"] == ["uid=alice,ou=people,dc=example,dc=org"]
    assert entry["cn"] == [member.name] and entry["userpassword"] == [password]
    assert set(entry) == {"dn", "objectclass", "uid", "cn", "sn", "displayname", "mail", "userpassword"}


@pytest.mark.parametrize("password, ok", [("short", False), ("exactly10!", True), ("with\x00nul-char", False),
                                          ("long enough\n", True)])
def test_passwords_need_ten_printable_characters(password, ok):
    if ok:
        assert check_password(password) == password.rstrip("\n")
    else:
        with pytest.raises(UserError, match="at least 10"):
            check_password(password)


def run(*args: str, cwd, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sovstack", *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin, timeout=120)


def test_a_bad_csv_is_refused_before_the_stack_or_any_server_is_touched(tmp_path):
    (tmp_path / "bad.csv").write_text(HEADER + "Bad!,X,x@example.net\n")
    result = run("members", "import", "bad.csv", "--stack", "does-not-exist.yml", cwd=tmp_path)
    assert result.returncode == 2 and "line 2 column username" in result.stderr
    assert not (tmp_path / "secrets.yml").exists()


@pytest.mark.parametrize("args, words", [
    (["members", "add", "alice", "--name", "Alice"], ["nobody would learn the password", "--email"]),
    (["members", "add", "Alice", "--name", "Alice", "--email", "a@example.net"], ["'Alice'", "lowercase"]),
    (["members", "add", "alice", "--name", "Alice", "--email", "nope"], ["'nope' is not a mail address"]),
    (["members", "password", "alice"], ["nobody would learn the new password"]),
])
def test_members_commands_refuse_bad_input_before_connecting(tmp_path, args, words):
    result = run(*args, "--stack", "does-not-exist.yml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr



# Addresses that would reach a shell, LDIF, SQL or a mail header: refused like the stack file's
# admin_email (one pattern, sovstack/patterns.py), before the stack file or any server is touched.
HOSTILE_ADDRESSES = ["a$b@example.net", "a`id`@example.net", "$(reboot)@example.net", "a;b@example.net",
                     "a|b@example.net", "a{b}@example.net", "a!b@example.net", "a b@example.net",
                     'a"b@example.net', "a\n@example.net", "a@example.net\nBcc: x@example.net", "a@b",
                     "a@exa$mple.net", "a..b@example.net", "x" * 65 + "@example.net"]


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_members_add_refuses_a_hostile_address_and_changes_nothing(tmp_path, address):
    stack = tmp_path / "sovstack.yml"
    stack.write_text((REPO / "examples" / "stacks" / "single.yml").read_text())
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run("members", "add", "alice", "--name", "Alice", "--email", address, "--stack", str(stack),
                 cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "is not a mail address" in result.stderr and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_an_apostrophe_address_gets_past_the_address_check():
    assert check_member("obrien", "O'Brien", "o'brien@example.net", "members add:").contact == "o'brien@example.net"
