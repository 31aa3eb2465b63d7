"""No secret in any process argument, seen for real (issue 15): while `sovstack deploy` converges a
fresh sandbox server, the server's and this machine's /proc/*/cmdline are sampled every few
milliseconds; no value from the stack's secrets.yml may appear in any of them.
tests/test_no_secret_in_argv.py proves the same on rendered files, without a server.
"""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.servers import DEBIAN_TOOLS, SOVSTACK, require_docker, ssh, trust_test_host_ca, write_stack

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]

# Runs on the server: collects every distinct command line until /run/sovstack-sampler.stop exists.
SAMPLER = r'''
import glob, os, time
seen = set()
while not os.path.exists("/run/sovstack-sampler.stop"):
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                seen.add(f.read().replace(b"\0", b" "))
        except OSError:
            pass
    time.sleep(0.01)
with open("/run/sovstack-sampler.out.tmp", "wb") as f:
    f.write(b"\n".join(seen))
os.rename("/run/sovstack-sampler.out.tmp", "/run/sovstack-sampler.out")
'''


def local_cmdlines(seen: set[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                seen.add(path.read_bytes().replace(b"\0", b" "))
            except OSError:
                pass
        time.sleep(0.01)


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
def test_no_secret_shows_in_any_process_argument_during_a_deploy(engine, tmp_path_factory):
    from sovstack.engines import sandbox

    require_docker()
    state = tmp_path_factory.mktemp(f"argv-{engine}")
    name = f"test-argv-{engine}"
    server = sandbox.up(name, state_dir=state)
    try:
        work = tmp_path_factory.mktemp(f"argv-stack-{engine}")
        trust_test_host_ca(server)  # Prosody's web client comes from npm, through this machine's proxy
        write_stack(work, server, DEBIAN_TOOLS)
        script = base64.b64encode(SAMPLER.encode()).decode()
        ssh(server, f"rm -f /run/sovstack-sampler.*; echo {script} | base64 -d > /run/sovstack-sampler.py && "
                    "(nohup python3 /run/sovstack-sampler.py </dev/null >/dev/null 2>&1 &)")
        seen: set[bytes] = set()
        stop = threading.Event()
        sampler = threading.Thread(target=local_cmdlines, args=(seen, stop), daemon=True)
        sampler.start()
        try:
            deploy = subprocess.run([*SOVSTACK, "deploy", "--engine", engine], cwd=work, capture_output=True,
                                    text=True, timeout=1800, stdin=subprocess.DEVNULL)
        finally:
            stop.set()
            sampler.join()
            ssh(server, "touch /run/sovstack-sampler.stop; for i in $(seq 50); do "
                        "[ -e /run/sovstack-sampler.out ] && break; sleep 0.2; done")
        assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:]
        remote = subprocess.run([*server.ssh_command(), "cat /run/sovstack-sampler.out"], capture_output=True,
                                check=True, timeout=120, stdin=subprocess.DEVNULL).stdout
        lines = {("server", line) for line in remote.split(b"\n")} | {("here", line) for line in seen}
        assert len(lines) > 50, "the samplers saw almost nothing"
        secrets = [s.encode() for s in secret_values(work / "secrets.yml")]
        leaks = sorted({f"{where}: {line.replace(s, b'<secret>').decode(errors='replace')[:300]}"
                        for where, line in lines for s in secrets if s in line})
        # Only where a secret showed, never the secret itself.
        assert not leaks, "\n".join(leaks)
    finally:
        sandbox.down(name, state_dir=state)
