"""One table for every benchmark: each bench appends its rows to a JSON-lines file (--rows FILE),
and `python bench/rows.py FILE` prints them together (bench/run does both)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add(path: str | None, benchmark: str, measure: str, value: str, target: str = "", ok: bool | None = None) -> None:
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"benchmark": benchmark, "measure": measure, "value": value, "target": target,
                                 "ok": ok}) + "\n")


def table(path: str) -> str:
    lines = ["| benchmark | measure | value | target | ok |", "|---|---|---|---|---|"]
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(raw)
        ok = "" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        lines.append(f"| {row['benchmark']} | {row['measure']} | {row['value']} | {row['target']} | {ok} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1]))
