"""`sovstack migrate files` with real rclone (Debian's package) on this machine, between stand-ins:
a local folder plays Google Drive (rclone's local remote), and `rclone serve webdav` on the loopback
plays the file tool's WebDAV (Nextcloud's is not deployable here). What this shows: the inventory and
dry-run contract, the copy, the verification by path, size and content, idempotence, a partial
destination, and that no password reaches a process's arguments. What it does not show: Google's,
Microsoft's or Dropbox's APIs, and a real Nextcloud.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.servers import sampling_local_cmdlines, sovstack

pytestmark = pytest.mark.timeout(300)
RCLONE = shutil.which("rclone")
DRIVE = {  # path -> content: unicode names, an empty file, nesting, a 3 MB file
    "Bureau/Compte rendu 2024.odt": b"compte rendu\n",
    "Bureau/Réunions/ordre du jour é.txt": "ordre du jour à débattre\n".encode(),
    "Bureau/vide.txt": b"",
    "Photos/fête.jpg": os.urandom(3 * 1024 * 1024),
    "lisez-moi.txt": b"hello\n",
}
APP_PASSWORD = "member-app-password-4711"
SOURCE_PASSWORD = "source-password-0815"


def require_rclone():
    if not RCLONE:
        pytest.fail("rclone is not installed: scripts/setup.sh --tests installs it (scripts/test-packages.txt)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDav:
    """`rclone serve webdav` of `root` on the loopback, one user, password from an htpasswd file."""

    def __init__(self, root: Path, user: str, password: str, htpasswd: Path):
        subprocess.run(["htpasswd", "-B", "-i", "-c", str(htpasswd), user], input=password, text=True, check=True, timeout=30,
                       capture_output=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen([RCLONE, "serve", "webdav", str(root), "--addr", f"127.0.0.1:{self.port}",
                                         "--htpasswd", str(htpasswd), "--config", "/dev/null"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("rclone serve webdav did not start")

    def rclone(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        """Change the destination only through WebDAV (changing its folder behind rclone's back shows stale
        listings: the facts' gotcha)."""
        obscured = subprocess.run([RCLONE, "obscure", "-"], input=APP_PASSWORD.encode(), capture_output=True, timeout=30,
                                  check=True).stdout.decode().strip()
        env = {**os.environ, "RCLONE_CONFIG": "/dev/null", "RCLONE_CONFIG_D_TYPE": "webdav",
               "RCLONE_CONFIG_D_URL": self.url, "RCLONE_CONFIG_D_USER": "alice", "RCLONE_CONFIG_D_PASS": obscured}
        return subprocess.run([RCLONE, *args], env=env, input=stdin, capture_output=True, check=True, timeout=60)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def drive(tmp_path) -> Path:
    require_rclone()
    root = tmp_path / "drive-standin"
    for path, content in DRIVE.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


@pytest.fixture
def nextcloud(tmp_path):
    require_rclone()
    root = tmp_path / "webdav-standin"
    root.mkdir()
    server = WebDav(root, "alice", APP_PASSWORD, tmp_path / "htpasswd")
    yield server
    server.stop()


@pytest.fixture
def work(tmp_path) -> Path:
    """A stack whose files are hosted (Framaspace): the move goes to the hoster's WebDAV, given in --to."""
    work = tmp_path / "stack"
    work.mkdir()
    (work / "sovstack.yml").write_text((REPO / "examples" / "stacks" / "single.yml").read_text())
    sovstack("render", cwd=work)
    (work / "alice.app").write_text(APP_PASSWORD)
    (work / "alice.app").chmod(0o600)
    return work


def migrate(work: Path, drive: Path, nextcloud: WebDav, *extra: str, check: bool = True):
    return sovstack("migrate", "files", "--from", str(drive), "--to", f"alice={nextcloud.url}",
                    "--to-password-file", "alice.app", "--json", *extra, cwd=work, check=check)


def test_the_dry_run_lists_every_file_once_by_path_without_a_stack_with_standin_drive(drive, tmp_path):
    out = sovstack("migrate", "files", "--from", str(drive), "--dry-run", "--json", cwd=tmp_path)
    found = json.loads(out.stdout)
    assert found["kind"] == "files" and found["source"] == str(drive) and found["skipped"] == []
    assert sorted(i["id"] for i in found["items"]) == sorted(DRIVE)
    assert {i["id"]: i["collection"] for i in found["items"]}["Bureau/Réunions/ordre du jour é.txt"] == "Bureau"
    assert {i["id"]: i["collection"] for i in found["items"]}["lisez-moi.txt"] == "/"
    assert not list(tmp_path.glob("migration-report.*"))  # a dry run writes nothing


def test_a_round_trip_holds_exactly_the_sources_paths_and_a_rerun_copies_nothing_with_standins_drive_webdav(
        drive, nextcloud, work):
    first = json.loads(migrate(work, drive, nextcloud).stdout)[0]
    assert (first["expected"], first["copied"], first["missing"], first["altered"], first["verified"]) == (
        len(DRIVE), len(DRIVE), [], [], True)
    listed = json.loads(nextcloud.rclone("lsjson", "-R", "--files-only", "d:").stdout)
    assert sorted(e["Path"] for e in listed) == sorted(DRIVE)
    assert nextcloud.rclone("cat", "d:Photos/fête.jpg").stdout == DRIVE["Photos/fête.jpg"]
    again = json.loads(migrate(work, drive, nextcloud).stdout)[0]
    assert (again["copied"], again["verified"]) == (0, True)
    report = json.loads((work / "migration-report.json").read_text())["moves"]
    assert [(m["member"], m["kind"], m["verified"]) for m in report] == [("alice", "files", True)]


@pytest.mark.parametrize("damage, named", [
    (("deletefile", "d:Bureau/Réunions/ordre du jour é.txt"), "missing: Bureau / Bureau/Réunions/ordre du jour é.txt"),
    (("rcat", "d:lisez-moi.txt"), "altered: / / lisez-moi.txt (size"),
    # Same size, other bytes: only a content comparison (rclone check --download here) sees it.
    (("rcat", "d:Bureau/Compte rendu 2024.odt"), "altered: Bureau / Bureau/Compte rendu 2024.odt (content"),
])
def test_a_loss_at_the_destination_fails_the_verify_naming_the_file_with_standins_drive_webdav(
        drive, nextcloud, work, damage, named):
    migrate(work, drive, nextcloud)
    command, target = damage
    content = {"d:lisez-moi.txt": b"changed and longer\n", "d:Bureau/Compte rendu 2024.odt": b"COMPTE RENDU\n"}
    nextcloud.rclone(command, target, stdin=content.get(target))
    out = migrate(work, drive, nextcloud, "--verify-only", check=False)
    assert out.returncode == 1, out.stderr
    entry = json.loads(out.stdout)[0]
    lines = [f"missing: {m['collection']} / {m['id']}" for m in entry["missing"]] + [
        f"altered: {m['collection']} / {m['id']} ({m['why']})" for m in entry["altered"]]
    assert entry["copied"] == 0 and not entry["verified"]
    assert "not complete: alice" in out.stderr
    assert len(lines) == 1 and lines[0].startswith(named), lines


def test_a_destination_holding_part_of_the_files_gets_only_the_rest_with_standins_drive_webdav(
        drive, nextcloud, work):
    nextcloud.rclone("mkdir", "d:Bureau")
    nextcloud.rclone("copyto", str(drive / "Bureau/vide.txt"), "d:Bureau/vide.txt")
    nextcloud.rclone("copyto", str(drive / "lisez-moi.txt"), "d:lisez-moi.txt")
    result = json.loads(migrate(work, drive, nextcloud).stdout)[0]
    assert (result["copied"], result["verified"]) == (len(DRIVE) - 2, True)


def test_no_password_shows_in_any_process_argument_with_standins_webdav_source_and_destination(
        drive, nextcloud, work, tmp_path):
    # The source is a WebDAV server too, so its password takes the path a former hoster's would.
    source = WebDav(drive, "alice", SOURCE_PASSWORD, tmp_path / "htpasswd-source")
    (work / "source.pass").write_text(SOURCE_PASSWORD)
    try:
        with sampling_local_cmdlines() as sampled:
            out = sovstack("migrate", "files", "--from", f"webdav+http://alice@127.0.0.1:{source.port}/",
                           "--password-file", "source.pass", "--to", f"alice={nextcloud.url}",
                           "--to-password-file", "alice.app", cwd=work)
    finally:
        source.stop()
    seen = {line.decode(errors="replace") for line in sampled}
    assert "verified" in out.stdout
    assert any("rclone" in line and " copy " in line for line in seen), "the sampler saw no rclone copy"
    # Obscured passwords are reversible (rclone reveal): no password option may be in argv either.
    leaks = [line for line in seen if SOURCE_PASSWORD in line or APP_PASSWORD in line
             or ("rclone" in line and "-pass" in line)]
    assert not leaks
    for text in (out.stdout, out.stderr, (work / "migration-report.json").read_text()):
        assert SOURCE_PASSWORD not in text and APP_PASSWORD not in text


@pytest.mark.parametrize("args, message, fix", [
    (["--from", "no-such-folder", "--dry-run"], "--from no-such-folder: no such folder", "an unpacked Takeout"),
    (["--from", "drive:Asso", "--dry-run"], "Google Drive needs an OAuth token", "rclone authorize"),
    (["--from", "webdav+https://alice:pw@dav.example.org/", "--dry-run"], "--from: the address holds a password",
     "--password-file"),
    (["--from", "webdav+http://alice@dav.example.org/", "--dry-run"],
     "plain HTTP would send the password unencrypted to dav.example.org", "https://"),
    (["--from", ".", "--to", "alice=https://alice@files.example.org/"], "names no user", "MEMBER=https://HOST/PATH"),
    (["--from", ".", "--to", "alice=https://alice:pw@files.example.org/"], "the address holds a password",
     "--to-password-file"),
    # A password in an address that is wrong in other ways too is still not shown back.
    (["--from", ".", "--to", "alice=ftp://alice:pw@files.example.org/"], "the address holds a password",
     "--to-password-file"),
    (["--from", ".", "--to", "alice=https://alice:pw@[files.example.org/"], "the address holds a password",
     "--to-password-file"),
    (["--from", "sftp://dav.example.org/x", "--dry-run"], "the user and the server are both needed",
     "sftp://USER@HOST"),
    (["--from", ".", "--to", "alice=ftp://x/"], "is not a WebDAV folder address", "MEMBER=https://HOST/PATH"),
    (["--from", ".", "--to", "alice=http://files.example.org/"], "plain HTTP", "https://"),
    (["--from", ".", "--to", "alice"], "no file tool in", "--to alice=https://HOST/PATH"),
    (["--from", ".", "--to", "../alice"], "'../alice' is not a user name", "lowercase letters"),
])
def test_bad_input_names_the_value_and_the_fix_and_writes_nothing(work, args, message, fix):
    require_rclone()
    before = sorted(p.name for p in work.iterdir())
    out = sovstack("migrate", "files", *args, cwd=work, check=False)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and fix in out.stderr
    assert ":pw@" not in out.stdout + out.stderr  # a password given in an address is never shown back
    assert sorted(p.name for p in work.iterdir()) == before


def test_the_stacks_nextcloud_is_the_members_webdav_folder(tmp_path):
    from sovstack.engines.apply import load
    from sovstack.migrate.movers.files import MOVER

    text = (REPO / "examples" / "stacks" / "single.yml").read_text()
    text = text.replace("hosted:\n  files: framaspace\n", "").replace(
        "  openldap: {server: main}\n", "  openldap: {server: main}\n  nextcloud: {server: main}\n")
    (tmp_path / "sovstack.yml").write_text(text)
    sovstack("render", cwd=tmp_path)
    dest = MOVER.destination(load(tmp_path / "sovstack.yml"), "alice")
    assert (dest.url, dest.vendor) == ("https://cloud.voisins.example.org/remote.php/dav/files/alice/", "nextcloud")
