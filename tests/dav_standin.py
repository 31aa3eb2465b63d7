"""A stand-in for a former hoster's CalDAV/CardDAV server (Nextcloud, SOGo, Fastmail... cannot be reached
from the tests): Debian's Radicale (python3-radicale) on this machine's loopback, one user with a
password, holding the Takeout stand-ins' items (tests/takeout_dav.py) in collections named like the
Takeout's. Used by tests/test_migrate_dav.py and tests/test_migrate_calendars_sandbox.py."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from pathlib import Path

import requests

from sovstack.migrate import dav
from sovstack.migrate.model import Inventory
from sovstack.migrate.radicale import mkcol

USER, PASSWORD = "bob", "Ancien-Hebergeur-0123"


class DavStandin:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
        self.storage = folder / "collections"
        (folder / "config").write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\nhtpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {self.storage}\n[rights]\ntype = owner_only\n")
        self.password_file = folder / "bob.pass"
        self.password_file.write_text(PASSWORD + "\n")  # as an editor saves it: the newline must not count
        self.log = open(folder / "radicale.log", "wb")
        self.process = subprocess.Popen(["/usr/bin/python3", "-m", "radicale", "--config", str(folder / "config")],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, (folder / "radicale.log").read_text()
                time.sleep(0.2)
        else:
            raise AssertionError("the stand-in Radicale did not listen within 30 s")

    @property
    def source(self) -> str:
        return f"http://{USER}@127.0.0.1:{self.port}/"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{USER}/{path}"

    def seed(self, kind: str, takeout_file: Path) -> Inventory:
        """Put the Takeout stand-in's items on the server, each on its own, in a collection named like the
        file's; returns the Takeout inventory (what the server now holds)."""
        found = dav.inventory(str(takeout_file), kind)
        auth = (USER, PASSWORD)
        for coll in {p.collection.slug: p.collection for p in found.extra.values()}.values():
            made = requests.request("MKCOL", self.url(f"{coll.slug}/"), auth=auth, timeout=30,
                                    data=mkcol(kind, coll.name).encode(), headers={"Content-Type": "application/xml"})
            assert made.status_code == 201, made.text
        for payload in found.extra.values():
            put = requests.put(self.url(f"{payload.collection.slug}/{payload.href}"), auth=auth, timeout=30,
                               data=payload.body.encode(), headers={"Content-Type": dav.CONTENT_TYPE[kind]})
            assert put.status_code == 201, put.text
        return found

    def fingerprint(self) -> str:
        """A hash of every file the stand-in stores: unchanged when nothing was written to it."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.storage.rglob("*") if p.is_file() and ".Radicale.cache" not in p.parts
                           and p.name != ".Radicale.lock"):
            digest.update(str(path.relative_to(self.storage)).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
