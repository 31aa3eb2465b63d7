"""Environment files for Docker Compose, written so every value arrives in the container as rendered.

Compose reads `KEY=VALUE` lines with its own rules (compose-go dotenv, checked against Docker
Compose 2.26 on Debian 13 by tests/test_update_sandbox.py): unquoted and double-quoted values are
interpolated (`pa$word` loses `$word`), ` #` starts a comment, single-quoted values are literal
except for `\\'`. Templates write plain values; `literal()` quotes each one that needs it, so a
relay password or an organisation name with `$`, `#`, quotes or spaces is passed on unchanged.
"""

from __future__ import annotations

import re

SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")
LINE = re.compile(r"^(\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*)=(.*)$")


def quote(value: str) -> str:
    """The value as Compose must read it to get exactly `value` (one line)."""
    if SAFE.fullmatch(value):
        return value
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{escaped}"'


def literal(text: str) -> str:
    """Every `KEY=VALUE` line of a rendered env file with its value quoted as needed; comments kept."""
    lines = []
    for line in text.split("\n"):
        match = LINE.match(line)
        # Stripped as Compose strips a plain value, so templates keep plain-value meaning.
        lines.append(f"{match.group(1)}={quote(match.group(2).strip())}" if match and not line.lstrip().startswith("#")
                     else line)
    return "\n".join(lines)
