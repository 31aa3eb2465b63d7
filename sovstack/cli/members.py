"""`sovstack members`: the association's members, one account for every tool (cli/main.py is the error boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sovstack.cli.shared import STACK, find_stack, print_table


@click.group()
def members() -> None:
    """The association's members: one account for every tool (in the stack's directory).

    \b
    Example:
      sovstack members add alice --name "Alice Martin" --email alice@example.net
    """


def _members_context(stack_path: Path | None):
    from sovstack.engines.apply import load
    from sovstack.members.directory import open_directory

    loaded = load(find_stack(stack_path))
    targets = loaded.target
    return loaded, open_directory(loaded.wiring, targets), targets


def _check_group(stack_path: Path | None, group: str) -> None:
    """A group a member may join, checked in the stack file before secrets or any server are touched."""
    from sovstack.catalog import load_catalog
    from sovstack.stack.stackfile import load_stack

    path = find_stack(stack_path)
    load_stack(path, load_catalog()).check_joinable(group, str(path))


def _refresh_groups(loaded, targets, groups_changed: bool = True) -> None:
    """Tools that keep their own copy of the members or the groups' members take the change now."""
    from sovstack.members.groups import refresh

    for name in refresh(loaded.wiring, targets, groups_changed):
        click.echo(f"{name}: members updated")


def _read_password(use_stdin: bool) -> str | None:
    from sovstack.members.accounts import check_password

    if not use_stdin:
        return None
    return check_password(click.get_text_stream("stdin").read())


def _welcome(loaded, targets, member, mail: str, password: str | None) -> str:
    from sovstack.members import welcome

    message = welcome.compose(loaded.wiring, member, mail, password)
    how = welcome.send(loaded.wiring, message, loaded.secrets.get("mail_relay.password"), targets)
    return f"welcome mail to {message['To']} sent {how}"


EMAIL_HELP = "The member's own mail address: the welcome mail (with a password sovstack chose) goes there."


@members.command("add")
@click.argument("username")
@click.option("--name", required=True, help="Full name, e.g. \"Alice Martin\".")
@click.option("--email", "contact", help=EMAIL_HELP)
@click.option("--password-stdin", is_flag=True, help="Read the member's password from standard input instead "
              "of choosing one.")
@click.option("--no-welcome", is_flag=True, help="Send no welcome mail (needs --password-stdin).")
@click.option("--group", "group", help="Network mode: the group the member joins (see `sovstack groups list`).")
@STACK
def members_add(username: str, name: str, contact: str | None, password_stdin: bool, no_welcome: bool,
                group: str | None, stack_path: Path | None) -> None:
    """Add a member, who gets a welcome mail with every tool's address and how to log in.

    Without --password-stdin sovstack chooses a password and sends it to --email only.

    \b
    Example:
      sovstack members add alice --name "Alice Martin" --email alice@example.net
      printf '%s' "$PASSWORD" | sovstack members add bob --name Bob --password-stdin
      sovstack members add chloe --name "Chloé Petit" --email chloe@example.net --group lyon
    """
    from sovstack.errors import UserError
    from sovstack.members.accounts import check_member, new_password

    member = check_member(username, name, contact, "members add:")
    given = _read_password(password_stdin)
    if given is None and (no_welcome or not member.contact):
        raise UserError(f"members add {username}: nobody would learn the password sovstack chooses",
                        "give the member's own address with --email, or the password with --password-stdin")
    if group is not None:
        _check_group(stack_path, group)
    loaded, directory, targets = _members_context(stack_path)
    mail = directory.mail_of(member)
    if group is not None:
        directory.check_joinable(group)  # refused before the member is added
    password = given or new_password()
    directory.add([(member, password)])
    click.echo(f"added {member.username} ({mail})")
    if group is not None:
        directory.join(member.username, group)
        click.echo(f"{member.username} joined group {group}")
    _refresh_groups(loaded, targets, groups_changed=group is not None)
    if not no_welcome:
        click.echo(_welcome(loaded, targets, member, mail, None if given else password))


@members.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@STACK
def members_import(csv_file: Path, stack_path: Path | None) -> None:
    """Add the members of a CSV file (header: username,name,email); each gets a welcome mail
    with a password sovstack chose. Every line is checked before anyone is added.

    \b
    Example:
      sovstack members import members.csv
    """
    from sovstack.errors import SovstackError, UserError
    from sovstack.members.accounts import new_password, read_csv

    found = read_csv(csv_file)
    missing = [m.username for m in found if not m.contact]
    if missing:
        raise UserError(f"{csv_file}: no email for {', '.join(missing)}",
                        "give every member's own address in the email column (their password is sent there); "
                        "nobody was added")
    loaded, directory, targets = _members_context(stack_path)
    batch = [(member, new_password()) for member in found]
    directory.add(batch)
    click.echo(f"added {len(batch)} member(s)")
    _refresh_groups(loaded, targets, groups_changed=False)
    failed = []
    for member, password in batch:
        try:
            click.echo(_welcome(loaded, targets, member, directory.mail_of(member), password))
        except SovstackError as exc:
            failed.append(f"{member.username}: {exc.message}")
    if failed:
        raise UserError("members added, but some welcome mails were not sent:\n" + "\n".join(failed),
                        "fix the mail problem, then give them a new password with `sovstack members password`")


@members.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON.")
@STACK
def members_list(as_json: bool, stack_path: Path | None) -> None:
    """List the members: user name, name, address, and whether the account is disabled.

    \b
    Example:
      sovstack members list --json
    """
    _, directory, _ = _members_context(stack_path)
    found = directory.list()
    if as_json:
        click.echo(json.dumps([{"username": m.username, "name": m.name, "mail": m.mail, "disabled": m.disabled}
                               for m in found], indent=2, ensure_ascii=False))
        return
    print_table(["user name", "name", "address", "status"],
                [[m.username, m.name, m.mail or "", "disabled" if m.disabled else "active"] for m in found])


@members.command("disable")
@click.argument("username")
@STACK
def members_disable(username: str, stack_path: Path | None) -> None:
    """Stop a member from logging in anywhere (their data and mail are kept).

    \b
    Example:
      sovstack members disable alice
    """
    loaded, directory, targets = _members_context(stack_path)
    changed = directory.set_disabled(username, True)
    if changed:
        _refresh_groups(loaded, targets, groups_changed=False)
    click.echo(f"{username}: {'disabled' if changed else 'already disabled'}")


@members.command("enable")
@click.argument("username")
@STACK
def members_enable(username: str, stack_path: Path | None) -> None:
    """Let a disabled member log in again.

    \b
    Example:
      sovstack members enable alice
    """
    loaded, directory, targets = _members_context(stack_path)
    changed = directory.set_disabled(username, False)
    if changed:
        _refresh_groups(loaded, targets, groups_changed=False)
    click.echo(f"{username}: {'enabled' if changed else 'already active'}")


@members.command("password")
@click.argument("username")
@click.option("--email", "contact", help="Where the new password is sent (their own address).")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@STACK
def members_password(username: str, contact: str | None, password_stdin: bool, stack_path: Path | None) -> None:
    """Give a member a new password: chosen by sovstack and mailed to --email, or read from stdin.

    \b
    Example:
      sovstack members password alice --email alice@example.net
    """
    from sovstack.errors import UserError
    from sovstack.members.accounts import check_member, new_password

    given = _read_password(password_stdin)
    if given is None and not contact:
        raise UserError(f"members password {username}: nobody would learn the new password",
                        "give the member's own address with --email, or the password with --password-stdin")
    loaded, directory, targets = _members_context(stack_path)
    current = next((m for m in directory.list() if m.username == username), None)
    if current is None:
        raise UserError(f"no member {username!r}", "see `sovstack members list` for the user names")
    password = given or new_password()
    directory.set_password(username, password)
    click.echo(f"{username}: password changed")
    if given is None:
        member = check_member(username, current.name, contact, "members password:")
        click.echo(_welcome(loaded, targets, member, current.mail or contact, password))


@members.command("remove")
@click.argument("username")
@click.option("--purge", is_flag=True, help="Also delete the member's mailbox (otherwise kept).")
@STACK
def members_remove(username: str, purge: bool, stack_path: Path | None) -> None:
    """Remove a member from the directory; their mailbox is kept unless --purge.

    \b
    Example:
      sovstack members remove alice --purge
    """
    from sovstack.errors import UserError
    loaded, directory, targets = _members_context(stack_path)
    directory.remove(username)
    click.echo(f"removed {username}")
    _refresh_groups(loaded, targets)
    server_tool = loaded.wiring.mail_server
    if purge and loaded.wiring.mail_route == "self-hosted":
        server = loaded.stack.tools[server_tool].server
        box = f"/srv/sovstack/data/{server_tool}/mail/{loaded.stack.domain}/{username}"
        result = targets(server).run(f"rm -rf -- '{box}'", as_root=True)
        if result.returncode != 0:
            raise UserError(f"server {server!r}: could not delete {box}", "delete it by hand")
        click.echo(f"deleted the mailbox {box} on {server}")


def _change_membership(stack_path: Path | None, username: str, group: str, joining: bool) -> None:
    """`members join` and `members leave`: one membership change, then the tools that copy the groups follow."""
    if joining:
        _check_group(stack_path, group)
    loaded, directory, targets = _members_context(stack_path)
    changed = (directory.join if joining else directory.leave)(username, group)
    done, unchanged = ("joined", "already in") if joining else ("left", "was not in")
    click.echo(f"{username}: {done if changed else unchanged} group {group}")
    if changed:
        _refresh_groups(loaded, targets)


@members.command("join")
@click.argument("username")
@click.argument("group")
@STACK
def members_join(username: str, group: str, stack_path: Path | None) -> None:
    """Network mode: add a member to a group (they keep the groups they are in).

    \b
    Example:
      sovstack members join alice lyon
    """
    _change_membership(stack_path, username, group, joining=True)


@members.command("leave")
@click.argument("username")
@click.argument("group")
@STACK
def members_leave(username: str, group: str, stack_path: Path | None) -> None:
    """Network mode: take a member out of a group (they stay a member of the association).

    \b
    Example:
      sovstack members leave alice lyon
    """
    _change_membership(stack_path, username, group, joining=False)


@members.command("move")
@click.argument("username")
@click.option("--to", "to", required=True, help="The group the member moves to.")
@STACK
def members_move(username: str, to: str, stack_path: Path | None) -> None:
    """Network mode: move a member to another partner group (out of the others; the hub is kept).

    \b
    Example:
      sovstack members move alice --to grenoble
    """
    _check_group(stack_path, to)
    loaded, directory, targets = _members_context(stack_path)
    left = directory.move(username, to)
    click.echo(f"{username}: now in group {to}" + (f" (left {', '.join(left)})" if left else ""))
    _refresh_groups(loaded, targets)
