"""What each server's backup covers, as data for templates/backup/ (rendered by render.py).

Per tool on the server: the paths in the snapshot (its data directory, the catalog's extra paths,
its dumps directory), the live database files left out, the dumps with their dump/load shell,
and how the tool is stopped and started around a restore.
"""

from __future__ import annotations

import shlex
from typing import Any

import jinja2

from sovstack.backup import dumps as backup_dumps
from sovstack.catalog import Catalog
from sovstack.errors import CatalogError
from sovstack.layout import ROOT
from sovstack.stack.secrets import Secrets
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import ldap_base_dn

DUMPS = f"{ROOT}/dumps"
ENV_FILE = "/etc/sovstack/backup.env"
TIMER = "sovstack-backup.timer"
PACKAGES = ["restic", "sqlite3"]
STATUS_FILE = f"{ROOT}/backup-status"  # last successful backup: time=…, snapshot=…, remote=ok|failed|none
# The remote repository: how long sovstack-backup waits for it to answer at all (restic itself
# retries for 15 minutes), and its exit code when the local snapshot is saved but the remote failed.
REMOTE_WAIT = 300
REMOTE_FAILED = 4


def tool_plan(stack: Stack, catalog: Catalog, tool_id: str, app: dict[str, Any], ctx: dict[str, Any],
              env: jinja2.Environment) -> dict[str, Any]:
    deploy = catalog.tools[tool_id].deploy
    spec = deploy.backup

    def rendered(text: str) -> str:
        try:
            return env.from_string(text).render(ctx)
        except jinja2.TemplateError as exc:
            raise CatalogError(f"catalog {tool_id}: deploy.backup: cannot render {text!r} ({exc})",
                               "this is a catalog mistake: report it") from None
    dumps = []
    for index, dump in enumerate(spec.dumps):
        path = rendered(dump.path) if dump.path else None
        make, load = backup_dumps.commands(dump, app["dir"], ldap_base_dn(stack.domain), path)
        dumps.append({"file": f"{DUMPS}/{tool_id}/{backup_dumps.dump_name(index, dump)}", "kind": dump.kind,
                      "dump": make, "load": load})
    compose = deploy.how == "compose" and bool(deploy.images) and catalog.tools[tool_id].role != "addon"
    units = " ".join(shlex.quote(u) for u in deploy.services)
    if compose:
        stop, start = (f"docker compose -f {app['dir']}/compose.yml stop",
                       f"docker compose -f {app['dir']}/compose.yml up -d")
    elif units:
        stop, start = f"systemctl stop {units}", f"systemctl start {units}"
    else:
        stop = start = "true"
    return {"id": tool_id, "paths": [app["data"], *(rendered(p) for p in spec.paths), f"{DUMPS}/{tool_id}"],
            "exclude": [f"{app['data']}/{e.strip('/')}" for e in spec.exclude], "dumps": dumps,
            "stop": stop, "start": start,
            "after_restore": rendered(spec.after_restore) if spec.after_restore else None}


def server_plan(stack: Stack, secrets: Secrets, server: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    settings = stack.backup
    hour, minute = settings.time.split(":")
    keep = (f"--keep-daily {settings.keep_daily} --keep-weekly {settings.keep_weekly} "
            f"--keep-monthly {settings.keep_monthly}")
    remote_env = (secrets.data.get("backup") or {}).get("remote_env") or {}
    return {"server": server, "local": settings.local, "remote": settings.remote, "keep": keep,
            "on_calendar": f"*-*-* {hour}:{minute}:00", "tools": tools, "dumps_dir": DUMPS,
            "env_file": ENV_FILE, "status_file": STATUS_FILE, "remote_wait": REMOTE_WAIT,
            "remote_failed_exit": REMOTE_FAILED,
            "environment": _quoted({"RESTIC_REPOSITORY": settings.local, "RESTIC_PASSWORD": secrets.get("backup.password"),
                            **({"SOVSTACK_BACKUP_REMOTE": settings.remote} if settings.remote else {}),
                            **{k: str(v) for k, v in sorted(remote_env.items())}})}


def _quoted(values: dict[str, str | None]) -> dict[str, str]:
    return {key: shlex.quote(value or "") for key, value in values.items()}


def init_step(plan: dict[str, Any]) -> dict[str, str]:
    """The deploy step that creates the local repository once (restic init)."""
    load = f"set -a; . {plan['env_file']}; set +a"
    return {"id": "backup-repository", "name": f"restic repository {plan['local']} initialised",
            "unless": f"{load}; restic cat config >/dev/null",
            "run": f"{load}\ninstall -d -m 0700 {shlex.quote(plan['local'])}\nrestic init"}
