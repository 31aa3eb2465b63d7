"""The `groups:` block of sovstack.yml, changed by `sovstack groups add|remove` without touching the rest.

The stack file is the techie's, with their comments: only the top-level `groups:` block is rewritten
(or appended), and the new text is validated as a whole stack before it is written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sovstack.catalog import Catalog
from sovstack.errors import UserError
from sovstack.stack.stackfile import GROUP_ID, RESERVED_GROUPS, Group, Stack, parse_stack
from sovstack.yamlio import dump_yaml, load_yaml_text

_TOP_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\s*:")


def replace_groups_block(text: str, groups: dict[str, Group]) -> str:
    """`text` with its top-level `groups:` block replaced by `groups` (appended when there is none,
    removed when `groups` is empty). Other lines, comments included, stay as they are."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^groups\s*:", line)), None)
    if start is None:
        kept = lines
        at = len(lines)
    else:
        end = start + 1
        while end < len(lines) and not _TOP_KEY.match(lines[end]):
            end += 1
        # Comment lines just before the next key belong to it, not to the groups block.
        while end - 1 > start and lines[end - 1].lstrip().startswith("#") and not lines[end - 1].startswith(" "):
            end -= 1
        kept = lines[:start] + lines[end:]
        at = start
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    block = ""
    if groups:
        block = dump_yaml({"groups": {g: {"name": group.name, **group.model_dump(exclude_defaults=True, exclude={"name"})}
                                      for g, group in groups.items()}})
    return "".join(kept[:at]) + block + "".join(kept[at:])


def check_group_id(group_id: str, where: str) -> str:
    if not re.fullmatch(GROUP_ID, group_id) or group_id in RESERVED_GROUPS:
        raise UserError(f"{where}: {group_id!r} is not a group id",
                        "use 1 to 31 lowercase letters, digits and hyphens, starting with a letter (not "
                        f"{', '.join(RESERVED_GROUPS)})")
    return group_id


def write_groups(path: Path, stack: Stack, groups: dict[str, Group], catalog: Catalog) -> Stack:
    """Write `groups` into the stack file at `path`; the whole new file is validated first, so a
    refused change leaves the file as it was."""
    text = path.read_text(encoding="utf-8")
    new_text = replace_groups_block(text, groups)
    new_stack = parse_stack(load_yaml_text(new_text, path), path, catalog)
    if new_stack.model_dump(exclude={"groups"}) != stack.model_dump(exclude={"groups"}):
        raise UserError(f"{path}: rewriting its groups block would change other keys",
                        "edit the 'groups:' block by hand (its layout is unusual)")
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text(new_text, encoding="utf-8")
    os.replace(temporary, path)
    return new_stack
