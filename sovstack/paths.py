"""Where sovstack's bundled data lives (decision tree, templates)."""

from __future__ import annotations

import os
from pathlib import Path

# The data directories sit next to the package in the source tree (installed editable).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def decision_tree_dir() -> Path:
    return Path(os.environ.get("SOVSTACK_DECISION_TREE", PROJECT_ROOT / "decision_tree"))


def templates_dir() -> Path:
    return Path(os.environ.get("SOVSTACK_TEMPLATES", PROJECT_ROOT / "templates"))
