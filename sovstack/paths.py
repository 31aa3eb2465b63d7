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


def cache_dir() -> Path | None:
    """Where start-up caches live (`$XDG_CACHE_HOME/sovstack`, else `~/.cache/sovstack`); None when
    SOVSTACK_NO_CACHE is set. Never inside the package: a wheel install is read-only."""
    if os.environ.get("SOVSTACK_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        return Path(base if os.path.isabs(base) else Path.home() / ".cache") / "sovstack"
    except RuntimeError:  # no home directory to speak of: no cache
        return None


def jinja_bytecode_cache():
    """Compiled Jinja templates kept between runs (start-up time), or None when there is no writable cache."""
    from jinja2 import FileSystemBytecodeCache

    directory = cache_dir()
    if directory is None:
        return None
    try:
        (directory / "jinja").mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(directory / "jinja")) if os.access(directory / "jinja", os.W_OK) else None
