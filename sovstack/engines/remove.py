"""Removing a tool from a deployed stack: stop it, drop its files, routes and wiring; keep its data.

The stack without the tool is rendered like any other; what the old bundle had and the new one
lacks (files, services, the compose project, packages with --purge) is undone on the server, then
a normal deploy applies the rest (Caddy routes, directory accounts, mail senders, DNS records
follow from the smaller stack by themselves).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from sovstack.catalog import Catalog
from sovstack.errors import UserError
from sovstack.layout import ROOT
from sovstack.render.bundle import Bundle
from sovstack.stack.stackfile import Stack, parse_stack
from sovstack.yamlio import load_yaml_text


@dataclass
class Removal:
    tool: str
    server: str
    stack_text: str  # the stack file without the tool, comments kept
    stack: Stack
    commands: list[str] = field(default_factory=list)  # run as root on the server, in order
    kept: list[str] = field(default_factory=list)  # what stays on the server (for the summary)


def check_removable(stack: Stack, catalog: Catalog, tool: str, path: Path) -> None:
    if tool not in stack.tools:
        raise UserError(f"{path}: no tool {tool!r} under 'tools'",
                        f"use one of {', '.join(sorted(stack.tools))}" if stack.tools else
                        "the stack self-hosts nothing, so there is nothing to remove")
    needing = [t for t in stack.tools if t != tool and (tool in catalog.tools[t].addon_for
                                                         or tool in catalog.tools[t].requires_tools)]
    if needing:
        raise UserError(f"{', '.join(needing)} need{'s' if len(needing) == 1 else ''} {tool}",
                        f"remove {needing[0]} first (`sovstack remove {needing[0]}`); nothing was changed")


def without_tool(text: str, tool: str) -> str:
    """The stack file's text without `tools.<tool>` (its line and any indented lines under it)."""
    lines = text.splitlines(keepends=True)
    out, in_tools, skipping, indent = [], False, False, 0
    for line in lines:
        bare = line.strip()
        depth = len(line) - len(line.lstrip(" "))
        if skipping:
            if bare and depth <= indent:
                skipping = False
            else:
                continue
        if re.match(r"^tools\s*:", line):
            in_tools = True
        elif bare and depth == 0 and not bare.startswith("#"):
            in_tools = False
        if in_tools and depth > 0 and re.match(rf"^\s+{re.escape(tool)}\s*:", line):
            skipping, indent = True, depth
            continue
        out.append(line)
    return "".join(out)


def smaller_stack(stack_path: Path, catalog: Catalog, tool: str) -> tuple[str, Stack]:
    """The stack file's text without the tool, and that stack validated like any stack file."""
    original = stack_path.read_text(encoding="utf-8")
    load_yaml_text(original, stack_path)  # a mistake in the file is reported at its own line, not the edited text's
    text = without_tool(original, tool)
    smaller = parse_stack(load_yaml_text(text, stack_path), stack_path, catalog)
    if tool in smaller.tools:
        raise UserError(f"{stack_path}: could not take {tool} out of 'tools' (unusual layout)",
                        f"delete the '{tool}:' entry under 'tools' by hand, then run `sovstack deploy`")
    return text, smaller


def plan(stack: Stack, tool: str, text: str, smaller: Stack, before: Bundle, after: Bundle,
         purge: bool) -> Removal:
    """What to undo on the tool's server; `before`/`after` are its bundle with and without the tool."""
    removal = Removal(tool, stack.tools[tool].server, text, smaller)
    old, new = before.manifest, after.manifest
    app_dir = f"{ROOT}/apps/{tool}"
    if any(c["name"] == tool for c in old["compose"]):
        removal.commands.append(f"docker compose -f {app_dir}/compose.yml down --remove-orphans || true")
    gone_units = {s["name"] for s in old["services"]} - {s["name"] for s in new["services"]}
    for unit in sorted(gone_units):
        removal.commands.append(f"systemctl disable --now {shlex.quote(unit)} 2>/dev/null || true")
    gone_files = sorted({f["dest"] for f in old["files"]} - {f["dest"] for f in new["files"]})
    if gone_files:
        removal.commands.append("rm -f -- " + " ".join(shlex.quote(f) for f in gone_files))
    removal.commands.append(f"rm -rf -- {shlex.quote(app_dir)}")
    data = f"{ROOT}/data/{tool}"
    if purge:
        removal.commands.append(f"rm -rf -- {shlex.quote(data)}")
        gone_packages = [p for p in old["packages"] if p not in new["packages"]]
        if gone_packages:
            removal.commands.append("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "
                                    + " ".join(shlex.quote(p) for p in gone_packages))
    else:
        removal.kept.append(data)
        removal.kept += [f"package {p}" for p in old["packages"] if p not in new["packages"]]
    return removal


