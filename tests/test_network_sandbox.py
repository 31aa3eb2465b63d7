"""Network mode for real: a hub and partner groups (sovstack.yml 'groups', `sovstack groups`) on the session's
Debian apps server. The groups are entries of Debian's OpenLDAP, members join and move with `sovstack members`,
and Debian's DokuWiki gives each group its namespace through its bundled authldap plugin: checked as a browser
would, through Caddy, with the members' directory passwords. Nothing here is a stand-in.

The groups were added to sovstack.yml before the session's deploys (tests.servers.DEBIAN_APPS_GROUPS): the hub
"coordination" and the partner groups "nord", "sud" and "ephemere" (purged at the end of this module).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from caldav.lib.error import AuthorizationError, DAVError, NotFoundError

from tests.servers import DEBIAN_APPS_MEMBERS as PASSWORDS
from tests.servers import sovstack, ssh
from tests.test_dokuwiki_sandbox import Browser
from tests.test_radicale_sandbox import NAME as CALENDAR
from tests.test_radicale_sandbox import client

pytestmark = [pytest.mark.sandbox, pytest.mark.docker, pytest.mark.timeout(900)]
TOOLKIT = ("toolkit:guide-des-messages", "====== Guide des messages ======\n\nNos trois messages pour la campagne.\n")
NORD = ("nord:agenda", "====== Agenda du groupe Nord ======\n\nRéunion le mardi.\n")


@pytest.fixture(scope="module")
def network(debian_apps):
    """ada in the hub, ben in nord, cleo in sud (joined with `sovstack members join`); put back at the end."""
    joined = [("ada", "coordination"), ("ben", "nord"), ("cleo", "sud")]
    for username, group in joined:
        out = sovstack("members", "join", username, group, cwd=debian_apps.work).stdout
        assert f"{username}: joined group {group}" in out, out
    yield debian_apps
    for username, group in joined:
        sovstack("members", "leave", username, group, cwd=debian_apps.work)


def members_of(deployed) -> dict[str, list[str]]:
    listed = json.loads(sovstack("groups", "list", "--members", "--json", cwd=deployed.work).stdout)
    return {g["id"]: g["members"] for g in listed}


def logged_in(deployed, username: str) -> Browser:
    browser = Browser(deployed)
    assert browser.log_in(username, PASSWORDS[username])
    return browser


def can_edit(browser: Browser, page: str) -> bool:
    """Whether the edit page offers a save button (a reader gets the page's source read-only, without one;
    for a page that does not exist yet, nothing). Asked as a logged-in member, or the answer means nothing."""
    answer = browser.request("GET", f"/doku.php?id={page}&do=edit").data.decode()
    assert "do=logout" in answer, answer[:500]
    return 'name="do[save]"' in answer


def try_save(browser: Browser, page: str, text: str) -> None:
    """Post an edit with the member's own security token (DokuWiki puts it in the logout link), as a member
    without the right would by hand: the access rules, not the missing form, must refuse it."""
    start = browser.request("GET", "/doku.php?id=start").data.decode()
    token = re.search(r"sectok=([0-9a-f]+)", start)
    assert token, start[:500]
    browser.request("POST", "/doku.php", {"id": page, "sectok": token.group(1), "wikitext": text,
                                          "summary": "not allowed", "do[save]": "1", "date": "0", "prefix": ".",
                                          "suffix": "", "changecheck": ""})


@pytest.mark.proves("openldap", "group-spaces")
def test_each_group_is_a_directory_entry_whose_members_a_deploy_keeps(network):
    assert members_of(network) == {"coordination": ["ada"], "nord": ["ben"], "sud": ["cleo"], "ephemere": []}
    entry = ssh(network.server, "ldapsearch -Q -LLL -o ldif_wrap=no -Y EXTERNAL -H ldapi:/// "
                                "-b cn=nord,ou=groups,dc=voisins,dc=test -s base description owner").stdout
    assert "description: Groupe Nord" in entry and "owner: uid=ben,ou=people,dc=voisins,dc=test" in entry, entry
    # The deploy step's guard holds after the joins (a deploy leaves the groups alone), and the step
    # itself, run again, keeps every member.
    ssh(network.server, "sh /usr/local/lib/sovstack/openldap-groups-ok.sh")
    ssh(network.server, "sh /usr/local/lib/sovstack/openldap-groups.sh")
    assert members_of(network)["nord"] == ["ben"]


@pytest.mark.proves(("dokuwiki", "openldap"), "group-spaces")
def test_every_group_reads_the_hubs_toolkit_and_only_the_hub_edits_it(network):
    page, text = TOOLKIT
    ada = logged_in(network, "ada")
    assert can_edit(ada, page)
    try_save(ada, page, text)  # the very request that must fail for ben below works for the hub
    ben = logged_in(network, "ben")
    status, got = ben.raw(page)
    assert status == 200 and got.strip() == text.strip(), (status, got[:300])
    assert not can_edit(ben, page)
    try_save(ben, page, "vandalised by a partner group\n")
    assert ada.raw(page)[1].strip() == text.strip()


@pytest.mark.proves(("dokuwiki", "openldap"), "group-spaces")
def test_a_group_edits_its_own_namespace_that_other_groups_only_read(network):
    page, text = NORD
    ben = logged_in(network, "ben")
    assert can_edit(ben, page)
    try_save(ben, page, text)
    cleo = logged_in(network, "cleo")
    status, got = cleo.raw(page)
    assert status == 200 and got.strip() == text.strip(), (status, got[:300])
    assert not can_edit(cleo, page)
    try_save(cleo, page, "written by the south group\n")
    assert ben.raw(page)[1].strip() == text.strip()


def group_calendar(group: str) -> str:
    return f"https://{CALENDAR}/GROUPS/{base64.b64encode(group.encode()).decode()}/"


def add_event(deployed, username: str, group: str, summary: str) -> str:
    uid = f"{uuid.uuid4()}@voisins.test"
    start = datetime(2027, 3, 8, 9, 0, tzinfo=timezone.utc)
    with client(deployed, username) as dav:
        dav.calendar(url=group_calendar(group)).save_event(dtstart=start, dtend=start + timedelta(hours=1),
                                                            summary=summary, uid=uid)
    return uid


STRANGER_EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//stranger//EN\r\nBEGIN:VEVENT\r\nUID:stranger\r\n"
                  "DTSTART:20270101T100000Z\r\nDTEND:20270101T110000Z\r\nSUMMARY:stranger\r\nEND:VEVENT\r\n"
                  "END:VCALENDAR\r\n")


def network_request(deployed, method: str, url: str, auth: tuple[str, str] | None, body: str | None = None):
    """One plain HTTPS request to the calendar through Caddy (no CalDAV client: it would retry with a password)."""
    import urllib3

    pool = urllib3.HTTPSConnectionPool(deployed.server.address, 443, ssl_context=deployed.tls(),
                                       server_hostname=CALENDAR, assert_hostname=CALENDAR, retries=False,
                                       timeout=urllib3.Timeout(total=60))
    headers = {"Host": CALENDAR, "Content-Type": "text/calendar"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    return pool.request(method, url.removeprefix(f"https://{CALENDAR}"), body=body, headers=headers)


def read_event(deployed, username: str, group: str, uid: str) -> str | None:
    """The event's summary as the member reads it, or None when they may not read it."""
    with client(deployed, username) as dav:
        try:
            return str(dav.calendar(url=group_calendar(group)).event_by_uid(uid).icalendar_component["summary"])
        except (AuthorizationError, NotFoundError, DAVError):
            return None


@pytest.mark.proves(("radicale", "openldap"), "group-spaces")
def test_the_hubs_content_calendar_is_read_by_every_group_and_written_only_by_the_hub(network):
    uid = add_event(network, "ada", "coordination", "Sortie du guide des messages")
    assert read_event(network, "ben", "coordination", uid) == "Sortie du guide des messages"
    assert read_event(network, "cleo", "coordination", uid) == "Sortie du guide des messages"
    with pytest.raises((AuthorizationError, DAVError)):
        add_event(network, "ben", "coordination", "not the hub's")


@pytest.mark.proves(("radicale", "openldap"), "group-spaces")
def test_a_groups_calendar_is_its_members_own(network):
    uid = add_event(network, "ben", "nord", "Réunion du groupe Nord")
    assert read_event(network, "ben", "nord", uid) == "Réunion du groupe Nord"
    assert read_event(network, "cleo", "nord", uid) is None
    with pytest.raises((AuthorizationError, DAVError)):
        add_event(network, "cleo", "nord", "not in the north group")


@pytest.mark.proves("radicale", "group-spaces")
def test_a_request_without_the_right_password_gets_no_groups_calendar_even_after_a_members_request(network):
    # Radicale 3.5.3's own group rules gave an anonymous request the last login's groups (radicale.yml):
    # sovstack's rights name members, so right after ada's request a stranger still gets nothing.
    uid = add_event(network, "ada", "coordination", "Avant une requête anonyme")
    calendar = group_calendar("coordination")
    for auth in (None, ("ada", "wrong-password-0123")):
        answer = network_request(network, "PUT", calendar + "stranger.ics", auth, STRANGER_EVENT)
        assert answer.status in (401, 403), answer.status
        answer = network_request(network, "GET", calendar + uid + ".ics", auth)
        assert answer.status in (401, 403), answer.status


@pytest.mark.proves(("dokuwiki", "radicale", "openldap"), "group-spaces")
def test_a_member_who_moves_to_another_group_edits_there_and_no_longer_in_the_old_one(network):
    out = sovstack("members", "move", "cleo", "--to", "nord", cwd=network.work).stdout
    assert "cleo: now in group nord (left sud)" in out, out
    try:
        assert members_of(network)["nord"] == ["ben", "cleo"] and members_of(network)["sud"] == []
        cleo = logged_in(network, "cleo")  # groups are read at login
        # A page of her own: opening the editor locks the page for 15 minutes, and nord:agenda stays ben's.
        assert can_edit(cleo, "nord:arrivee")
        assert not can_edit(cleo, "sud:agenda")
        uid = add_event(network, "cleo", "nord", "Cleo rejoint le Nord")
        assert read_event(network, "ben", "nord", uid) == "Cleo rejoint le Nord"
        with pytest.raises((AuthorizationError, DAVError)):
            add_event(network, "cleo", "sud", "no longer in the south group")
    finally:
        sovstack("members", "move", "cleo", "--to", "sud", cwd=network.work)
    assert members_of(network)["sud"] == ["cleo"]


@pytest.mark.proves(("dokuwiki", "openldap"), "backup", "restore")
def test_a_groups_space_and_its_members_come_back_from_a_backup(network):
    page, text = NORD
    pages = "/var/lib/dokuwiki/data/pages/nord"
    assert "Réunion le mardi" in ssh(network.server, f"cat {pages}/agenda.txt").stdout
    assert members_of(network)["nord"] == ["ben"]
    assert "backup: main: snapshot " in sovstack("backup", cwd=network.work).stdout
    ssh(network.server, f"rm -rf {pages} /var/lib/dokuwiki/data/meta/nord /var/lib/dokuwiki/data/attic/nord && "
                        "ldapdelete -Q -Y EXTERNAL -H ldapi:/// cn=nord,ou=groups,dc=voisins,dc=test")
    assert members_of(network)["nord"] is None  # in sovstack.yml, not in the directory
    for tool in ("openldap", "dokuwiki"):
        result = sovstack("restore", "--tool", tool, cwd=network.work)
        assert "FAILING" not in result.stdout, result.stdout
    assert members_of(network)["nord"] == ["ben"]
    ben = logged_in(network, "ben")
    assert ben.raw(page)[1].strip() == text.strip()
    assert can_edit(ben, page)


@pytest.mark.proves(("dokuwiki", "openldap"), "group-spaces")
def test_removing_a_group_archives_it_and_purge_deletes_its_space_but_not_its_members(network):
    work = network.work
    sovstack("members", "join", "ada", "ephemere", cwd=work)
    ada = logged_in(network, "ada")
    ada.save("ephemere:notes", "Notes du groupe éphémère\n")
    pages = "/var/lib/dokuwiki/data/pages/ephemere"
    calendar = "/var/lib/radicale/collections/collection-root/GROUPS/" + base64.b64encode(b"ephemere").decode()
    assert ssh(network.server, f"test -f {pages}/notes.txt && test -d {calendar}", check=False).returncode == 0

    assert "archived group ephemere" in sovstack("groups", "remove", "ephemere", cwd=work).stdout
    refused = sovstack("members", "join", "ben", "ephemere", cwd=work, check=False)
    assert refused.returncode == 2 and "archived" in refused.stderr, refused.stderr
    assert ssh(network.server, f"test -f {pages}/notes.txt", check=False).returncode == 0  # kept

    out = sovstack("groups", "remove", "ephemere", "--purge", cwd=work).stdout
    assert "removed group ephemere" in out, out
    assert ssh(network.server, f"test -e {pages}", check=False).returncode != 0
    assert ssh(network.server, f"test -e {calendar}", check=False).returncode != 0
    assert "ephemere" not in members_of(network)  # gone from sovstack.yml
    assert "cn=ephemere" not in ssh(network.server, "ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// "
                                                    "-b ou=groups,dc=voisins,dc=test dn").stdout
    assert "ephemere" not in (work / "sovstack.yml").read_text()
    listed = json.loads(sovstack("members", "list", "--json", cwd=work).stdout)
    assert "ada" in {m["username"] for m in listed}
