"""`sovstack groups`: network mode, a hub and the partner groups it coordinates (cli/main.py is the error
boundary). The groups are kept in sovstack.yml; `sovstack deploy` creates their entries and spaces."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sovstack.cli.shared import STACK, find_stack, print_table


@click.group()
def groups() -> None:
    """Network mode: the hub and the partner groups it coordinates, each with its own spaces.

    A group gets, as far as the stack's tools allow, a space its members write and the others read
    (e.g. a wiki namespace); the hub also gets the public goods every group reads. Members join a
    group with `sovstack members join`.

    \b
    Example:
      sovstack groups add coordination --name "Coordination" --hub --coordinator ada
      sovstack groups add lyon --name "Groupe de Lyon" --coordinator ben
      sovstack deploy
    """


def _stack(stack_path: Path | None):
    from sovstack.catalog import load_catalog
    from sovstack.stack.stackfile import load_stack

    path = find_stack(stack_path)
    catalog = load_catalog()
    return path, load_stack(path, catalog), catalog


def _spaces_text(stack, catalog) -> list[str]:
    from sovstack.wiring.wire import wire
    from sovstack.members.groups import spaces

    return [f"{space.name}: {space.spaces.each_group.get('en')}" for space in spaces(wire(stack, catalog))]


@groups.command("add")
@click.argument("group_id", metavar="ID")
@click.option("--name", required=True, help="The group's name as people say it, e.g. \"Groupe de Lyon\".")
@click.option("--coordinator", "coordinators", multiple=True, help="User name of a member who coordinates it "
              "(repeatable).")
@click.option("--hub", is_flag=True, help="This group is the hub: it writes the public goods every group reads.")
@STACK
def groups_add(group_id: str, name: str, coordinators: tuple[str, ...], hub: bool, stack_path: Path | None) -> None:
    """Add a group to sovstack.yml; `sovstack deploy` then creates it in the directory and its spaces.

    \b
    Example:
      sovstack groups add lyon --name "Groupe de Lyon" --coordinator ben
    """
    from sovstack.errors import UserError
    from sovstack.stack.groupsfile import check_group_id, write_groups
    from sovstack.stack.stackfile import Group

    check_group_id(group_id, "groups add")
    path, stack, catalog = _stack(stack_path)
    if group_id in stack.groups:
        state = " (archived: remove it with --purge first, or edit archived: false in the file)" \
            if stack.groups[group_id].archived else ""
        raise UserError(f"groups add: {group_id!r} is already a group{state}",
                        "choose another id (see `sovstack groups list`)")
    from pydantic import ValidationError

    try:
        group = Group(name=name, coordinators=list(coordinators), hub=hub)
    except ValidationError as exc:
        problem = exc.errors()[0]
        option = "--coordinator" if problem["loc"][0] == "coordinators" else "--name"
        raise UserError(f"groups add {group_id} {option}: {problem['msg'].removeprefix('Value error, ')}",
                        "give a one-line --name and the coordinators' user names") from None
    if hub and stack.hub():
        raise UserError(f"groups add {group_id} --hub: {stack.hub()!r} is already the hub",
                        "a network has one hub: add this group without --hub")
    write_groups(path, stack, {**stack.groups, group_id: group}, catalog)
    click.echo(f"added group {group_id} ({name}) to {path}")
    for line in _spaces_text(stack, catalog):
        click.echo(f"  {line}")
    click.echo("next: `sovstack deploy`, then `sovstack members join USER " + group_id + "`")


@groups.command("list")
@click.option("--members", "with_members", is_flag=True, help="Also read each group's members from the directory "
              "(contacts the server).")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@STACK
def groups_list(with_members: bool, as_json: bool, stack_path: Path | None) -> None:
    """List the groups: id, name, hub or partner, coordinators, and with --members who is in each.

    \b
    Example:
      sovstack groups list --members
    """
    path, stack, _ = _stack(stack_path)
    members: dict[str, list[str]] = {}
    if with_members:
        from sovstack.cli.members import _members_context

        _, directory, _ = _members_context(path)
        members = directory.groups()
    # members: None for a group the directory lacks (not deployed yet, or lost).
    rows = [{"id": g, "name": group.name, "hub": group.hub, "archived": group.archived,
             "coordinators": group.coordinators, **({"members": members.get(g)} if with_members else {})}
            for g, group in stack.groups.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no groups: add the hub and the partner groups with `sovstack groups add`")
        return
    columns = ["id", "name", "kind", "coordinators"] + (["members"] if with_members else [])
    print_table(columns, [[r["id"], r["name"], ("hub" if r["hub"] else "group") + (", archived" if r["archived"]
                                                                                 else ""),
                           ", ".join(r["coordinators"])]
                          + ([_members_cell(r["members"])] if with_members else [])
                          for r in rows])


def _members_cell(members: list[str] | None) -> str:
    return "(not in the directory: run `sovstack deploy`)" if members is None else ", ".join(members)


@groups.command("remove")
@click.argument("group_id", metavar="ID")
@click.option("--purge", is_flag=True, help="Delete the group's spaces and directory entry on the servers, and the "
              "group from sovstack.yml. Without it the group is archived: its spaces stay, read-only.")
@STACK
def groups_remove(group_id: str, purge: bool, stack_path: Path | None) -> None:
    """Archive a group (its spaces stay, read-only, after the next deploy), or delete it with --purge.

    Its members stay members of the association either way.

    \b
    Example:
      sovstack groups remove lyon
      sovstack groups remove lyon --purge
    """
    from sovstack.errors import UserError
    from sovstack.stack.groupsfile import check_group_id, write_groups

    check_group_id(group_id, "groups remove")
    path, stack, catalog = _stack(stack_path)
    group = stack.groups.get(group_id)
    if group is None:
        raise UserError(f"groups remove: no group {group_id!r} in {path}",
                        f"use one of {', '.join(stack.groups) or '(none)'}")
    if not purge:
        if group.archived:
            click.echo(f"{group_id}: already archived")
            return
        write_groups(path, stack, {**stack.groups, group_id: group.model_copy(update={"archived": True})}, catalog)
        click.echo(f"archived group {group_id} in {path}; next: `sovstack deploy` makes its spaces read-only")
        return
    from sovstack.cli.members import _members_context
    from sovstack.members.groups import purge as purge_group

    loaded, directory, targets = _members_context(path)
    for line in purge_group(loaded.wiring, directory, targets, group_id):
        click.echo(f"deleted {line}")
    write_groups(path, stack, {g: v for g, v in stack.groups.items() if g != group_id}, catalog)
    click.echo(f"removed group {group_id} from {path}")
