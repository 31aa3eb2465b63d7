"""One migration, phase by phase: inventory, then (unless a dry run) copy and verify. The CLI calls
these once per member; nothing here prints."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovstack.errors import CatalogError, UserError
from sovstack.migrate.model import Inventory, Mover, Progress, RunResult, SourceSecrets

MOVES_COLUMNS = ("to", "from")  # required; "secret_file" and "to_secret_file" are optional


@dataclass(frozen=True)
class Move:
    to: str
    source: str
    secrets: SourceSecrets
    final: bool = False  # the last pass of a cut-over (mail: a full sync); only for movers with final_pass


def moves_from_csv(path: Path, secret_kind: str) -> list[Move]:
    """--moves FILE: one move per row (`to`, `from`, optional `secret_file` and `to_secret_file`, files
    named relative to the CSV), e.g. one per member."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"--moves {path}: cannot read it ({exc.strerror})", "give a readable CSV file") from None
    reader = csv.DictReader(text.splitlines())
    header = set(reader.fieldnames or ())
    rows = list(reader)
    lacking = [c for c in MOVES_COLUMNS if c not in header]
    if lacking:
        raise UserError(f"--moves {path}: no column {', '.join(map(repr, lacking))}",
                        "the first line must name the columns: to,from (and optionally secret_file)")
    moves = []
    for number, row in enumerate(rows, start=2):
        to, source = (row.get("to") or "").strip(), (row.get("from") or "").strip()
        if not to or not source:
            raise UserError(f"--moves {path}, line {number}: 'to' and 'from' must both be given",
                            "fill in both cells, or delete the line")
        secret, to_secret = ((row.get(c) or "").strip() for c in ("secret_file", "to_secret_file"))
        moves.append(Move(to, source, SourceSecrets(path.parent / secret if secret else None, secret_kind,
                                                    path.parent / to_secret if to_secret else None)))
    if not moves:
        raise UserError(f"--moves {path}: no moves in it", "add one line per move under the header to,from")
    return moves


def inventory(mover: Mover, move: Move) -> Inventory:
    if getattr(mover, "inventory_takes_to", False):  # lists: the list's name is --to (else the file's)
        found = mover.inventory(move.source, move.secrets, to=move.to)  # type: ignore[call-arg]
    else:
        found = mover.inventory(move.source, move.secrets)
    return checked(mover, found)


def checked(mover: Mover, found: Inventory) -> Inventory:
    twice = found.twice()
    if twice:  # the dry-run contract: every item of the source exactly once
        raise CatalogError(f"the {mover.kind} mover listed {len(twice)} item(s) twice, e.g. {twice[0]}",
                           "this is a bug in sovstack: please report it with the source's shape")
    return found


def run(mover: Mover, loaded: Any, move: Move, progress: Progress, copy: bool = True) -> RunResult:
    """Inventory, copy (unless `copy` is False: --verify-only) and verify one move."""
    reads_at_destination = getattr(mover, "inventory_at", None)
    if reads_at_destination is None:
        found = inventory(mover, move)
        dest = mover.destination(loaded, move.to)
    else:  # a source that may be reachable only from the destination's server (mail: IMAP) is read there
        dest = mover.destination(loaded, move.to)
        found = checked(mover, reads_at_destination(move.source, move.secrets, dest))
    final = {"final": True} if move.final else {}
    copied = mover.copy(move.source, move.secrets, found, dest, progress, **final) if copy else 0
    verification = mover.verify(move.source, move.secrets, found, dest)
    # --to is MEMBER, or MEMBER=ADDRESS for a destination outside the stack (a hoster's WebDAV).
    return RunResult(kind=mover.kind, member=move.to.split("=", 1)[0], source=move.source, destination=str(dest),
                     expected=len(found.items), copied=copied, missing=verification.missing,
                     altered=dict(verification.altered), skipped=list(found.skipped),
                     notes=list(found.notes))
