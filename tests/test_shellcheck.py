"""shellcheck passes on every rendered shell script (issue 15): every deployable tool (with what it
needs) and the example stacks are rendered as in tests/test_no_secret_in_argv.py, and each file that is
a shell script (a shell shebang, a .sh name, a step script, a /srv/sovstack/bin script) is checked with
the shell its shebang names (sh when it names none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_no_secret_in_argv import BASE, CATALOG, DEPLOYABLE, EXAMPLES, ROOT, deployable, load_stack, parse_stack, render

# The only checks left out, and why.
EXCLUDE = {
    # `. /etc/sovstack/backup.env`: the sourced file exists on the server only, not beside the script here.
    "SC1091": "sourced file is not on this machine",
}
SHELLS = {"sh": "sh", "dash": "sh", "bash": "bash"}


def shell_of(dest: str, text: str) -> str | None:
    """The shellcheck dialect of a rendered file, or None when it is no shell script."""
    if text.startswith("#!"):
        words = text[2:].split("\n", 1)[0].split()
        name = Path(words[0]).name if words else ""
        if name == "env" and len(words) > 1:
            name = words[1]
        return SHELLS.get(name)
    if dest.startswith(("/srv/sovstack/steps/", "/srv/sovstack/bin/")) or dest.endswith(".sh"):
        return "sh"
    return None


def shellcheck(bundles, tmp_path: Path) -> list[str]:
    """shellcheck's findings on the shell scripts of the bundles; each distinct script is checked once."""
    scripts: dict[tuple[str, str], str] = {}
    for bundle in bundles:
        for dest, content in bundle.files.items():
            text = content.decode(errors="replace")
            if (shell := shell_of(dest, text)) is not None:
                scripts.setdefault((shell, text), dest)
    assert scripts, "no shell script rendered: the test saw nothing"
    tool = shutil.which("shellcheck")
    if tool is None:
        assert not os.environ.get("CI"), "shellcheck is missing: scripts/setup.sh --tests installs it"
        pytest.skip("shellcheck is not installed")
    findings = []
    for n, ((shell, text), dest) in enumerate(scripts.items()):
        path = tmp_path / f"{n}-{Path(dest).name}"
        path.write_text(text)
        result = subprocess.run([tool, "-s", shell, "-f", "gcc", "-e", ",".join(EXCLUDE), str(path)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            findings.append(result.stdout.replace(str(path), dest) + result.stderr)
    return findings


@pytest.mark.parametrize("tool_id", DEPLOYABLE)
def test_shellcheck_passes_on_each_tool(tool_id, tmp_path):
    tool = CATALOG.tools[tool_id]
    companions = tool.requires_tools + [b for b in tool.addon_for if deployable(CATALOG.tools[b])[0]][:1]
    if "identity" not in tool.categories and "ldap" in tool.deploy.wires:
        companions.append("openldap")
    stack = parse_stack({**BASE, "tools": {t: {"server": "main"} for t in [tool_id, *companions]}}, "sovstack.yml", CATALOG)
    bundle, _ = render(stack, tmp_path)
    findings = shellcheck([bundle], tmp_path)
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples" / "stacks")) for p in EXAMPLES])
def test_shellcheck_passes_on_the_example_stacks(path, tmp_path):
    stack = load_stack(path, CATALOG)
    bundles = []
    for server in stack.servers:
        (tmp_path / server).mkdir()
        bundles.append(render(stack, tmp_path / server, server)[0])
    findings = shellcheck(bundles, tmp_path)
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("dest, text, shell", [
    ("/srv/sovstack/steps/01-x.sh", "set -eu\n", "sh"),
    ("/usr/local/lib/sovstack/a", "#!/bin/bash\n", "bash"),
    ("/usr/local/lib/sovstack/b", "#!/usr/bin/env sh\n", "sh"),
    ("/srv/sovstack/bin/sovstack-x", "#!/usr/bin/python3\n", None),
    ("/srv/sovstack/firewall.nft", "#!/usr/sbin/nft -f\n", None),
    ("/srv/sovstack/apps/x/compose.yml", "services: {}\n", None),
])
def test_shell_scripts_are_recognised(dest, text, shell):
    assert shell_of(dest, text) == shell
