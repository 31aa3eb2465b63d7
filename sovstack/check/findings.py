"""What every check of `sovstack check` takes (CheckInput) and gives (Finding).

They sit below the checks themselves (run, dns, servers), so those import only downwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from sovstack.catalog import Catalog
from sovstack.stack.secrets import Secrets
from sovstack.stack.stackfile import Stack

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    check: str  # the CHECKS entry that found it
    subject: str  # what it is about, e.g. "MX example.org", "mail etherpad"
    ok: bool
    severity: Severity  # of the problem when not ok; an ok finding is "info"
    what: str
    why: str = ""
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckInput:
    stack: Stack
    catalog: Catalog
    secrets: Secrets
    stack_file: Path
    resolver: str | None = None  # IP[:PORT] of the DNS server to ask; None: the system's resolver
    servers: tuple[str, ...] = ()  # the servers to examine; none named: those the stack was rendered for
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # one SSH call per server, for all checks
