"""`sovstack sandbox`: a local Debian 13 test server in Docker (cli/main.py is the error boundary)."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """A local Debian 13 server in Docker, for trying a stack before renting a VPS.

    Needs the Docker engine and debootstrap on this machine (apt-get install docker.io
    debootstrap). State (SSH key, inventory) is kept in .sovstack/sandbox/<name>/.

    \b
    Examples:
      sovstack sandbox up
      sovstack init --sandbox sandbox --domain voisins.test --admin-email admin@voisins.test
      sovstack sandbox down
    """


NAME = click.option("--name", default="sandbox", show_default=True, help="Which sandbox server.")


@sandbox.command("up")
@NAME
def sandbox_up(name: str) -> None:
    """Start a sandbox server (builds its image once) and write its inventory.

    \b
    Example:
      sovstack sandbox up --name sandbox
    """
    from sovstack.engines import sandbox as sb

    server = sb.up(name, progress=lambda msg: click.echo(msg, err=True))
    _show_sandbox(server)


def _show_sandbox(server) -> None:
    click.echo(f"{server.name}: ssh {' '.join(server.ssh_command())}")
    click.echo(f"  address seen from this machine: {server.address}; inventory: {server.inventory}")


@sandbox.command("status")
@NAME
def sandbox_status(name: str) -> None:
    """Say whether the sandbox server runs, and how to reach it.

    \b
    Example:
      sovstack sandbox status
    """
    from sovstack.engines import sandbox as sb
    from sovstack.errors import UserError

    server = sb.status(name)
    if server is None:
        raise UserError(f"sandbox {name!r} is not running", f"start it: sovstack sandbox up --name {name}")
    _show_sandbox(server)


@sandbox.command("down")
@NAME
def sandbox_down(name: str) -> None:
    """Remove the sandbox server and its data.

    \b
    Example:
      sovstack sandbox down --name sandbox
    """
    from sovstack.engines import sandbox as sb

    click.echo(f"{name}: removed" if sb.down(name) else f"{name}: there was no such sandbox")


@sandbox.command("load")
@NAME
@click.argument("images", nargs=-1, required=True)
def sandbox_load(name: str, images: tuple[str, ...]) -> None:
    """Copy images from this machine's Docker into the sandbox's (it cannot pull where you cannot).

    \b
    Example:
      sovstack sandbox load debian:trixie-slim
    """
    from sovstack.engines import sandbox as sb
    from sovstack.errors import UserError

    server = sb.status(name)
    if server is None:
        raise UserError(f"sandbox {name!r} is not running", f"start it: sovstack sandbox up --name {name}")
    sb.load_images(server, list(images))
    click.echo(f"{name}: loaded {', '.join(images)}")


# --- DNS records and `sovstack check` -----------------------------------------------------------
