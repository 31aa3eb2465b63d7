"""Keeping the servers well: `dns`, `check`, `backup`, `restore`, `update` (cli/main.py is the error boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sovstack.cli.shared import ENGINE, SERVERS, STACK, console, echo_health, find_stack
from sovstack.layout import ExitCode


@click.command("dns")
@STACK
@click.option("--format", "fmt", type=click.Choice(["table", "zone"]), default="table", show_default=True,
              help="table: for reading; zone: zone-file text to paste or import at your DNS host.")
@click.option("--json", "as_json", is_flag=True, help="Print the records and notes as JSON.")
@click.pass_context
def dns_cmd(ctx: click.Context, stack_path: Path | None, fmt: str, as_json: bool) -> None:
    """Print the DNS records the stack needs: the address of every web tool, and with
    self-hosted mail its MX, SPF, DKIM and DMARC records.

    \b
    Examples:
      sovstack dns
      sovstack dns --format zone > example.org.zone
      sovstack dns --json
    """
    from click.core import ParameterSource

    from sovstack.engines.apply import load
    from sovstack.errors import UserError
    from sovstack.wiring.dns_records import mail_cutover, notes, records, zone_text

    if as_json and ctx.get_parameter_source("fmt") is not ParameterSource.DEFAULT:
        raise UserError("--json and --format choose the output twice", "leave out one of them")
    loaded = load(find_stack(stack_path))
    found = records(loaded.wiring, loaded.secrets, loaded.path)
    remarks = notes(loaded.wiring)
    cutover = mail_cutover(loaded.wiring)
    if as_json:
        summary = dns_summary(loaded.stack.domain, found, remarks)
        if cutover:
            summary["mail_cutover"] = cutover
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    if fmt == "zone":
        click.echo(zone_text(loaded.stack.domain, found, remarks, str(loaded.path)), nl=False)
        return
    if not found:  # every need hosted: the hosters say which records their services need
        click.echo(f"no DNS records for {loaded.stack.domain}: nothing is self-hosted; each hoster says which "
                   "records its services need (e.g. MX for hosted email on your domain)")
        for remark in remarks:
            click.echo(f"note: {remark}")
        return
    from rich.table import Table

    table = Table(title=f"DNS records for {loaded.stack.domain}")
    for column in ("name", "type", "value", "ttl", "purpose"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(r.name, r.type, r.value, str(r.ttl), r.purpose)
    out = console()
    out.print(table)
    for remark in remarks:
        out.print(f"note: {remark}", highlight=False)
    if cutover:
        out.print("Moving mail in from the old provider, in the order that loses nothing:", highlight=False)
        for step in cutover:
            out.print(f"  {step}", highlight=False)


def dns_summary(domain: str, found, remarks: list[str]) -> dict:
    """dns's output for --json: the records as a resolver answers them (DKIM: the public key only)."""
    return {"domain": domain,
            "records": [{"name": r.name, "type": r.type, "value": r.value, "ttl": r.ttl, "purpose": r.purpose}
                        for r in found],
            "notes": remarks}


@click.command("check")
@STACK
@click.option("--resolver", help="Ask this DNS server (IP, IP:PORT or [IPv6]:PORT) instead of the system's resolver.")
@click.option("--only", multiple=True, type=click.Choice(["dns", "wiring", "services", "health", "ports", "tls",
                                                         "disk", "memory", "updates", "reboot", "backup"]),
              help="Only this check (repeatable); default: all.")
@click.option("--server", "servers", multiple=True,
              help="Examine only this server (repeatable); default: every server the stack was deployed to.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check_cmd(ctx: click.Context, stack_path: Path | None, resolver: str | None, only: tuple[str, ...],
              servers: tuple[str, ...], as_json: bool) -> None:
    """Diagnose the stack: what is wrong, why it matters, and the fix.

    DNS: every record `sovstack dns` prints, as a resolver answers it. Wiring: which tools are
    connected to the member directory and the mail, and why the others are not. On each server
    (one SSH call): services and failed units, health endpoints, listening ports, TLS certificates,
    free disk, available memory, security updates, reboot required, age of the last backup. Exits
    1 when anything is wrong (warnings do not count), 0 otherwise.

    \b
    Examples:
      sovstack check
      sovstack check --only dns --resolver 9.9.9.9 --json
      sovstack check --server main --only disk --only backup
    """
    from sovstack.check.run import CheckInput, failed, run_checks
    from sovstack.engines.apply import load

    loaded = load(find_stack(stack_path))
    # The wiring load() already computed: the checks read it from the run's cache (check/run.py wiring_of).
    given = CheckInput(loaded.stack, loaded.catalog, loaded.secrets, loaded.path, resolver,
                       servers=tuple(loaded.servers(servers)) if servers else (), cache={"wiring": loaded.wiring})
    findings = run_checks(given, only)
    _note_unexamined(given, only)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _print_findings(findings)
    if failed(findings):
        ctx.exit(ExitCode.FAILED)


def _note_unexamined(given, only: tuple[str, ...]) -> None:
    from sovstack.check.run import CHECKS
    from sovstack.check.servers import servers_to_examine

    if not given.stack.servers:
        click.echo("note: no server to examine: nothing is self-hosted (every need is at a hoster)", err=True)
    elif any(name not in ("dns", "wiring") for name in (only or CHECKS)) and not servers_to_examine(given):
        click.echo("note: no server was examined: this stack has not been deployed from here (no build/<server>/); "
                   "run `sovstack deploy`, or name one with --server", err=True)


def _print_findings(findings) -> None:
    marks = {"error": ("wrong", "red"), "warning": ("warn", "yellow"), "info": ("note", "blue")}
    for f in findings:
        mark, colour = ("ok", "green") if f.ok else marks[f.severity]
        click.echo(f"{click.style(f'{mark:<5}', fg=colour)} [{f.check}] {f.subject}: {f.what}")
        if not f.ok:
            if f.why:
                click.echo(f"      why: {f.why}")
            if f.fix:
                click.echo(f"      fix: {f.fix}")
    counted = {s: sum(1 for f in findings if not f.ok and f.severity == s) for s in ("error", "warning")}
    click.echo(f"check: {sum(f.ok for f in findings)} ok, {counted['error']} wrong, {counted['warning']} warnings")



# --- backups (sovstack/backup.py) --------------------------------------------------------------

@click.command("backup")
@STACK
@SERVERS
def backup_cmd(stack_path: Path | None, only: tuple[str, ...]) -> None:
    """Back up now: dump the tools' databases, take a restic snapshot, apply the retention.

    The same runs daily from the sovstack-backup.timer on each server. The repository password is
    backup.password in secrets.yml: keep a copy of that file somewhere safe, off the server.

    \b
    Example:
      sovstack backup --server main
    """
    from sovstack.backup.run import run_backup
    from sovstack.engines.apply import load

    loaded = load(find_stack(stack_path))
    for server in loaded.servers(only):
        snapshot = run_backup(loaded, server)
        click.echo(f"backup: {server}: snapshot {snapshot.id} saved in {loaded.stack.backup.local}"
                   + (f" and {loaded.stack.backup.remote}" if loaded.stack.backup.remote else ""))


@click.command("restore")
@STACK
@SERVERS
@click.option("--tool", "tools", multiple=True, help="Only this tool (repeatable); default: every tool.")
@click.option("--snapshot", default="latest", show_default=True, help="Snapshot id (or its first characters).")
@click.option("--list", "list_only", is_flag=True, help="Only list the snapshots; change nothing.")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for the tools' health checks.")
def restore_cmd(stack_path: Path | None, only: tuple[str, ...], tools: tuple[str, ...], snapshot: str, list_only: bool,
                wait: int) -> None:
    """Restore tools from a backup: stop them, put their files back, load their database dumps,
    start them, and check their health.

    The password in secrets.yml is checked first: a wrong one changes nothing. The files found
    before the restore are kept in /srv/sovstack/pre-restore/<tool> until the next restore. On a new
    server: `sovstack deploy` first, copy the repository to backup.local, then restore.

    \b
    Examples:
      sovstack restore --list
      sovstack restore --tool etherpad --snapshot 1a2b3c4d
    """
    from sovstack.backup import run as backup
    from sovstack.engines.apply import health, load, render_all
    from sovstack.errors import UserError

    loaded = load(find_stack(stack_path))
    if list_only:
        for server in loaded.servers(only):
            for found in backup.snapshots(loaded, server):
                click.echo(f"{server}: {found.id[:8]}  {found.time[:19]}")
        return
    wanted = backup.plan_restore(loaded, tools, only)
    if snapshot != "latest" and len(wanted) > 1:
        raise UserError(f"--snapshot {snapshot}: the tools are on several servers ({', '.join(wanted)}), "
                        "each with its own repository", "add --server NAME")
    restored = [backup.restore(loaded, server, names, snapshot) for server, names in wanted.items()]
    for done in restored:
        click.echo(f"restore: {done.server}: {', '.join(done.tools)} from snapshot {done.snapshot.id[:8]}")
    names = {t for done in restored for t in done.tools}
    checks = [c for c in health(loaded, render_all(loaded), list(wanted), wait=wait) if c.tool in names]
    echo_health(checks)
    bad = [c.tool for c in checks if not c.ok]
    if bad:
        raise UserError("restored, but failing health checks: " + ", ".join(bad),
                        "look at the tool's logs on the server; the previous files are in /srv/sovstack/pre-restore")


# --- updates (sovstack/update.py) ---------------------------------------------------------------

@click.command("update")
@STACK
@SERVERS
@ENGINE
@click.option("--tool", "tools", multiple=True, help="Only this compose tool (repeatable); default: every tool.")
@click.option("--skip-debian", is_flag=True, help="Do not run apt-get upgrade; only update the tools' images.")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for each tool's health check.")
def update_cmd(stack_path: Path | None, only: tuple[str, ...], engine: str, tools: tuple[str, ...], skip_debian: bool,
               wait: int) -> None:
    """Update the servers: Debian packages, then the tools whose pinned images changed in the catalog.

    Each changed tool is snapshotted first (its images, compose files and data, copied while it is
    stopped, in /srv/sovstack/update/<tool>/), deployed, and health-checked. A tool that fails its
    health check is rolled back to its previous images and data, and the report says so (exit 2).

    \b
    Examples:
      sovstack update
      sovstack update --server main --tool etherpad --skip-debian
    """
    from sovstack.engines.apply import load
    from sovstack.errors import UserError
    from sovstack.update.plan import failures
    from sovstack.update.run import update

    loaded = load(find_stack(stack_path), generate_secrets=True)  # it renders and applies, as deploy does
    report = update(loaded, engine, loaded.servers(only), tools, click.echo, wait=wait, debian=not skip_debian)
    echo_health(report.health)
    bad = failures(report.outcomes)
    failing = sorted({c.tool for c in report.health if not c.ok} - {o.tool for o in bad})
    if bad or failing:
        raise UserError("update: " + "; ".join([f"{o.tool}: {o.status}" for o in bad]
                                               + [f"{t}: failing its health check" for t in failing]),
                        "read the lines above; a rolled-back tool keeps its previous version and is held: "
                        "`sovstack deploy` refuses its failed pin until the catalog pins another version or "
                        "`sovstack update --tool <tool>` tries it again")
