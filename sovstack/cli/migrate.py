"""`sovstack migrate`: bring the association's data in from Big Tech (cli/main.py is the error boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sovstack.cli.shared import STACK, find_stack
from sovstack.migrate.model import IDENTITY, KINDS, SourceSecrets
from sovstack.migrate.kinds import MODULES

BUILT = [kind for kind in KINDS if kind in MODULES]


@click.command("migrate")
@click.argument("kind", type=click.Choice(BUILT))
@click.option("--from", "source", help="Where the data is now: a file (a Takeout export, a list export) or a "
              "server address; each kind's sources are in the README, \"Moving in\".")
@click.option("--to", "to", help="Whose it becomes: a member's user name (or a list's name, for lists).")
@click.option("--moves", "moves_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="A CSV with one move per line (columns to,from and optionally secret_file, to_secret_file), e.g. one per member.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the source's app password (never give it on the command line).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding an OAuth access token for the source, instead of a password.")
@click.option("--to-password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="files only: a file holding the member's app password for the file tool's WebDAV.")
@click.option("--dry-run", is_flag=True, help="Only read the source and list what would move; writes nothing, "
              "contacts no server of the association, and needs no stack file for a file source.")
@click.option("--final", is_flag=True, help="mail: the last pass of the cut-over, after the MX record points at "
              "the stack: a full pass (doveadm sync -f), which catches mail incremental passes skip.")
@click.option("--verify-only", is_flag=True, help="Copy nothing: only compare the source with the destination "
              "and name what is missing or altered (e.g. weeks later, before closing the old account).")
@click.option("--json", "as_json", is_flag=True, help="Print the inventory (with --dry-run) or the results as JSON.")
@STACK
def migrate_cmd(kind: str, source: str | None, to: str | None, moves_csv: Path | None, password_file: Path | None,
                token_file: Path | None, to_password_file: Path | None, dry_run: bool, final: bool, verify_only: bool,
                as_json: bool, stack_path: Path | None) -> None:
    """Move the association's data in: inventory what the source holds, copy what is missing, then
    verify by identity key (Message-ID for mail, UID for events and cards, path for files, address
    for lists). Exits 1, naming each item, when anything is missing or altered at the destination; a
    re-run copies only what is missing. The report is written beside the stack file.

    \b
    Examples:
      sovstack migrate calendars --from takeout/Calendar/Bureau.ics --dry-run --json
      sovstack migrate calendars --from takeout/Calendar/Bureau.ics --to alice
      sovstack migrate calendars --moves calendars.csv
      sovstack migrate contacts --from https://alice@cloud.former.example/remote.php/dav/ \\
          --password-file alice.pass --to alice
      sovstack migrate mail --from imaps://alice%40gmail.com@imap.gmail.com --to alice --password-file alice.pass
      sovstack migrate mail --from imaps://alice%40gmail.com@imap.gmail.com --to alice --password-file alice.pass --final
      sovstack migrate mail --from "takeout/Mail/All mail Including Spam and Trash.mbox" --to alice
      sovstack migrate files --from drive:Asso --token-file drive.token \\
          --to alice=https://cloud.example.org/remote.php/dav/files/alice/ --to-password-file alice.app
      sovstack migrate files --from takeout/Drive --to alice --to-password-file alice.app --verify-only
    """
    from sovstack.errors import SovstackError, UserError
    from sovstack.migrate import run
    from sovstack.migrate.kinds import mover as mover_of

    if password_file and token_file:
        raise UserError("--password-file and --token-file both give the source's secret", "leave out one of them")
    secrets = SourceSecrets(token_file or password_file, "token" if token_file else "password", to_password_file)
    if dry_run and verify_only:
        raise UserError("--dry-run and --verify-only both given", "--dry-run reads only the source; "
                        "--verify-only also reads the destination: choose one")
    if moves_csv and (source or to):
        raise UserError("--moves names every move: --from and --to cannot be given with it",
                        "put this move in the CSV too, or leave out --moves")
    if moves_csv:
        moves = run.moves_from_csv(moves_csv, secrets.kind)
    elif not source:
        raise UserError("nothing to move: --from is not given", "name the source, e.g. --from FILE (see --help)")
    elif not to and not dry_run:
        raise UserError("--to is not given: whose data is this?",
                        "name the member (or list) it becomes, e.g. --to alice, or add --dry-run to only look")
    else:
        moves = [run.Move(to or "", source, secrets)]
    mover = mover_of(kind)
    if verify_only and final:
        raise UserError("--verify-only copies nothing: --final has no use with it", "leave out one of them")
    if final and not getattr(mover, "final_pass", False):
        raise UserError(f"--final: {kind} has no final pass", "leave out --final (it is for mail's cut-over)")
    if final:
        moves = [run.Move(m.to, m.source, m.secrets, final=True) for m in moves]

    if dry_run:
        found = [run.inventory(mover, move) for move in moves]
        if as_json:
            shown = [f.as_json() for f in found]
            click.echo(json.dumps(shown[0] if len(shown) == 1 else shown, ensure_ascii=False, indent=2))
            return
        for f in found:
            click.echo(f"{kind} from {f.source}: {len(f.items)} to move, {len(f.skipped)} skipped "
                       f"(dry run: nothing written)")
            for s in f.skipped:
                click.echo(f"  skipped: {s.collection} / {s.id}: {s.why}")
            for note in f.notes:
                click.echo(f"  note: {note}")
        return

    from sovstack.engines.apply import load
    from sovstack.migrate.report import record

    stack_path = find_stack(stack_path)
    loaded = load(stack_path)
    results = []
    for move in moves:
        def progress(done: int, total: int, move=move) -> None:
            if not as_json:
                click.echo(f"{kind} -> {move.to}: {done}/{total}", err=True)

        result = run.run(mover, loaded, move, progress, copy=not verify_only)
        json_path, md_path = record(stack_path.parent, result)
        results.append(result)
        if not as_json:
            state = "verified" if result.ok else "NOT COMPLETE"
            click.echo(f"{kind} -> {result.member}: {result.expected} expected, {result.copied} copied this run, "
                       f"{len(result.missing)} missing, {len(result.altered)} altered, {len(result.skipped)} skipped: "
                       f"{state}")
            for item in result.missing:
                click.echo(f"  missing: {item.collection} / {item.id}")
            for item, why in sorted(result.altered.items()):
                click.echo(f"  altered: {item.collection} / {item.id} ({why})")
    if as_json:
        from sovstack.migrate.report import entry

        click.echo(json.dumps([entry(r) for r in results], ensure_ascii=False, indent=2))
    else:
        click.echo(f"report: {md_path} and {json_path}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise SovstackError(  # exit 1: a loss was found, as `check` exits 1 on a finding
            f"{kind}: {len(failed)} move(s) not complete: " + ", ".join(r.member for r in failed)
            + f" (compared by {IDENTITY[kind]})",
            "run the same command again to copy what is missing; the report names every item")
