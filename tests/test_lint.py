"""Static checks: no undefined names, unused imports or syntax errors in the project's Python."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_ruff_finds_no_errors():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--select", "F,E9", "sovstack", "tests", "bench"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
