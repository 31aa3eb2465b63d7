"""Imports go down the layers (DESIGN.md, "Target layout"): what is pinned so far, checked on the source."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "sovstack"
# module (or package) -> sovstack modules and packages it must not import, even lazily inside a function
FORBIDDEN = {
    "stack": ["wiring", "render", "engines", "members", "backup", "update", "check", "cli"],
    "wiring": ["render", "engines", "members", "backup", "update", "check", "cli"],
    # Inside wiring/: model at the bottom; identity, mail and analytics on it; links gathers; wire on top.
    "wiring/model.py": ["wiring.identity", "wiring.mail", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/identity.py": ["wiring.mail", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/mail.py": ["wiring.identity", "wiring.analytics", "wiring.links", "wiring.wire"],
    "wiring/analytics.py": ["wiring.identity", "wiring.mail", "wiring.links", "wiring.wire"],
    "wiring/links.py": ["wiring.wire"],
}


def imported(path) -> set[str]:
    """Every sovstack module a file imports, as dotted names below sovstack ("wiring.mail", "wiring")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sovstack."):
            base = node.module.removeprefix("sovstack.")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("sovstack.") for a in node.names if a.name.startswith("sovstack."))
    return found


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_imports_go_down_the_layers(where):
    files = sorted((PACKAGE / where).rglob("*.py")) if (PACKAGE / where).is_dir() else [PACKAGE / where]
    assert files
    for path in files:
        for name in imported(path):
            for banned in FORBIDDEN[where]:
                assert name != banned and not name.startswith(banned + "."), f"{path.relative_to(REPO)} imports {name}"
