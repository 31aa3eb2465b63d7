"""Network mode without a server: the stack file's 'groups', `sovstack groups add|list|remove` on the file,
and what deploy renders for the groups (directory entries, the wiki's access rules).

The real proof (members join and move, the wiki's namespaces, backup, purge) is tests/test_network_sandbox.py.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovstack.catalog import load_catalog
from sovstack.errors import UserError
from sovstack.render.bundle import render
from sovstack.render.files import dokuwiki_name
from sovstack.stack.groupsfile import replace_groups_block
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import Group, parse_stack
from sovstack.wiring.wire import wire
from sovstack.yamlio import load_yaml_text

CATALOG = load_catalog()
STACK = """\
# The association's stack (a comment the techie wrote)
organisation: Voisins
domain: voisins.test
admin_email: admin@voisins.test
servers:
  main: {address: 192.0.2.10}
tools:
  openldap: {server: main}   # the directory
  dokuwiki: {server: main}
# the portal stays on
portal: {enabled: true}
"""


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sovstack", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def stack_with(groups: dict) -> dict:
    return {**load_yaml_text(STACK, "sovstack.yml"), "groups": groups}


@pytest.mark.parametrize("groups, words", [
    ({"Lyon": {"name": "Lyon"}}, ["group id 'Lyon'", "lowercase"]),
    ({"user": {"name": "X"}}, ["'user' is reserved"]),
    ({"toolkit": {"name": "X"}}, ["'toolkit' is reserved"]),
    ({"a": {"name": "A", "hub": True}, "b": {"name": "B", "hub": True}}, ["a and b are both marked hub"]),
    ({"a": {"name": "A\nB"}}, ["one line of printable text"]),
    ({"a": {"name": "A", "coordinators": ["Ada"]}}, ["'Ada' is not a user name"]),
    ({"a": {"name": "A", "members": ["ada"]}}, ["members"]),
])
def test_bad_groups_are_refused_naming_the_key_and_the_fix(groups, words):
    with pytest.raises(UserError) as error:
        parse_stack(stack_with(groups), "sovstack.yml", CATALOG)
    for word in words:
        assert word in error.value.message, error.value.message


def test_groups_need_a_directory_sovstack_manages():
    data = stack_with({"a": {"name": "A"}})
    data["tools"] = {"dokuwiki": {"server": "main"}}
    with pytest.raises(UserError) as error:
        parse_stack(data, "sovstack.yml", CATALOG)
    assert "key 'groups'" in error.value.message and "add openldap" in error.value.message


GROUP_SETS = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True).filter(lambda g: g not in ("all", "admin", "members",
                                                                                      "user", "toolkit")),
    st.builds(lambda name, hub: Group(name=name, hub=hub),
              st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)
              .map(str.strip).filter(lambda s: s and s.isprintable()), st.just(False)),
    max_size=5)


@settings(max_examples=60, deadline=None)
@given(first=GROUP_SETS, second=GROUP_SETS)
def test_rewriting_the_groups_block_keeps_every_other_line_and_reads_back(first, second):
    once = replace_groups_block(STACK, first)
    twice = replace_groups_block(once, second)
    for text, groups in ((once, first), (twice, second)):
        stack = parse_stack(load_yaml_text(text, "sovstack.yml"), "sovstack.yml", CATALOG)
        assert stack.groups == groups
        # The techie's lines, comments included, are all still there and in order.
        kept = [line for line in text.splitlines() if line in STACK.splitlines()]
        assert kept == STACK.splitlines()
    assert replace_groups_block(twice, {}) == STACK


def test_groups_add_list_remove_change_only_the_groups_block(tmp_path):
    (tmp_path / "sovstack.yml").write_text(STACK)
    assert run("groups", "add", "coordination", "--name", "Coordination du réseau", "--hub", "--coordinator", "ada",
               cwd=tmp_path).returncode == 0
    added = run("groups", "add", "lyon-nord", "--name", "Lyon Nord", cwd=tmp_path)
    assert added.returncode == 0 and "DokuWiki: a namespace of the wiki" in added.stdout, added.stdout
    listed = run("groups", "list", cwd=tmp_path).stdout
    assert "coordination\tCoordination du réseau\thub\tada" in listed and "lyon-nord\tLyon Nord\tgroup" in listed
    assert run("groups", "remove", "lyon-nord", cwd=tmp_path).returncode == 0
    stack = parse_stack(load_yaml_text((tmp_path / "sovstack.yml").read_text(), "x"), "x", CATALOG)
    assert stack.groups["lyon-nord"].archived and stack.hub() == "coordination"
    assert (tmp_path / "sovstack.yml").read_text().startswith(STACK)


@pytest.mark.parametrize("args, words", [
    (["groups", "add", "Lyon", "--name", "L"], ["'Lyon' is not a group id"]),
    (["groups", "add", "user", "--name", "L"], ["'user' is not a group id"]),
    (["groups", "add", "hub2", "--name", "H", "--hub"], ["'hub' is already the hub"]),
    (["groups", "add", "hub", "--name", "H"], ["'hub' is already a group"]),
    (["groups", "add", "x", "--name", "bad\nname"], ["one line of printable text"]),
    (["groups", "add", "x", "--name", "X", "--coordinator", "Ada!"], ["is not a user name"]),
    (["groups", "remove", "nowhere"], ["no group 'nowhere'", "use one of hub"]),
    (["members", "join", "ada", "nowhere"], ["no group 'nowhere'"]),
])
def test_bad_group_commands_name_the_value_and_change_nothing(tmp_path, args, words):
    (tmp_path / "sovstack.yml").write_text(STACK + "groups:\n  hub: {name: Hub, hub: true}\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def rendered(tmp_path, groups: dict, tools: tuple[str, ...] = ("openldap", "dokuwiki", "radicale"),
             organisation: str = "Voisins") -> dict[str, str]:
    data = {**stack_with(groups), "organisation": organisation}
    data["tools"] = {t: {"server": "main"} for t in tools}
    stack = parse_stack(data, "sovstack.yml", CATALOG)
    w = wire(stack, CATALOG)
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", w.wanted_secrets())
    [bundle] = render(w, secrets, tmp_path / "build")
    return {dest: content.decode() for dest, content in bundle.files.items()}


def acl_rules(files: dict[str, str]) -> list[tuple[str, str, int]]:
    text = files["/etc/sovstack/dokuwiki/acl.auth.php"]
    return [(scope, who, int(level)) for scope, who, level in
            (line.split() for line in text.splitlines() if line.strip() and not line.startswith("#"))]


NETWORK = {"coordination": {"name": "Coordination", "hub": True, "coordinators": ["ada"]},
           "lyon-nord": {"name": "Lyon Nord"}, "sud": {"name": "Sud", "archived": True}}


def test_the_wiki_gives_each_group_its_namespace_the_hub_its_toolkit_and_an_archived_group_read_only(tmp_path):
    rules = acl_rules(rendered(tmp_path, NETWORK))
    assert rules == [
        ("*", "@ALL", 0), ("*", "@user", 8),
        ("toolkit:*", "@user", 1), ("toolkit:*", "@coordination", 8),
        ("coordination:*", "@user", 1), ("coordination:*", "@coordination", 8),
        ("lyon-nord:*", "@user", 1), ("lyon-nord:*", "@lyon%2dnord", 8),
        ("sud:*", "@user", 1),
    ]


def test_without_groups_the_wiki_keeps_one_rule_for_every_member(tmp_path):
    assert acl_rules(rendered(tmp_path, {})) == [("*", "@ALL", 0), ("*", "@user", 8)]


def test_the_directory_gets_one_group_entry_per_group_with_its_name_and_coordinators(tmp_path):
    files = rendered(tmp_path, NETWORK)
    entries = files["/etc/sovstack/openldap/groups.ldif"]
    assert entries.count("objectClass: groupOfNames") == 3
    assert "member: cn=lyon-nord,ou=groups,dc=voisins,dc=test" in entries  # a group may start empty
    settings_ = files["/etc/sovstack/openldap/groups-set.ldif"]
    assert f"description:: {base64.b64encode('Lyon Nord'.encode()).decode()}" in settings_
    assert "owner: uid=ada,ou=people,dc=voisins,dc=test" in settings_
    assert "businessCategory: group archived" in settings_


@pytest.mark.parametrize("name, encoded", [
    ("nord", "nord"), ("lyon-nord", "lyon%2dnord"), ("a.b", "a%2eb"), ("a_b", "a%5fb"), ("été", "été"),
])
def test_group_names_are_spelled_as_dokuwikis_acl_file_expects(name, encoded):
    assert dokuwiki_name(name) == encoded


@pytest.mark.parametrize("tool", sorted(t for t in CATALOG.tools if CATALOG.tools[t].deploy
                                        and CATALOG.tools[t].deploy.group_spaces))
def test_a_groups_space_lies_inside_what_the_backup_saves(tool):
    # "Group spaces are backed up and restored": each path --purge deletes is inside a path the backup takes.
    deploy = CATALOG.tools[tool].deploy
    saved = [p.rstrip("/") + "/" for p in deploy.backup.paths]
    for path in deploy.group_spaces.paths:
        assert any(path.startswith(s) for s in saved), f"{tool}: {path} is not under {saved}"


FAKE_LDAPSEARCH = """#!/bin/sh
# Stands in for ldapsearch: answers the base search of ou=groups, and each group's members from $MEMBERS_DIR.
for arg; do case "$arg" in cn=*) group=${arg#cn=}; group=${group%%,*};; esac; done
[ -z "${group:-}" ] && exit 0
[ -f "$MEMBERS_DIR/$group" ] || exit 32
echo "dn: cn=$group,ou=groups,dc=voisins,dc=test"
while read -r who; do echo "member: uid=$who,ou=people,dc=voisins,dc=test"; done < "$MEMBERS_DIR/$group"
"""


def run_rights_script(tmp_path, files: dict[str, str], members: dict[str, list[str]], *args: str):
    """Radicale's rights script as rendered, run here with a stand-in ldapsearch, writing into tmp_path."""
    bin_dir, members_dir = tmp_path / "bin", tmp_path / "members"
    bin_dir.mkdir(exist_ok=True)
    members_dir.mkdir(exist_ok=True)
    (bin_dir / "ldapsearch").write_text(FAKE_LDAPSEARCH)
    (bin_dir / "ldapsearch").chmod(0o755)
    for name in ("install", "systemctl"):  # record instead of acting on this machine
        (bin_dir / name).write_text(f'#!/bin/sh\necho {name} "$@" >> {tmp_path}/calls\n'
                                    + ('cp "$7" "$8"\n' if name == "install" else ""))
        (bin_dir / name).chmod(0o755)
    for group, names in members.items():
        (members_dir / group).write_text("".join(f"{n}\n" for n in names))
    script = files["/usr/local/lib/sovstack/radicale-rights.sh"].replace("rights=/etc/radicale/rights",
                                                                          f"rights={tmp_path}/rights")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MEMBERS_DIR": str(members_dir)}
    return subprocess.run(["sh", "-c", script, "radicale-rights.sh", *args], env=env, capture_output=True, text=True,
                          timeout=30)


def rights_sections(path) -> dict[str, dict[str, str]]:
    import configparser

    parser = configparser.ConfigParser()  # as Radicale reads it (with interpolation)
    parser.read_string(path.read_text())
    return {section: dict(parser[section]) for section in parser.sections()}


def test_the_calendar_rights_name_each_groups_members_and_let_every_member_read_the_hubs(tmp_path):
    files = rendered(tmp_path, NETWORK)
    b64 = {g: base64.b64encode(g.encode()).decode() for g in NETWORK}
    result = run_rights_script(tmp_path, files, {"coordination": ["ada"], "lyon-nord": ["ben", "c.lo"],
                                                 "sud": ["dan"]})
    assert result.returncode == 0, result.stderr
    rights = rights_sections(tmp_path / "rights")
    assert rights["group-lyon-nord"] == {"user": r"(ben|c\.lo)", "collection": f"GROUPS/{b64['lyon-nord']}",
                                         "permissions": "rw"}
    assert rights["group-sud"]["permissions"] == "r"  # archived
    assert rights["hub-calendar"] == {"user": ".+", "collection": f"GROUPS/{b64['coordination']}", "permissions": "r"}
    # The hub's members write their calendar: their section comes before the one that lets everyone read.
    order = list(rights)
    assert order.index("group-coordination") < order.index("hub-calendar")
    assert order[-3:] == ["root", "principal", "own-collections"]
    # No rule names a group: Radicale 3.5.3's group rules keep the last login's groups (see radicale.yml).
    assert all("groups" not in keys for keys in rights.values())
    assert "systemctl try-restart radicale" in (tmp_path / "calls").read_text()
    # Run again: nothing changes, nothing restarts; --check agrees; a new member makes --check fail.
    (tmp_path / "calls").unlink()
    assert run_rights_script(tmp_path, files, {"coordination": ["ada"], "lyon-nord": ["ben", "c.lo"],
                                               "sud": ["dan"]}).returncode == 0
    assert not (tmp_path / "calls").exists()
    assert run_rights_script(tmp_path, files, {"coordination": ["ada"], "lyon-nord": ["ben", "c.lo"], "sud": ["dan"]},
                             "--check").returncode == 0
    assert run_rights_script(tmp_path, files, {"coordination": ["ada"], "lyon-nord": ["ben"], "sud": ["dan"]},
                             "--check").returncode != 0


def test_a_group_with_no_member_opens_its_calendar_to_nobody(tmp_path):
    files = rendered(tmp_path, NETWORK)
    assert run_rights_script(tmp_path, files, {"coordination": [], "lyon-nord": [], "sud": []}).returncode == 0
    rights = rights_sections(tmp_path / "rights")
    assert [s for s in rights if s.startswith("group-")] == []


def test_the_calendar_uses_the_rights_file_and_writes_it_before_each_start(tmp_path):
    files = rendered(tmp_path, NETWORK)
    assert "type = from_file" in files["/etc/radicale/config"]
    assert not any(line.startswith("ldap_groups_attribute") for line in files["/etc/radicale/config"].splitlines())
    dropin = files["/etc/systemd/system/radicale.service.d/sovstack.conf"]
    assert "ExecStartPre=+/bin/sh /usr/local/lib/sovstack/radicale-rights.sh --no-restart" in dropin
    script = files["/usr/local/lib/sovstack/radicale-groups.sh"]
    assert f'mkdir -p "$root/{base64.b64encode(b"lyon-nord").decode()}"' in script


def test_without_groups_the_calendar_keeps_owner_only_rights(tmp_path):
    files = rendered(tmp_path, {})
    assert "type = owner_only" in files["/etc/radicale/config"]
    assert "ExecStartPre" not in files["/etc/systemd/system/radicale.service.d/sovstack.conf"]


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True))
def test_a_group_id_in_base64_is_one_safe_folder_name(group_id):
    # Radicale finds a group's calendar at GROUPS/<name in base64>: no '/' may split it into two folders.
    encoded = base64.b64encode(group_id.encode()).decode()
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=")


HOSTILE_NAMES = ["Groupe « Nord » — l'été", "a'b\"c", "$(reboot)", "`id`; rm -rf /", "x\\ny", "%s{0}{{x}}", "é" * 100,
                 "-n", "#comment", "]]></x>", "a: b", "{\"tag\": \"x\"}"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_any_group_name_reaches_the_directory_and_the_calendar_intact(tmp_path, name):
    files = rendered(tmp_path, {"nord": {"name": name}})
    ldif = files["/etc/sovstack/openldap/groups-set.ldif"]
    [line] = [x for x in ldif.splitlines() if x.startswith("description:: ")]
    assert base64.b64decode(line.split(":: ", 1)[1]).decode() == name
    script = files["/usr/local/lib/sovstack/radicale-groups.sh"]
    assert subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True, timeout=30).returncode == 0
    # Run the script's printf line itself (on a scratch folder): the props Radicale reads hold the exact name.
    root = tmp_path / "GROUPS"
    runnable = script.replace("root=/var/lib/radicale/collections/collection-root/GROUPS", f"root={root}") \
        .replace('chown -R radicale:radicale "$root"', "true")
    subprocess.run(["sh", "-e"], input=runnable, text=True, check=True, timeout=30)
    import json
    props = json.loads((root / base64.b64encode(b"nord").decode() / ".Radicale.props").read_text())
    assert props["D:displayname"] == name and props["tag"] == "VCALENDAR"


def test_the_chat_gives_each_active_group_a_members_only_room(tmp_path):
    files = rendered(tmp_path, NETWORK, tools=("openldap", "prosody"))
    lua = files["/usr/local/lib/sovstack/prosody-room.lua"]
    rooms = re.findall(r'key = "([^"]+)", jid = "([^"]+)"', lua)
    assert rooms == [("association", "association@rooms.xmpp.voisins.test"),
                     ("coordination", "coordination@rooms.xmpp.voisins.test"),
                     ("lyon-nord", "lyon-nord@rooms.xmpp.voisins.test")]  # sud is archived: left as it is
    script = files["/usr/local/lib/sovstack/prosody-room.sh"]
    assert subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True, timeout=30).returncode == 0
    assert "-b cn=lyon-nord,ou=groups,dc=voisins,dc=test -s base member" in script
    assert "members=\"$members['lyon-nord']={$group_jids},\"" in script


MAILMAN = ("openldap", "postfix-dovecot", "mailman3")


def lists_settings(files: dict[str, str], tmp_path) -> dict:
    """The rendered list script, loaded as Python (its main() does not run): the settings it was given."""
    import runpy

    path = tmp_path / "mailman3-lists.py"
    path.write_text(files["/usr/local/lib/sovstack/mailman3-lists.py"])
    return runpy.run_path(str(path), run_name="rendered")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_any_group_and_organisation_name_reaches_the_lists_intact(tmp_path, name):
    data = {"nord": {"name": name}, "coordination": {"name": "Pôle", "hub": True}, "sud": {"name": "Sud", "archived": True}}
    files = rendered(tmp_path, data, MAILMAN, organisation=name)
    found = lists_settings(files, tmp_path)
    assert found["LISTS"] == {
        "members": {"group": None, "display": name, "archived": False},
        "coordination": {"group": "coordination", "display": "Pôle", "archived": False},
        "nord": {"group": "nord", "display": name, "archived": False},
        "sud": {"group": "sud", "display": "Sud", "archived": True}}
    assert (found["HUB"], found["DOMAIN"], found["DIRECTORY"]) == ("coordination", "lists.voisins.test", True)


def test_postfix_hands_the_list_domain_to_mailman_and_rspamd_signs_for_it_only_with_mailman(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_lists = rendered(tmp_path / "a", {}, MAILMAN)
    without = rendered(tmp_path / "b", {}, ("openldap", "postfix-dovecot"))
    main_cf = with_lists["/etc/postfix/main.cf"]
    for line in ("relay_domains = lists.voisins.test", "transport_maps = hash:/var/lib/mailman3/data/postfix_lmtp",
                 "relay_recipient_maps = hash:/var/lib/mailman3/data/postfix_lmtp"):
        assert f"\n{line}\n" in main_cf
        assert line.split(" = ")[0] + " =" not in without["/etc/postfix/main.cf"]
    assert "use_esld = false;" in with_lists["/etc/rspamd/local.d/dkim_signing.conf"]
    assert "use_esld" not in without["/etc/rspamd/local.d/dkim_signing.conf"]
    # The server itself sends list mail on port 25; strangers still need a sender domain that exists.
    assert "smtpd_sender_restrictions = permit_mynetworks, reject_non_fqdn_sender, reject_unknown_sender_domain" in main_cf


def test_mailman_apart_from_its_mail_server_is_refused_naming_the_fix():
    data = stack_with({})
    data["tools"] = {"openldap": {"server": "main"}, "postfix-dovecot": {"server": "main"},
                     "mailman3": {"server": "lists"}}
    data["servers"]["lists"] = {"address": "203.0.113.11"}
    with pytest.raises(UserError) as refused:
        parse_stack(data, "sovstack.yml", CATALOG)
    assert "tools.mailman3.server' = 'lists'" in str(refused.value) and "runs beside postfix-dovecot" in str(refused.value)
    assert "place both on one server" in str(refused.value)


class DirectoryServer:
    """Stands in for the directory's server: answers the members' and the groups' searches, records every
    command and applies the membership changes (LDIF on stdin), so a change reads what it just wrote."""

    name = "main"
    people = ",ou=people,dc=voisins,dc=test"

    def __init__(self, groups: dict[str, list[str]]):
        self.groups = {g: list(m) for g, m in groups.items()}
        self.commands: list[str] = []

    def run(self, command: str, stdin: str | None = None, as_root: bool = False) -> subprocess.CompletedProcess:
        self.commands.append(command)
        out = ""
        if command.startswith("ldapsearch") and "ou=people" in command:
            out = "".join(f"dn: uid={u}{self.people}\nuid: {u}\ncn: {u.title()}\n\n" for u in ("ada", "ben"))
        elif command.startswith("ldapsearch") and "ou=groups" in command:
            out = "".join(f"dn: cn={g},ou=groups,dc=voisins,dc=test\ncn: {g}\n"
                          + "".join(f"member: uid={u}{self.people}\n" for u in members) + "\n"
                          for g, members in self.groups.items())
        elif command.startswith("ldapmodify") and stdin and "ou=groups" in stdin:
            group = re.search(r"^dn: cn=([^,]+),", stdin, re.M).group(1)
            how, uid = re.search(r"^(add|delete): member\nmember: uid=([^,]+),", stdin, re.M).groups()
            (self.groups[group].append if how == "add" else self.groups[group].remove)(uid)
        return subprocess.CompletedProcess(command, 0, out, "")

    def group_searches(self) -> int:
        return sum(c.startswith("ldapsearch") and "ou=groups" in c for c in self.commands)


def network_directory(groups_in_directory: dict[str, list[str]]):
    from sovstack.members.directory import Directory

    stack = parse_stack(stack_with({"hub": {"name": "Hub", "hub": True}, "nord": {"name": "Nord"},
                                    "sud": {"name": "Sud"}, "est": {"name": "Est", "archived": True}}),
                        "sovstack.yml", CATALOG)
    server = DirectoryServer(groups_in_directory)
    return Directory(wire(stack, CATALOG), server), server


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.join("ada", "nord"), {"hub": ["ada"], "nord": ["ada"], "sud": ["ada"]}),
    (lambda d: d.join("ada", "sud"), {"hub": ["ada"], "nord": [], "sud": ["ada"]}),  # already in: nothing written
    (lambda d: d.move("ada", "nord"), {"hub": ["ada"], "nord": ["ada"], "sud": []}),  # the hub is kept
])
def test_a_join_or_move_reads_the_directorys_groups_once(change, expected):
    directory, server = network_directory({"hub": ["ada"], "nord": [], "sud": ["ada"]})
    change(directory)
    assert server.group_searches() == 1, server.commands
    assert server.groups == expected


@pytest.mark.parametrize("group, words", [
    ("nowhere", ["no group 'nowhere' in the stack file", "use one of hub, nord, sud, est", "sovstack groups add"]),
    ("est", ["group 'est' is archived", "takes no new members", "sovstack groups list"]),
])
def test_a_group_nobody_may_join_is_refused_from_the_stack_file_before_any_server_is_asked(group, words):
    directory, server = network_directory({"hub": [], "nord": [], "sud": [], "est": []})
    for check in (directory.stack.check_joinable, lambda g: directory.join("ada", g),
                  lambda g: directory.move("ada", g)):
        with pytest.raises(UserError) as error:
            check(group)
        for word in words:
            assert word in str(error.value), str(error.value)
    assert not any("ou=groups" in c for c in server.commands), server.commands


def run_room_script(tmp_path, members: dict[str, list[str]], *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """The chat's room script as rendered, run here with a stand-in ldapsearch and a prosodyctl that records
    the Lua it is given (and answers like Prosody's console)."""
    files = rendered(tmp_path, NETWORK, tools=("openldap", "prosody"))
    bin_dir, members_dir = tmp_path / "bin", tmp_path / "members"
    bin_dir.mkdir(exist_ok=True)
    members_dir.mkdir(exist_ok=True)
    (bin_dir / "ldapsearch").write_text(FAKE_LDAPSEARCH)
    (bin_dir / "prosodyctl").write_text(f'#!/bin/sh\nprintf "%s\\n" "$2" >> {tmp_path}/lua\n'
                                        'case "$2" in *purge*) echo "deleted the room x@rooms.y";; '
                                        '*) echo "in step";; esac\n')
    for tool in ("ldapsearch", "prosodyctl"):
        (bin_dir / tool).chmod(0o755)
    for group, names in members.items():
        (members_dir / group).write_text("".join(f"{n}\n" for n in names))
    result = subprocess.run(["sh", "-c", files["/usr/local/lib/sovstack/prosody-room.sh"], "prosody-room.sh", *args],
                            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "MEMBERS_DIR": str(members_dir)},
                            capture_output=True, text=True, timeout=30)
    lua = tmp_path / "lua"
    return result, lua.read_text() if lua.exists() else ""


def test_a_group_without_its_directory_entry_gets_no_room_list_so_a_purged_groups_room_is_not_made_again(tmp_path):
    # coordination's entry is there, lyon-nord's is not (purged, or not deployed yet).
    result, lua = run_room_script(tmp_path, {"coordination": []})
    assert result.returncode == 0, result.stderr
    assert "['coordination']={}" in lua and "['association']=" in lua
    assert "lyon-nord" not in lua, lua


@pytest.mark.parametrize("group, accepted", [("lyon-nord", True), ("Lyon", False), ("x'y", False), ("", False),
                                             ("a;b", False)])
def test_the_room_script_purges_only_a_group_id(tmp_path, group, accepted):
    result, lua = run_room_script(tmp_path, {}, "--purge", group)
    assert (result.returncode == 0) is accepted, result.stderr
    if accepted:
        assert f".purge('{group}')" in lua and result.stdout.strip() == "deleted the room x@rooms.y"
    else:
        assert lua == "" and "not a group id" in result.stderr
