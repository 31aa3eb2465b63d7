"""Radicale for real: Debian 13's radicale package behind Caddy on a sandbox server, with members from the
directory (Debian's OpenLDAP), on the session's server of Debian tools (the `debian_apps` fixture, which
Matomo's tests share).

A real CalDAV client (the caldav library) connects from this machine to https://calendar.voisins.test
through Caddy, checking TLS against the server's CA: members log in with their directory password (a
wrong one, or a disabled member, is refused), a member's calendar and event are theirs alone, and a
backup brings an event back after the collections are wiped. Nothing here is a stand-in.
"""

from __future__ import annotations

import socket
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from unittest import mock

import caldav
import pytest
from caldav.lib.error import AuthorizationError, DAVError, NotFoundError

from tests.servers import DEBIAN_APPS_MEMBERS, changes, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
NAME = "calendar.voisins.test"
PASSWORDS = DEBIAN_APPS_MEMBERS  # ada, ben, cleo


@pytest.fixture(scope="module")
def deployed(debian_apps):
    """The session's server with OpenLDAP, Radicale and Matomo (tests/conftest.py), shared with Matomo's tests."""
    return debian_apps


@contextmanager
def client(deployed, username: str, password: str | None = None):
    """A CalDAV client for the member, reaching calendar.voisins.test at the sandbox as public DNS would."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real(deployed.server.address if host == NAME else host, *args, **kwargs)

    with mock.patch("socket.getaddrinfo", resolve):
        with caldav.DAVClient(f"https://{NAME}/", username=username, ssl_verify_cert=str(deployed.ca), timeout=60,
                              password=PASSWORDS[username] if password is None else password) as dav:
            yield dav


def can_log_in(deployed, username: str, password: str | None = None) -> bool:
    with client(deployed, username, password) as dav:
        try:
            dav.principal()
            return True
        except AuthorizationError:
            return False


@pytest.mark.proves("radicale", "deploy", "health")
def test_radicale_comes_from_debian_and_a_second_deploy_changes_nothing(deployed):
    assert f"radicale https://{NAME}: ok" in deployed.runs["fresh"].stdout, deployed.runs["fresh"].stdout[-3000:]
    assert changes(deployed.runs["again"].stdout) == 0, deployed.runs["again"].stdout[-3000:]
    version = ssh(deployed.server, "dpkg-query -W -f '${Version}' radicale").stdout
    assert version.startswith("3.5.3"), version
    # Only Caddy reaches Radicale: it listens on the loopback.
    listening = ssh(deployed.server, "ss -Hltn 'sport = :8311'").stdout
    assert "127.0.0.1:8311" in listening and "0.0.0.0:8311" not in listening, listening


@pytest.mark.parametrize("username,password,accepted", [
    ("ada", None, True),
    ("ada", "ada-Wrong-0123456789", False),
    ("ada", "", False),
    ("nobody", "nobody-Pass-0123456789", False),
])
@pytest.mark.proves(("radicale", "openldap"), "login")
def test_a_member_logs_in_to_the_calendar_with_the_directory_password_only(deployed, username, password, accepted):
    assert can_log_in(deployed, username, password) is accepted


@pytest.mark.proves("radicale", "disabled-refused")
def test_a_disabled_member_is_refused_by_the_calendar_until_enabled(deployed):
    assert can_log_in(deployed, "cleo")  # the probe can succeed, so the refusal below means something
    sovstack("members", "disable", "cleo", cwd=deployed.work)
    try:
        assert not can_log_in(deployed, "cleo")
    finally:
        sovstack("members", "enable", "cleo", cwd=deployed.work)
    assert can_log_in(deployed, "cleo")


@pytest.fixture(scope="module")
def event(deployed) -> tuple[str, str]:
    """Ada's calendar with one event; returns (calendar URL, event UID)."""
    uid = f"{uuid.uuid4()}@voisins.test"
    start = datetime(2027, 1, 14, 18, 0, tzinfo=timezone.utc)
    with client(deployed, "ada") as dav:
        calendar = dav.principal().make_calendar(name="Bureau", cal_id="bureau")
        calendar.save_event(dtstart=start, dtend=start + timedelta(hours=2), summary="Réunion du bureau", uid=uid)
        return str(calendar.url), uid


@pytest.mark.proves("radicale", "login")
def test_a_members_calendar_is_theirs_alone(deployed, event):
    url, uid = event
    with client(deployed, "ada") as dav:
        assert dav.calendar(url=url).event_by_uid(uid).icalendar_component["summary"] == "Réunion du bureau"
    with client(deployed, "ben") as dav:
        with pytest.raises((AuthorizationError, NotFoundError, DAVError)):
            dav.calendar(url=url).event_by_uid(uid)


@pytest.mark.proves("radicale", "backup", "restore")
def test_a_backup_brings_the_event_back_after_the_collections_are_wiped(deployed, event):
    url, uid = event
    assert "backup: main: snapshot " in sovstack("backup", cwd=deployed.work).stdout
    ssh(deployed.server, "systemctl stop radicale && rm -rf /var/lib/radicale/collections/collection-root "
                         "&& systemctl start radicale")
    with client(deployed, "ada") as dav, pytest.raises((NotFoundError, DAVError)):
        dav.calendar(url=url).event_by_uid(uid)

    result = sovstack("restore", "--tool", "radicale", cwd=deployed.work)
    assert "FAILING" not in result.stdout, result.stdout
    with client(deployed, "ada") as dav:
        assert dav.calendar(url=url).event_by_uid(uid).icalendar_component["summary"] == "Réunion du bureau"
