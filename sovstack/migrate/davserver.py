"""A CalDAV or CardDAV server as the source (a former hoster's Nextcloud, SOGo, Radicale, Fastmail...):
vdirsyncer (Debian's package, run on this machine) copies the member's collections, read-only, into a
temporary folder, one file per item; dav.inventory_vdir reads that folder like a Takeout file.

vdirsyncer is told everything in a config file written for the run (mode 0600, in a private temporary
folder deleted afterwards): the source's password never reaches its arguments or its output
(`password.fetch = ["command", "cat", FILE]`, FILE a 0600 copy of the secret without its newline, so
only FILE's name is in `cat`'s arguments). The source storage is `read_only`: nothing is ever written
to the former server. Settings read in vdirsyncer 0.19's docs (config.rst: pair `collections = ["from
a"]`, `metadata`, `conflict_resolution`, `partial_sync`; storage `read_only`) and tried with
Debian's 0.19.0 and 0.19.3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sovstack.errors import UserError
from sovstack.migrate.model import SourceSecrets, server_address

STORAGE = {"calendars": ("caldav", ".ics"), "contacts": ("carddav", ".vcf")}
TIMEOUT = 3 * 3600  # thousands of items one request each still end; a stuck server does not hang forever
# vdirsyncer asks before it makes each local collection; every question is answered yes (the collections
# are made in the run's own temporary folder).
ANSWERS = "y\n" * 10_000


def is_server(source: str) -> bool:
    return source.lower().startswith(("https://", "http://"))


def parse(source: str, kind: str) -> tuple[str, str]:
    """--from https://USER@HOST/PATH -> (the URL without the user, the user name). Plain http only on this
    machine's loopback (a stand-in, or an SSH tunnel): elsewhere a password would cross the network in
    clear."""
    server = "CalDAV" if kind == "calendars" else "CardDAV"
    example = "--from https://alice@cloud.example.org/remote.php/dav/ --password-file alice.pass"
    address = server_address(source, f"--from {source}", "--from", what=f"{server} server", example=example,
                             secret="the password", secret_option="--password-file")
    if not address.user:
        raise UserError(f"--from {source}: a {server} server address names the member's user name and the host",
                        f"give e.g. {example}")
    if any(c in source for c in "\"\\\n\r"):
        raise UserError(f"--from {source!r}: quotes, backslashes and line breaks cannot be part of the address",
                        "give the address as the server's documentation writes it")
    return address.url, address.user


def _config(kind: str, url: str, user: str, secret: Path, folder: Path) -> str:
    """The run's vdirsyncer config. A private CA (a former hoster's) is taken from SSL_CERT_FILE, which
    OpenSSL reads in vdirsyncer's process as in curl's."""
    storage, suffix = STORAGE[kind]
    def quoted(value: str) -> str:  # vdirsyncer's config values are JSON
        import json

        return json.dumps(value, ensure_ascii=False)

    return "\n".join([
        "[general]",
        f"status_path = {quoted(str(folder / 'status'))}",
        "[pair source_to_here]",
        'a = "source"',
        'b = "here"',
        'collections = ["from a"]',
        'conflict_resolution = "a wins"',
        'partial_sync = "ignore"',
        'metadata = ["displayname"]',
        "[storage source]",
        f'type = "{storage}"',
        f"url = {quoted(url)}",
        f"username = {quoted(user)}",
        f'password.fetch = ["command", "cat", {quoted(str(secret))}]',
        "read_only = true",
        "[storage here]",
        'type = "filesystem"',
        f"path = {quoted(str(folder / 'items'))}",
        f'fileext = "{suffix}"',
        "",
    ])


def _run(args: list[str], config: Path, source: str, what: str, stdin: str = "") -> None:
    env = {**os.environ, "VDIRSYNCER_CONFIG": str(config)}
    try:
        done = subprocess.run(["vdirsyncer", *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=TIMEOUT, cwd=config.parent)
    except subprocess.TimeoutExpired:
        raise UserError(f"--from {source}: vdirsyncer {args[0]} took more than {TIMEOUT // 3600} hours",
                        "check that the server answers, then run again") from None
    if done.returncode != 0:
        said = "; ".join(line.split(":", 1)[1].strip() for line in (done.stderr + done.stdout).splitlines()
                         if line.startswith(("error:", "critical:")) and "-vdebug" not in line)
        raise UserError(f"--from {source}: vdirsyncer could not {what}: "
                        f"{(said or done.stderr.strip())[-800:] or 'exit ' + str(done.returncode)}",
                        "check the address (the member's calendar or address-book home, e.g. "
                        "https://HOST/remote.php/dav/ for Nextcloud), the user name and the app password "
                        "in --password-file, then run again")


@contextmanager
def pulled(source: str, kind: str, secrets: SourceSecrets) -> Iterator[Path]:
    """The source's collections in a temporary folder: FOLDER/items/<collection>/<item>.ics|.vcf, and
    <collection>/displayname where the server names it. Deleted on leaving, whatever happened."""
    url, user = parse(source, kind)
    if secrets.kind == "token":
        raise UserError(f"--from {source}: OAuth tokens are not used for CalDAV/CardDAV servers",
                        "give the member's app password in --password-file (for Google, move the Takeout "
                        ".ics/.vcf files instead)")
    password = secrets.source_secret("the member's app password at that server")
    if shutil.which("vdirsyncer") is None:
        raise UserError("vdirsyncer is not installed on this machine (it reads CalDAV/CardDAV servers)",
                        "install Debian's package: sudo apt install vdirsyncer")
    folder = Path(tempfile.mkdtemp(prefix="sovstack-dav-"))  # mode 0700
    try:
        secret = folder / "secret"
        secret.touch(mode=0o600)
        secret.write_text(password, encoding="utf-8")
        config = folder / "config"
        config.touch(mode=0o600)
        config.write_text(_config(kind, url, user, secret, folder), encoding="utf-8")
        _run(["discover", "source_to_here"], config, source, "list the collections", stdin=ANSWERS)
        _run(["sync", "source_to_here"], config, source, "read the items")
        _run(["metasync", "source_to_here"], config, source, "read the collections' names")
        yield folder / "items"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
