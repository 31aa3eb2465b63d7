"""No secret in any process argument, seen for real (issue 15): while `sovstack deploy` converges a
fresh sandbox server, the server's and this machine's /proc/*/cmdline are sampled every 10 ms; no value
from the stack's secrets.yml may appear in any of them.

The server is the session's sample-stack server of each engine (converged_server in tests/conftest.py):
the sampling (tests/servers.py sampling_cmdlines) covers its first deploy of the Debian tools on a fresh
server, the second one, and the deploy that adds Etherpad from its stand-in images with their PostgreSQL.
tests/test_no_secret_in_argv.py proves the same on rendered files, without a server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]


def secret_values(path: Path) -> list[str]:
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str) and len(node) >= 8:
            found.append(node)
    walk(yaml.safe_load(path.read_text()))
    return found


@pytest.mark.parametrize("engine", ["ansible", "pyinfra"])
def test_no_secret_shows_in_any_process_argument_during_a_deploy_with_standin_etherpad(engine, converged_server):
    converged = converged_server(engine)
    lines = converged.cmdlines
    assert len(lines) > 50, "the samplers saw almost nothing"
    assert any(where == "server" and b"apt" in line for where, line in lines), "the server's sampler saw no install"
    secrets = [s.encode() for s in secret_values(converged.work / "secrets.yml")]
    assert secrets
    leaks = sorted({f"{where}: {line.replace(s, b'<secret>').decode(errors='replace')[:300]}"
                    for where, line in lines for s in secrets if s in line})
    # Only where a secret showed, never the secret itself.
    assert not leaks, "\n".join(leaks)
