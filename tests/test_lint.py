"""Static checks: no undefined names, unused imports or syntax errors in the project's Python; ansible-lint's
production profile on the packaged playbooks."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def test_ruff_finds_no_errors():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--select", "F,E9", "sovstack", "tests", "bench"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _linter(name: str) -> str | None:
    """A linter from the test extras (next to this Python) or the system; in CI it must be there."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        assert not os.environ.get("CI"), f"{name} is missing: pip install -e '.[test]' (or apt-get, see scripts/test-packages.txt)"
        pytest.skip(f"{name} is not installed")
    return path


def test_ansible_lint_production_profile_passes_on_the_playbooks(tmp_path):
    playbooks = sorted(str(p.relative_to(REPO)) for p in (REPO / "sovstack" / "playbooks").glob("*.yml"))
    assert playbooks
    # Offline: no schema download; its caches go to a temporary home, not the user's.
    env = {**os.environ, "ANSIBLE_LINT_SKIP_SCHEMA_UPDATE": "1", "NO_COLOR": "1", "HOME": str(tmp_path),
           "ANSIBLE_HOME": str(tmp_path / ".ansible")}
    result = subprocess.run([_linter("ansible-lint"), "--offline", "--profile", "production", *playbooks],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
