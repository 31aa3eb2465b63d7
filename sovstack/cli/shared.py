"""Options and output shared by the command modules (cli/main.py and its sibling command modules)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

STACK_FILE = "sovstack.yml"
STACK_ENV = "SOVSTACK_STACK"

# No default: find_stack() looks for the file when neither --stack nor SOVSTACK_STACK names one, and
# only once the command needs it, so bad arguments are still refused before any stack is looked for.
STACK = click.option("--stack", "stack_path", type=click.Path(dir_okay=False, path_type=Path), envvar=STACK_ENV,
                     show_envvar=True, help=f"The stack file; default: the nearest {STACK_FILE} in this directory or "
                     "above.")
SERVERS = click.option("--server", "only", multiple=True, help="Only this server (repeatable); default: all.")
ENGINE = click.option("--engine", type=click.Choice(["ansible", "pyinfra"]), default="ansible", show_default=True,
                      help="What applies the rendered manifest.")


def find_stack(given: Path | None, cwd: Path | None = None) -> Path:
    """The stack file: --stack, then $SOVSTACK_STACK (click puts either in `given`), then the
    nearest directory from `cwd` upwards that holds a sovstack.yml."""
    from sovstack.errors import UserError

    if given is not None:
        ctx = click.get_current_context(silent=True)
        source = ctx.get_parameter_source("stack_path") if ctx else None
        if source is click.core.ParameterSource.ENVIRONMENT and not given.exists():
            raise UserError(f"{STACK_ENV}={given}: no such stack file",
                            f"point {STACK_ENV} at an existing stack file, or unset it")
        return given
    cwd = cwd or Path.cwd()
    for folder in (cwd, *cwd.parents):
        if (folder / STACK_FILE).is_file():
            if folder == cwd:
                return Path(STACK_FILE)  # named as before: relative, in messages and build paths
            found = folder / STACK_FILE
            click.echo(f"stack: {found}", err=True)  # not the current directory's: say which one
            return found
    raise UserError(f"no stack file: --stack is not given, {STACK_ENV} is not set, and there is no {STACK_FILE} "
                    f"in {cwd} or any directory above it",
                    f"run this in the stack's directory, pass --stack FILE, set {STACK_ENV}=FILE, "
                    "or write one with `sovstack init`")


def no_color() -> bool:
    """https://no-color.org: NO_COLOR set and not empty means no colour, also under a terminal."""
    return os.environ.get("NO_COLOR", "") != ""


def console():
    """A rich console that honours NO_COLOR: no escape codes at all (rich alone drops only colours)."""
    from rich.console import Console

    return Console(color_system=None) if no_color() else Console()


def print_table(columns: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A rich table on a terminal; piped, tab-separated lines (a header, then one per row) that keep
    every value whole, where rich would cut them to 80 columns."""
    if not sys.stdout.isatty():
        for line in (columns, *rows):
            click.echo("\t".join(line))
        return
    from rich.table import Table

    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    console().print(table)


def echo_health(checks) -> None:
    """One line per health check (provision.Health), as deploy, restore and update print them."""
    for c in checks:
        click.echo(f"health: {c.server}: {c.tool} https://{c.fqdn}: {'ok' if c.ok else 'FAILING'} ({c.detail})")
