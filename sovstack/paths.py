"""Where sovstack's packaged data lives: the decision tree, the templates and the playbooks.

They ship inside the package (a wheel installs them next to the code), read through
importlib.resources so the same paths work from a checkout, an editable install or a wheel.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PACKAGE_DATA = Path(str(files("sovstack")))


def decision_tree_dir() -> Path:
    return Path(os.environ.get("SOVSTACK_DECISION_TREE", PACKAGE_DATA / "decision_tree"))


def templates_dir() -> Path:
    return Path(os.environ.get("SOVSTACK_TEMPLATES", PACKAGE_DATA / "templates"))


def playbook() -> Path:
    """The Ansible applier of a rendered bundle (`ansible-playbook -i build/hosts.yml <this>`)."""
    return PACKAGE_DATA / "playbooks" / "site.yml"
