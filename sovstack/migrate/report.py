"""The migration report beside the stack file: migration-report.json (the record) and
migration-report.md (the same, for reading). A re-run of the same move replaces its entry, so the
report always holds each move's latest state, per member and per kind."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sovstack.migrate.model import IDENTITY, RunResult

JSON_NAME = "migration-report.json"
MARKDOWN_NAME = "migration-report.md"
# Said once in every report: a migration leaves grants behind at the source.
REVOKE = ("Once every member's move is verified, revoke the app passwords and OAuth grants made for it "
          "(Google: myaccount.google.com/apppasswords and /permissions; Microsoft: the Entra app or "
          "account.live.com/consent/Manage).")


def entry(result: RunResult, when: datetime | None = None) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "member": result.member,
        "source": result.source,
        "destination": result.destination,
        "when": (when or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "expected": result.expected,
        "copied": result.copied,
        "missing": [{"collection": i.collection, "id": i.id} for i in result.missing],
        "altered": [{"collection": i.collection, "id": i.id, "why": why} for i, why in sorted(result.altered.items())],
        "skipped": [{"collection": s.collection, "id": s.id, "why": s.why} for s in sorted(result.skipped)],
        "notes": list(result.notes),
        "verified": result.ok,
    }


def record(folder: Path, result: RunResult, when: datetime | None = None) -> tuple[Path, Path]:
    """Add (or replace) this move's entry and rewrite both files; returns their paths."""
    json_path, md_path = folder / JSON_NAME, folder / MARKDOWN_NAME
    moves = json.loads(json_path.read_text(encoding="utf-8"))["moves"] if json_path.exists() else []
    new = entry(result, when)
    key = (new["kind"], new["member"], new["source"])
    moves = [m for m in moves if (m["kind"], m["member"], m["source"]) != key] + [new]
    moves.sort(key=lambda m: (m["member"], m["kind"], m["source"]))
    json_path.write_text(json.dumps({"moves": moves}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(moves), encoding="utf-8")
    return json_path, md_path


def markdown(moves: list[dict[str, Any]]) -> str:
    lines = ["# Migration report", "",
             "Each move below was verified by comparing identity keys at the source and the destination "
             "(" + "; ".join(f"{kind}: {key}" for kind, key in IDENTITY.items()) + "), not by a mover's exit code.",
             "", "| member | kind | source | expected | copied | missing | altered | skipped | verified |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in moves:
        lines.append(f"| {m['member']} | {m['kind']} | {_cell(m['source'])} | {m['expected']} | {m['copied']} | "
                     f"{len(m['missing'])} | {len(m['altered'])} | {len(m['skipped'])} | "
                     f"{'yes' if m['verified'] else '**NO**'} |")
    for m in moves:
        if not (m["missing"] or m["altered"] or m["skipped"] or m["notes"]):
            continue
        lines += ["", f"## {m['member']}: {m['kind']} from {_cell(m['source'])}", ""]
        lines += [f"- missing at the destination: {_cell(x['collection'])} / {_cell(x['id'])}" for x in m["missing"]]
        lines += [f"- altered: {_cell(x['collection'])} / {_cell(x['id'])} ({_cell(x['why'])})" for x in m["altered"]]
        lines += [f"- skipped: {_cell(x['collection'])} / {_cell(x['id'])}: {_cell(x['why'])}" for x in m["skipped"]]
        lines += [f"- note: {n}" for n in m["notes"]]
    lines += ["", REVOKE, ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    # Folder names and ids come from the source: keep them from breaking the table or the markup.
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")
