"""Files: rclone (Debian's package) from Google Drive, OneDrive, Dropbox, WebDAV, SFTP or a folder on
this machine (an unpacked Takeout "Drive" folder) to the member's files over WebDAV.

Identity key: the path, with the size (and a hash where both ends share one). rclone runs here, on the
techie's machine; every remote is defined by RCLONE_CONFIG_* variables in rclone's environment (never a
config file, never argv), passwords obscured by `rclone obscure -` from stdin. Google documents are
exported as ODF (odt, ods, odp) unless RCLONE_DRIVE_EXPORT_FORMATS says otherwise (e.g. docx,xlsx,pptx),
and since they have no size at the source they are checked by name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from sovstack.errors import UserError
from sovstack.members.accounts import check_username
from sovstack.migrate.model import Inventory, Item, Progress, SourceSecrets, Verification, server_address

KIND = "files"
CLOUDS = {"drive": "Google Drive", "onedrive": "OneDrive", "dropbox": "Dropbox"}
ODF = "odt,ods,odp,svg"  # rclone's drive.md: the first format a document supports wins
TIMEOUT = 6 * 3600  # a large Drive at Google's ~2 files/s still ends; a stuck transfer does not hang forever
# Files tools of the catalog and where a member's files are in their WebDAV: Nextcloud's user manual
# (files/access_webdav.html); the user is the member's uid, as its LDAP wiring sets ldapExpertUsernameAttr.
# Seafile's SeafDAV logs in by e-mail address and is not listed until that is wired and checked.
WEBDAV_PATHS = {"nextcloud": "/remote.php/dav/files/{user}/"}
SOURCE_FORMS = ("a folder on this machine (e.g. an unpacked Takeout Drive folder), drive:[FOLDER], "
                "onedrive:[FOLDER], dropbox:[FOLDER] (with --token-file), webdav+https://USER@HOST/PATH or "
                "sftp://USER@HOST[:PORT]/PATH (with --password-file)")


@dataclass(frozen=True)
class Remote:
    """An rclone remote named `name`, defined only by environment variables (`env`, secrets included),
    and the path in it."""

    name: str
    env: dict[str, str] = field(repr=False)
    path: str

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.path}"


@dataclass(frozen=True)
class Destination:
    member: str
    url: str  # the member's WebDAV folder
    vendor: str

    def __str__(self) -> str:
        return self.url


def rclone() -> str:
    found = shutil.which("rclone")
    if not found:
        raise UserError("rclone is not installed on this machine (sovstack migrate files runs it here)",
                        "apt-get install rclone")
    return found


def obscure(secret: str) -> str:
    """rclone's own obscuring of a password for RCLONE_CONFIG_*_PASS, read from stdin (not argv)."""
    result = subprocess.run([rclone(), "obscure", "-"], input=secret, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise UserError("rclone could not take the password", "check the password file: one line, the password")
    return result.stdout.strip()


def source_remote(source: str, secrets: SourceSecrets) -> Remote:
    """--from as an rclone remote named `src`; UserError naming the value and the forms allowed."""
    env = {"RCLONE_CONFIG_SRC_TYPE": ""}
    cloud = re.fullmatch(r"(drive|onedrive|dropbox):(.*)", source)
    if cloud:
        backend, path = cloud.groups()
        if secrets.kind != "token":
            raise UserError(f"--from {source}: {CLOUDS[backend]} needs an OAuth token: give it with --token-file",
                            f"on a machine with a browser run `rclone authorize \"{backend}\"` and save the token "
                            "it prints (the JSON) in a file only you can read")
        env |= {"RCLONE_CONFIG_SRC_TYPE": backend,
                "RCLONE_CONFIG_SRC_TOKEN": secrets.source_secret("the OAuth token")}
        if backend == "drive":
            env["RCLONE_DRIVE_EXPORT_FORMATS"] = os.environ.get("RCLONE_DRIVE_EXPORT_FORMATS", ODF)
        return Remote("src", env, path)
    if re.match(r"(webdav\+https?|sftp)://", source):
        forms = "webdav+https://USER@HOST/PATH or sftp://USER@HOST/PATH"
        url = server_address(source, f"--from {source}", "--from", what="WebDAV or SFTP folder", example=forms,
                             secret="the password", secret_option="--password-file",
                             schemes=("webdav+https", "webdav+http", "sftp"))
        if not url.user:
            raise UserError(f"--from {source}: the user and the server are both needed", f"write it as {forms}")
        password = obscure(secrets.source_secret("the password"))
        if url.scheme == "sftp":
            env |= {"RCLONE_CONFIG_SRC_TYPE": "sftp", "RCLONE_CONFIG_SRC_HOST": url.host,
                    "RCLONE_CONFIG_SRC_PORT": str(url.port or 22), "RCLONE_CONFIG_SRC_USER": url.user,
                    "RCLONE_CONFIG_SRC_PASS": password}
            return Remote("src", env, unquote(url.path))
        scheme = url.scheme.removeprefix("webdav+")
        env |= {"RCLONE_CONFIG_SRC_TYPE": "webdav", "RCLONE_CONFIG_SRC_URL": f"{scheme}://{url.netloc}",
                "RCLONE_CONFIG_SRC_VENDOR": "other", "RCLONE_CONFIG_SRC_USER": url.user,
                "RCLONE_CONFIG_SRC_PASS": password}
        return Remote("src", env, unquote(url.path))
    folder = Path(source)
    if not folder.is_dir():
        raise UserError(f"--from {source}: no such folder, and not a remote sovstack knows", f"give {SOURCE_FORMS}")
    # A local folder needs no remote: rclone's own "local" backend, named like the others.
    return Remote("src", {"RCLONE_CONFIG_SRC_TYPE": "local"}, str(folder.resolve()))


def rclone_env(env: dict[str, str]) -> dict[str, str]:
    # RCLONE_CONFIG=/dev/null: no config file is read or written; the remotes live in the environment.
    return {**os.environ, "RCLONE_CONFIG": "/dev/null", **env}


def run_rclone(args: list[str], env: dict[str, str], timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([rclone(), *args], env=rclone_env(env), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def last_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if "ERROR" in line or "Failed" in line]
    return (lines or result.stderr.strip().splitlines() or ["no message"])[-1][-300:]


def collection_of(path: str) -> str:
    """The top folder a file is in ("/" for the top level): what the report counts per folder."""
    return path.split("/", 1)[0] if "/" in path else "/"


def listing(remote: Remote, what: str) -> list[dict]:
    result = run_rclone(["lsjson", "-R", "--files-only", "--hash", "--no-mimetype", remote.spec], remote.env)
    if result.returncode != 0:
        raise UserError(f"{what}: rclone could not list {remote.spec} ({last_error(result)})",
                        "check the address, the password or token, and that the folder exists")
    return json.loads(result.stdout or "[]")


class FilesMover:
    kind = KIND

    def needs_stack(self, source: str) -> bool:
        return False  # every source is read from this machine

    def inventory(self, source: str, secrets: SourceSecrets) -> Inventory:
        remote = source_remote(source, secrets)
        found = Inventory(KIND, source)
        for entry in sorted(listing(remote, f"--from {source}"), key=lambda e: e["Path"]):
            path = entry["Path"]
            item = Item(collection_of(path), path)
            if entry.get("Size", 0) < 0 and not entry.get("Hashes"):
                # A Google document: no size until exported; checked by name at the destination.
                found.extra[item] = {"size": None}
            else:
                found.extra[item] = {"size": entry["Size"], "hashes": entry.get("Hashes") or {}}
            found.items.append(item)
        if re.match(r"drive:", source):
            found.notes.append("Google Forms cannot be exported as files: rebuild each form in the forms tool; "
                               "their responses move as spreadsheets (export each form's responses sheet)")
        return found

    def destination(self, loaded, to: str) -> Destination:
        member, _, url = to.partition("=")
        check_username(member, f"--to {to}")  # it becomes part of the WebDAV address and the login
        if url:  # a file tool outside the stack (a hoster's Nextcloud): MEMBER=WEBDAV-URL
            forms = "--to MEMBER=https://HOST/PATH (no user in it; the password goes in the moves CSV's " \
                "to_secret_file or --to-password-file)"
            parsed = server_address(url, f"--to {to}", f"--to {member}=...", what="WebDAV folder", example=forms,
                                    secret=f"{member}'s app password", secret_option="--to-password-file")
            if parsed.user is not None:
                raise UserError(f"--to {to}: the member's login is {member}, so the address names no user",
                                f"give e.g. {forms}")
            return Destination(member, url.rstrip("/") + "/", "other")
        tools = [t for t in loaded.stack.tools if t in WEBDAV_PATHS]
        if not tools:
            raise UserError(f"--to {to}: no file tool in {loaded.path} takes files over WebDAV "
                            f"(sovstack knows {', '.join(sorted(WEBDAV_PATHS))})",
                            "add one to the stack and deploy it, or give the hoster's WebDAV folder: "
                            f"--to {member}=https://HOST/PATH")
        tool = tools[0]
        fqdn = loaded.stack.fqdn(tool, loaded.catalog)
        return Destination(member, f"https://{fqdn}" + WEBDAV_PATHS[tool].format(user=member), tool)

    def _dest_remote(self, dest: Destination, secrets: SourceSecrets) -> Remote:
        password = obscure(secrets.destination_secret(f"{dest.member}'s app password for {dest.url}"))
        env = {"RCLONE_CONFIG_DST_TYPE": "webdav", "RCLONE_CONFIG_DST_URL": dest.url,
               "RCLONE_CONFIG_DST_VENDOR": dest.vendor, "RCLONE_CONFIG_DST_USER": dest.member,
               "RCLONE_CONFIG_DST_PASS": password}
        return Remote("dst", env, "")

    def copy(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Destination,
             progress: Progress) -> int:
        src, dst = source_remote(source, secrets), self._dest_remote(dest, secrets)
        # --use-json-log: one JSON line per event, so "Copied (new)" is counted as it happens (the
        # progress of a copy that can take hours), not guessed from stats.
        command = [rclone(), "copy", src.spec, dst.spec, "--use-json-log", "-v", "--stats", "0"]
        copied, tail = 0, []
        with subprocess.Popen(command, env=rclone_env(src.env | dst.env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) as process:
            for line in process.stderr:
                if '"msg":"Copied (' in line.replace('": "', '":"'):
                    copied += 1
                    progress(copied, len(inventory.items))
                tail = (tail + [line])[-20:]
            code = process.wait(timeout=TIMEOUT)
        if code != 0:
            error = last_error(subprocess.CompletedProcess(command, code, "", "".join(tail)))
            raise UserError(f"files -> {dest.member}: rclone copy stopped after {copied} file(s) ({error})",
                            "run the same command again: what is already there is not copied twice")
        return copied

    def verify(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Destination) -> Verification:
        src, dst = source_remote(source, secrets), self._dest_remote(dest, secrets)
        there = {e["Path"]: e for e in listing(dst, f"--to {dest.member}")}
        found, altered = set(), {}
        for item in inventory.items:
            entry = there.get(item.id)
            if entry is None:
                continue
            found.add(item)
            size = inventory.extra.get(item, {}).get("size")
            if size is not None and entry["Size"] != size:
                altered[item] = f"size {entry['Size']} at the destination, {size} at the source"
        # Content: `rclone check --one-way` compares hashes where both ends have one in common, else
        # (--download) the bytes; Google documents (no size) are left to the name check above.
        checked = {i.id for i in found if inventory.extra.get(i, {}).get("size") is not None and i not in altered}
        if checked:
            common = any(set(inventory.extra[i].get("hashes", {})) & set(there[i.id].get("Hashes") or {})
                         for i in found if i.id in checked)
            altered |= self._differ(src, dst, checked, inventory, download=not common)
        return Verification(list(inventory.items), found, altered)

    def _differ(self, src: Remote, dst: Remote, paths: set[str], inventory: Inventory,
                download: bool) -> dict[Item, str]:
        args = ["check", src.spec, dst.spec, "--one-way", "--combined", "-"] + (["--download"] if download else [])
        result = run_rclone(args, src.env | dst.env)
        if result.returncode not in (0, 1):
            raise UserError(f"rclone check could not compare the files ({last_error(result)})",
                            "check that both ends are reachable, then run again")
        by_path = {i.id: i for i in inventory.items}
        differ = {}
        for line in result.stdout.splitlines():
            mark, _, path = line.partition(" ")
            if mark in ("*", "!") and path in paths:
                differ[by_path[path]] = "content differs from the source" if mark == "*" else "could not be read"
        return differ


MOVER = FilesMover()
