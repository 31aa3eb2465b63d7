"""Options and output shared by the command modules (cli/main.py and its sibling command modules)."""

from __future__ import annotations

from pathlib import Path

import click

STACK = click.option("--stack", "stack_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=Path("sovstack.yml"), show_default=True, help="The stack file.")
SERVERS = click.option("--server", "only", multiple=True, help="Only this server (repeatable); default: all.")
ENGINE = click.option("--engine", type=click.Choice(["ansible", "pyinfra"]), default="ansible", show_default=True,
                      help="What applies the rendered manifest.")


def echo_health(checks) -> None:
    """One line per health check (provision.Health), as deploy, restore and update print them."""
    for c in checks:
        click.echo(f"health: {c.server}: {c.tool} https://{c.fqdn}: {'ok' if c.ok else 'FAILING'} ({c.detail})")
