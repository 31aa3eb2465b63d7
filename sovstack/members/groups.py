"""The groups of a network (a hub and its partner groups): their spaces in the stack's tools, and
deleting them (`sovstack groups remove --purge`). The stack file's 'groups' block is stack/groupsfile.py;
the group entries and their members are members/directory.py."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass

from sovstack.catalog import GroupSpaces
from sovstack.errors import UserError
from sovstack.members.directory import Directory
from sovstack.wiring.model import Wiring


@dataclass(frozen=True)
class Space:
    tool: str
    name: str  # the tool's name, for people
    spaces: GroupSpaces


def spaces(w: Wiring) -> list[Space]:
    """The tools of the stack that give groups a space, in the stack's order."""
    return [Space(t, w.catalog.tools[t].name, w.catalog.tools[t].deploy.group_spaces) for t in sorted(w.stack.tools)
            if w.catalog.tools[t].deploy and w.catalog.tools[t].deploy.group_spaces]


def refresh(w: Wiring, target_for, groups_changed: bool = True) -> list[str]:
    """After a membership change, on each tool's server: its member_sync (a tool that keeps its own copy of
    the member list, Mailman's subscriptions), and when groups changed in a network, its group_spaces.refresh
    (a tool that does not read the groups from the directory at each login). Returns the tools refreshed."""
    done = []
    for tool_id in sorted(w.stack.tools):
        deploy = w.catalog.tools[tool_id].deploy
        if deploy is None:
            continue
        commands = []
        if groups_changed and w.stack.groups and deploy.group_spaces and deploy.group_spaces.refresh:
            commands.append(deploy.group_spaces.refresh)
        if deploy.member_sync and deploy.member_sync not in commands:
            commands.append(deploy.member_sync)
        name, server = w.catalog.tools[tool_id].name, w.stack.tools[tool_id].server
        for command in commands:
            result = target_for(server).run(command, as_root=True)
            if result.returncode != 0:
                raise UserError(f"server {server!r}: {name} did not take the new members: "
                                f"{result.stderr.strip()[-300:]}", "run `sovstack deploy`, which sets them again")
        if commands:
            done.append(name)
    return done


def purge(w: Wiring, directory: Directory, target_for, group: str) -> list[str]:
    """Delete a group's directory entry and its spaces on every server; returns what was deleted.
    `group` is a validated id of the stack file's groups (its paths are quoted all the same). The entry goes
    first: a tool that makes the groups' spaces from the directory (Prosody's room timer) then has nothing
    to make again once its space is deleted."""
    if group not in w.stack.groups:
        raise UserError(f"no group {group!r} in the stack file", "see `sovstack groups list`")
    done = []
    if directory.delete_group(group):
        done.append(f"the directory's group entry {directory.group_dn(group)}")
    for space in spaces(w):
        server = w.stack.tools[space.tool].server
        encoded = base64.b64encode(group.encode()).decode()
        paths = [p.replace("{group_base64}", encoded).replace("{group}", group) for p in space.spaces.paths]
        commands = ["rm -rf -- " + " ".join(shlex.quote(p) for p in paths)] if paths else []
        if space.spaces.purge:
            commands.append(space.spaces.purge.replace("{group}", shlex.quote(group)))
        if not commands:
            continue
        result = target_for(server).run(" && ".join(commands), as_root=True)
        if result.returncode != 0:
            raise UserError(f"server {server!r}: could not delete {group}'s space in {space.name}: "
                            f"{result.stderr.strip()[-300:]}", "delete it by hand, then run again")
        # The purge command says what it deleted, one thing a line (paths name themselves).
        deleted = paths + [line.strip() for line in result.stdout.splitlines() if line.strip()]
        done.append(f"{space.name} on {server}: {', '.join(deleted)}")
    refresh(w, target_for)
    return done
