"""Chat for real: Debian's Prosody on the sample sandbox server, members from the directory.

A real XMPP client (slixmpp) connects from this machine to port 5222, checks TLS against the
server's Caddy CA for xmpp.voisins.test, logs members in with their directory passwords, talks in
the association's members-only room and asks for an upload slot; the file goes up and comes back
through Caddy. Chromium loads the converse.js web client from the same name. Prosody itself is real;
"with_standins" says that the shared sample server also runs a stand-in image (Etherpad's), unused here.
"""

from __future__ import annotations

import json
import shlex
import ssl
import subprocess

import pytest

from tests import xmpp
from tests.browser import chromium_browser
from tests.servers import sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
CHAT = "xmpp.voisins.test"
ROOM = f"association@rooms.{CHAT}"
PASSWORDS = {"ada": "ada-Chat-0123456789", "ben": "ben-Chat-0123456789", "cleo": "cleo-Chat-0123456789"}


@pytest.fixture(scope="module")
def server(converged_server):
    converged = converged_server("pyinfra")
    for username, password in PASSWORDS.items():
        sovstack("members", "add", username, "--name", username.title(), "--password-stdin", "--no-welcome",
                 cwd=converged.work, stdin=password + "\n")
    # What the 5-minute timer does: the room follows the directory.
    ssh(converged.server, "systemctl start sovstack-prosody-room.service")
    return converged


@pytest.fixture(scope="module")
def ca_file(server):
    root = server.work / "caddy-root.crt"
    root.write_text(ssh(server.server, "cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt").stdout)
    return root


@pytest.fixture(scope="module")
def tls(ca_file) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def member(name: str, password: str | None = None) -> tuple[str, str]:
    return f"{name}@{CHAT}", password if password is not None else PASSWORDS[name]


def login_ok(server, tls, name: str, password: str | None = None) -> bool:
    return xmpp.login_ok(server.server.address, *member(name, password), tls)


@pytest.mark.parametrize("name,password,accepted", [
    ("ada", None, True),
    ("ada", "ada-Wrong-0123456789", False),
    ("ada", "", False),
    ("nobody", "nobody-Pass-0123456789", False),  # not in the directory: no account of Prosody's own
])
@pytest.mark.proves(("prosody", "openldap"), "login")
@pytest.mark.proves("prosody", "tls")
def test_a_member_logs_in_to_chat_with_the_directory_password_only_with_standins(server, tls, name, password, accepted):
    assert login_ok(server, tls, name, password) is accepted


@pytest.mark.proves("prosody", "disabled-refused")
def test_a_disabled_member_is_refused_by_chat_until_enabled_with_standins(server, tls):
    assert login_ok(server, tls, "cleo")  # the probe can succeed, so the refusal below means something
    sovstack("members", "disable", "cleo", cwd=server.work)
    try:
        assert not login_ok(server, tls, "cleo")
        assert login_ok(server, tls, "ada")
    finally:
        sovstack("members", "enable", "cleo", cwd=server.work)
    assert login_ok(server, tls, "cleo")


@pytest.mark.proves("prosody", "chat")
def test_members_talk_in_the_associations_members_only_room_with_standins(server, tls):
    got = xmpp.room_exchange(server.server.address, member("ada"), member("ben"), ROOM, "Réunion jeudi à 19 h ?", tls)
    assert got["heard"] == "Réunion jeudi à 19 h ?"
    assert {"muc_membersonly", "muc_persistent"} <= set(got["features"]), got["features"]
    affiliations = ssh(server.server, f"prosodyctl shell \"muc:affiliations('{ROOM}')\"").stdout
    assert f"ada@{CHAT}" in affiliations and f"ben@{CHAT}" in affiliations, affiliations


def test_the_room_follows_the_directory_a_disabled_member_leaves_it_with_standins(server):
    sovstack("members", "disable", "ben", cwd=server.work)
    try:
        ssh(server.server, "systemctl start sovstack-prosody-room.service")
        affiliations = ssh(server.server, f"prosodyctl shell \"muc:affiliations('{ROOM}')\"").stdout
        assert f"ben@{CHAT}" not in affiliations and f"ada@{CHAT}" in affiliations, affiliations
        assert ssh(server.server, "sh /usr/local/lib/sovstack/prosody-room.sh --check", check=False).returncode == 0
    finally:
        sovstack("members", "enable", "ben", cwd=server.work)
        ssh(server.server, "systemctl start sovstack-prosody-room.service")
    assert f"ben@{CHAT}" in ssh(server.server, f"prosodyctl shell \"muc:affiliations('{ROOM}')\"").stdout


@pytest.fixture(scope="module")
def network(server):
    """Network mode on the sample server: groups nord and sud added with `sovstack groups add`, a deploy,
    then ada in nord and ben in sud; the groups are left in place (later modules see a no-op deploy)."""
    work = server.work
    sovstack("groups", "add", "nord", "--name", "Groupe Nord", cwd=work)
    sovstack("groups", "add", "sud", "--name", "Groupe Sud", cwd=work)
    sovstack("deploy", "--engine", "pyinfra", cwd=work)
    for username, group in (("ada", "nord"), ("ben", "sud")):
        out = sovstack("members", "join", username, group, cwd=work).stdout
        assert "Prosody (XMPP): members updated" in out, out
    yield server
    for username, group in (("ada", "nord"), ("ben", "sud")):
        sovstack("members", "leave", username, group, cwd=work)


@pytest.mark.proves("prosody", "group-spaces")
def test_a_groups_room_admits_its_members_only_and_the_associations_room_admits_every_group_with_standins(
        network, tls):
    address = network.server.address
    nord, sud = f"nord@rooms.{CHAT}", f"sud@rooms.{CHAT}"
    assert xmpp.can_join(address, member("ada"), nord, tls) == "joined"
    assert xmpp.can_join(address, member("ben"), nord, tls) == "registration-required"
    assert xmpp.can_join(address, member("ben"), sud, tls) == "joined"
    assert xmpp.can_join(address, member("ada"), sud, tls) == "registration-required"
    # The association's room is the coalition's: members of both groups talk there.
    got = xmpp.room_exchange(address, member("ada"), member("ben"), ROOM, "Appel commun samedi", tls)
    assert got["heard"] == "Appel commun samedi"
    # Moving ben to nord takes him into nord's room and out of sud's, at once (no timer wait).
    sovstack("members", "move", "ben", "--to", "nord", cwd=network.work)
    try:
        assert xmpp.can_join(address, member("ben"), nord, tls) == "joined"
        assert xmpp.can_join(address, member("ben"), sud, tls) == "registration-required"
    finally:
        sovstack("members", "move", "ben", "--to", "sud", cwd=network.work)


# Prosody's internal storage for the rooms of rooms.<chat name>: the host name with each character other than a
# letter or digit written %xx; a room is config/<room>.dat, its line in persistent.dat, and muc_log/<room>.* once
# someone spoke in it.
ROOMS_STORE = "/var/lib/prosody/rooms%2exmpp%2evoisins%2etest"


def room_files(server, group: str) -> list[str]:
    """The files of Prosody's storage that hold anything of the group's room: named after it, or naming it."""
    room = shlex.quote(f"{group}@rooms.{CHAT}")
    return sorted(set(ssh(server, f"cd {ROOMS_STORE} && find . -name {shlex.quote(group + '.*')} && "
                                  f"{{ grep -rlF {room} . || true; }}").stdout.split()))


def room_in_prosody(server, group: str) -> str:
    """What the running Prosody knows of the group's room, in memory or loaded from its storage."""
    host, jid = f"rooms.{CHAT}", f"{group}@rooms.{CHAT}"
    lua = f">return prosody.hosts['{host}'].modules.muc.get_room_from_jid('{jid}') and 'present' or 'absent'"
    out = ssh(server, f"prosodyctl shell {shlex.quote(lua)}").stdout
    assert ("present" in out) != ("absent" in out), out
    return "present" if "present" in out else "absent"


@pytest.mark.proves("prosody", "group-spaces")
def test_purging_a_group_deletes_its_room_from_prosody_and_nothing_makes_it_again_with_standins(network, tls):
    work, address, room = network.work, network.server.address, f"est@rooms.{CHAT}"
    sovstack("groups", "add", "est", "--name", "Groupe Est", cwd=work)
    try:
        sovstack("deploy", "--engine", "pyinfra", cwd=work)
        for username in ("ada", "ben"):
            sovstack("members", "join", username, "est", cwd=work)
        said = xmpp.room_exchange(address, member("ada"), member("ben"), room, "Compte rendu de l'Est", tls)
        assert said["heard"] == "Compte rendu de l'Est"
        assert xmpp.can_join(address, member("cleo"), room, tls) == "registration-required"
        before = room_files(network.server, "est")
        assert {"./config/est.dat", "./persistent.dat"} <= set(before), before
        assert any(f.startswith("./muc_log/") for f in before), before  # its history

        out = sovstack("groups", "remove", "est", "--purge", cwd=work).stdout
        assert room_files(network.server, "est") == []
        assert room_in_prosody(network.server, "est") == "absent"
        assert f"deleted the room {room}" in out, out
        # Neither the room timer (the server's script still names the group until the next deploy), nor the
        # deploy, nor the timer after it makes the room again.
        ssh(network.server, "systemctl start sovstack-prosody-room.service")
        sovstack("deploy", "--engine", "pyinfra", cwd=work)
        ssh(network.server, "systemctl start sovstack-prosody-room.service")
        assert room_files(network.server, "est") == []
        assert room_in_prosody(network.server, "est") == "absent"
        assert room_in_prosody(network.server, "nord") == "present"  # the probe can answer present
    finally:
        if "est:" in (work / "sovstack.yml").read_text():  # leave the later modules the groups they expect
            sovstack("groups", "remove", "est", "--purge", cwd=work, check=False)


def curl(server, ca_file, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "60", "--cacert", str(ca_file), "--resolve",
                           f"{CHAT}:443:{server.server.address}", *args], capture_output=True, timeout=120)


@pytest.mark.proves("prosody", "file-sharing")
def test_a_file_shared_in_chat_goes_up_and_comes_back_through_caddy_with_standins(server, tls, ca_file, tmp_path):
    body = "Compte rendu de l'assemblée\n".encode()
    slot = xmpp.upload_slot(server.server.address, member("ada"), f"upload.{CHAT}", "cr.txt", len(body), tls)
    assert slot["put"].startswith(f"https://{CHAT}/file_share/"), slot
    upload = tmp_path / "cr.txt"
    upload.write_bytes(body)
    headers = [arg for name, value in slot["headers"].items() for arg in ("-H", f"{name}: {value}")]
    put = curl(server, ca_file, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: text/plain",
               *headers, "--data-binary", f"@{upload}", slot["put"])
    assert put.stdout.decode() in {"200", "201"}, (put.stdout, put.stderr)
    assert curl(server, ca_file, slot["get"]).stdout == body
    # The slot's token is needed: the same PUT without it is refused.
    again = curl(server, ca_file, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary", f"@{upload}",
                 slot["put"].replace("cr.txt", "other.txt"))
    assert again.stdout.decode() in {"401", "403", "404"}, again.stdout


def test_the_web_client_is_converse_js_as_pinned_served_by_caddy_with_standins(server, ca_file):
    page = curl(server, ca_file, f"https://{CHAT}/").stdout.decode()
    assert '<script type="module" src="/dist/converse.min.js"></script>' in page
    assert curl(server, ca_file, "-o", "/dev/null", "-w", "%{http_code}", f"https://{CHAT}/dist/converse.min.js").stdout == b"200"
    # The hidden marker of the installed version is not served; it is on disk with the pinned integrity.
    assert curl(server, ca_file, "-o", "/dev/null", "-w", "%{http_code}",
                f"https://{CHAT}/dist/.sovstack-integrity").stdout == b"404"
    assert ssh(server.server, "sh /usr/local/lib/sovstack/converse-install.sh --check", check=False).returncode == 0
    settings = curl(server, ca_file, f"https://{CHAT}/converse-settings.js").stdout.decode()
    assert json.dumps(CHAT) in settings and json.dumps(ROOM) in settings


def test_a_tampered_converse_download_is_refused_and_installs_nothing_with_standins(server):
    """The integrity check can fail: the same script with one character of the pinned hash changed."""
    script = ssh(server.server, "cat /usr/local/lib/sovstack/converse-install.sh").stdout
    tampered = script.replace("integrity=sha512-L", "integrity=sha512-M", 1)
    assert tampered != script
    result = subprocess.run([*server.server.ssh_command(),
                             "d=$(mktemp -d) && sed 's#/usr/local/share/sovstack/converse#'$d'#' > $d/s.sh && "
                             "sh $d/s.sh; rc=$?; ls $d; exit $rc"], input=tampered, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "not the pinned" in result.stderr
    assert "dist" not in result.stdout.split()


@pytest.mark.proves("prosody", "health", "diagnosis")
def test_chat_is_healthy_in_sovstacks_own_check_with_standins(server):
    result = sovstack("check", "--json", cwd=server.work, check=False)
    findings = json.loads(result.stdout)
    prosody = {f["check"]: f for f in findings if "prosody" in f["subject"]}
    # LDAP wired, units active, it answers, and the certificate it serves on 5222 is Caddy's current one
    assert {"wiring", "services", "health", "tls"} <= set(prosody), findings
    assert all(f["ok"] for f in findings if "prosody" in f["subject"]), [f for f in findings if "prosody" in f["subject"]]


@pytest.mark.proves("prosody", "web-client")
def test_converse_js_in_chromium_logs_a_member_in_and_opens_the_associations_room_with_standins(server):
    with chromium_browser(f"--host-resolver-rules=MAP {CHAT} {server.server.address}") as browser:
        # Caddy's local CA is not in Chromium's store; TLS itself is checked by the tests above.
        page = browser.new_context(ignore_https_errors=True).new_page()
        page.goto(f"https://{CHAT}/", timeout=60_000)
        page.get_by_placeholder("Username").fill("ada", timeout=60_000)
        page.get_by_placeholder("Password").fill(PASSWORDS["ada"])
        page.keyboard.press("Enter")
        room = page.locator("converse-muc").first
        room.wait_for(state="attached", timeout=60_000)  # logged in, and the association's room opened
        assert "Les Voisins" in room.inner_text()
        assert f"ada@{CHAT}" in page.content()
