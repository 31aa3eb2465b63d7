"""`sovstack backup` and `sovstack restore`, over SSH, through the scripts render.py puts on each
server (templates/backup/: /srv/sovstack/bin/sovstack-backup and sovstack-restore).

The restic repository password is read from the stack's secrets.yml and sent on standard input to
the restore script, which checks it (`restic cat config`) before it stops anything.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from sovstack.backup.plan import REMOTE_FAILED
from sovstack.engines.apply import Loaded
from sovstack.engines.remote import Target
from sovstack.errors import CatalogError, UserError
from sovstack.layout import BIN

BUSY = 75
TIMEOUT = 6 * 3600
# sovstack-restore's exit codes (templates/backup/srv/sovstack/bin/sovstack-restore.j2).
WRONG_PASSWORD, NO_REPOSITORY, REPOSITORY_ERROR, BAD_ARGUMENT = 3, 4, 5, 6


@dataclass
class Snapshot:
    server: str
    id: str
    time: str = ""


@dataclass
class Restored:
    server: str
    snapshot: Snapshot
    tools: list[str]
    output: str


def _tail(text: str, lines: int = 8) -> str:
    return " / ".join(text.strip().splitlines()[-lines:]) or "no message"


def _missing(target: Target, result, script: str) -> None:
    if result.returncode == 127:
        raise UserError(f"server {target.name!r}: {BIN}/{script} is missing (backups are not deployed there yet)",
                        "run `sovstack deploy` first (backup.enabled must not be false in sovstack.yml)")


def run_backup(loaded: Loaded, server: str) -> Snapshot:
    """Dump, snapshot and prune now, as the daily timer does; returns the new snapshot."""
    target = loaded.target(server)
    result = target.run(f"{BIN}/sovstack-backup", timeout=TIMEOUT, as_root=True)
    _missing(target, result, "sovstack-backup")
    if result.returncode == BUSY:
        raise UserError(f"server {server!r}: a backup or restore is already running", "wait for it, then run again")
    saved = re.search(r"sovstack-backup: snapshot ([0-9a-f]+) saved", result.stdout)
    if result.returncode == REMOTE_FAILED and saved:
        remote = re.sub(r"//[^/@]+@", "//***@", loaded.stack.backup.remote or "")  # a password in a REST URL
        why = re.search(r"sovstack-backup: remote repository .*? failed: (.*)", result.stderr)
        raise UserError(f"server {server!r}: snapshot {saved.group(1)} saved in {loaded.stack.backup.local}, but "
                        f"the remote repository {remote} failed: {why.group(1) if why else _tail(result.stderr)}",
                        _remote_fix(remote, str(loaded.secrets.path)))
    if result.returncode != 0:
        raise UserError(f"server {server!r}: the backup failed (exit {result.returncode}): "
                        f"{_tail(result.stderr or result.stdout)}",
                        f"read the whole output with: ssh to the server and run {BIN}/sovstack-backup")
    if not saved or not saved.group(1):
        # The server script is sovstack's own: its output and this parser disagree.
        raise CatalogError(f"server {server!r}: the backup ran but reported no snapshot: {_tail(result.stdout)}",
                           "this is a sovstack bug: report it with the output above")
    return Snapshot(server, saved.group(1))


def _remote_fix(remote: str | None, secrets_path: str) -> str:
    """What to check for backup.remote, by kind of repository; then deploy (backup.env) and back up again."""
    again = "then run `sovstack deploy` (it writes /etc/sovstack/backup.env) and `sovstack backup` again"
    if (remote or "").startswith("s3:"):
        return (f"check backup.remote in sovstack.yml (s3:https://host/bucket/path) and the keys under "
                f"backup.remote_env in {secrets_path} (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); {again}")
    if (remote or "").startswith("sftp:"):
        return (f"check backup.remote in sovstack.yml and that the remote host accepts root's SSH key of the "
                f"server (/root/.ssh/id_ed25519.pub) and is in its known_hosts; {again}")
    return (f"check backup.remote in sovstack.yml (rest:https://host:port/path) and that the REST server runs "
            f"and accepts this server; {again}")


def _restore_script(loaded: Loaded, server: str, *args: str):
    password = loaded.secrets.get("backup.password")
    if not password:
        raise UserError(f"{loaded.secrets.path}: key 'backup.password' is missing",
                        "copy secrets.yml from where you keep it safe: without it no snapshot can be read")
    target = loaded.target(server)
    command = " ".join(shlex.quote(a) for a in (f"{BIN}/sovstack-restore", *args))
    result = target.run(command, timeout=TIMEOUT, stdin=password + "\n", as_root=True)
    _missing(target, result, "sovstack-restore")
    repository = loaded.stack.backup.local
    if result.returncode == WRONG_PASSWORD:
        raise UserError(f"server {server!r}: the backup password in {loaded.secrets.path} (backup.password) does "
                        f"not open the restic repository {repository}; nothing was changed",
                        "put back the secrets.yml of the stack that made these backups (the password is generated "
                        "once, when backups are first deployed)")
    if result.returncode == NO_REPOSITORY:
        raise UserError(f"server {server!r}: there is no restic repository at {repository}; nothing was changed",
                        "run `sovstack backup` first, or copy the repository back to that path")
    if result.returncode in (REPOSITORY_ERROR, BAD_ARGUMENT):
        raise UserError(f"server {server!r}: {_tail(result.stderr)}; nothing was changed",
                        "check the repository, the snapshot id (`sovstack restore --list`) and the tool names")
    if result.returncode == BUSY:
        raise UserError(f"server {server!r}: a backup or restore is already running; nothing was changed",
                        "wait for it, then run again")
    return result


def snapshots(loaded: Loaded, server: str) -> list[Snapshot]:
    """The server's snapshots, oldest first (also proves the password opens the repository)."""
    result = _restore_script(loaded, server, "list")
    if result.returncode != 0:
        raise UserError(f"server {server!r}: cannot list the snapshots: {_tail(result.stderr)}",
                        "check the repository on the server with restic snapshots")
    found = json.loads(result.stdout or "[]") or []
    return [Snapshot(server, s["id"], s.get("time", "")) for s in sorted(found, key=lambda s: s.get("time", ""))]


def choose(found: list[Snapshot], wanted: str, server: str) -> Snapshot:
    if not found:
        raise UserError(f"server {server!r}: the repository holds no snapshot yet; nothing was changed",
                        "run `sovstack backup` first")
    if wanted == "latest":
        return found[-1]
    matches = [s for s in found if s.id.startswith(wanted.lower())]
    if len(matches) != 1:
        shown = ", ".join(s.id[:8] for s in found[-5:])
        raise UserError(f"--snapshot {wanted!r}: {'no' if not matches else 'more than one'} snapshot on server "
                        f"{server!r} matches; nothing was changed", f"use one of (latest last): {shown}")
    return matches[0]


def plan_restore(loaded: Loaded, tools: tuple[str, ...], only: tuple[str, ...]) -> dict[str, list[str]]:
    """server -> the tools to restore there (default: every tool of the chosen servers)."""
    for tool in tools:
        if tool not in loaded.stack.tools:
            raise UserError(f"--tool {tool!r}: not in {loaded.path}",
                            f"use one of {', '.join(sorted(loaded.stack.tools))}")
    servers = loaded.servers(only)
    wanted = {s: [t for t in loaded.stack.tools_on(s) if not tools or t in tools] for s in servers}
    return {s: t for s, t in wanted.items() if t}


def restore(loaded: Loaded, server: str, tools: list[str], snapshot: str = "latest") -> Restored:
    """Check the password, pick the snapshot, then stop, restore files, load dumps, start."""
    chosen = choose(snapshots(loaded, server), snapshot, server)
    result = _restore_script(loaded, server, "restore", chosen.id, *tools)
    if result.returncode != 0:
        raise UserError(f"server {server!r}: the restore of {', '.join(tools)} stopped (exit {result.returncode}): "
                        f"{_tail(result.stderr or result.stdout)}",
                        "the files found before the restore are in /srv/sovstack/pre-restore/<tool> on the server; "
                        "fix the cause and run the restore again")
    return Restored(server, chosen, tools, result.stdout)
