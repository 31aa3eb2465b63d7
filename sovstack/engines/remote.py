"""Talking to a server over SSH (OpenSSH client), and the checks made before anything changes."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from sovstack.errors import UserError
from sovstack.stack.stackfile import Server


@dataclass(frozen=True)
class Target:
    name: str
    server: Server

    def ssh_command(self, timeout: int = 10) -> list[str]:
        access = self.server.ssh_access()
        cmd = ["ssh", "-p", str(access.port), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}",
               "-o", "LogLevel=ERROR"]
        if access.key:
            cmd += ["-i", access.key, "-o", "IdentitiesOnly=yes"]
        return [*cmd, *access.host_key_options(), f"{access.user}@{access.host}"]

    def run(self, command: str, timeout: int = 120, stdin: str | None = None,
            as_root: bool = False) -> subprocess.CompletedProcess:
        """Run a shell command on the server; raises UserError when SSH itself fails.

        `stdin` carries data that must not appear in a command line (passwords, LDIF).
        """
        if as_root and self.server.ssh_user != "root":
            command = f"sudo -n sh -c {shlex.quote(command)}"
        try:
            result = subprocess.run([*self.ssh_command(), command], capture_output=True, text=True,
                                    timeout=timeout, input=stdin,
                                    stdin=subprocess.DEVNULL if stdin is None else None)
        except FileNotFoundError:
            raise UserError("the OpenSSH client is not installed", "apt-get install openssh-client") from None
        except subprocess.TimeoutExpired:
            raise UserError(f"server {self.name!r} ({self.server.address}): no answer within {timeout} s",
                            "check that the server is up and reachable, then run again") from None
        if result.returncode == 255:
            raise ssh_error(self, result.stderr)
        return result


def ssh_error(target: Target, stderr: str) -> UserError:
    where = f"server {target.name!r} ({target.server.ssh_user}@{target.server.address}:{target.server.ssh_port})"
    text = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    if "Permission denied" in stderr:
        key = target.server.ssh_key or "your default SSH key"
        return UserError(f"{where}: SSH refused the key ({text})",
                         f"check 'servers.{target.name}.ssh_key' ({key}) and 'ssh_user' in the stack file, "
                         "and that its public key is in the server's authorized_keys")
    if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return UserError(f"{where}: the server's host key is unknown or changed",
                         f"verify it, then: ssh-keyscan -p {target.server.ssh_port} {target.server.address} "
                         ">> ~/.ssh/known_hosts")
    return UserError(f"{where}: cannot connect over SSH ({text})",
                     f"check 'servers.{target.name}.address' and 'ssh_port' in the stack file and that the server "
                     "is running and reachable")


LISTENERS = "--- listening sockets ---"


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    process: str


def parse_listeners(out: str) -> list[Listener]:
    """TCP sockets listening on the server (`ss -Htlnp` output), with the program holding each."""
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        address, _, port = parts[3].rpartition(":")
        match = re.search(r'users:\(\("([^"]+)"', line)
        if port.isdigit():
            found.append(Listener(address.strip("[]"), int(port), match.group(1) if match else "?"))
    return found


def preflight(target: Target, manifest: dict[str, Any]) -> list[str]:
    """Everything that must hold before the engines touch the server. Returns the problems found."""
    # One round trip; a bare server without iproute2 lists no sockets, so nothing can clash.
    probe = target.run("cat /etc/os-release; command -v sudo || true; echo " + LISTENERS + "; ss -Htlnp 2>/dev/null || true")
    system, _, sockets = probe.stdout.partition(LISTENERS + "\n")
    problems = []
    release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', system, re.M))
    if release.get("ID") != "debian" or release.get("VERSION_ID") != "13":
        # Debian 12 packages only Compose v1 (docker-compose 1.29), which our compose files do not target.
        problems.append(f"server {target.name!r} runs {release.get('PRETTY_NAME', 'an unknown system')}; "
                        "fix: sovstack deploys Debian 13 (trixie): reinstall the server with it, or upgrade "
                        "Debian 12 to 13 first")
    if target.server.ssh_user != "root" and "/sudo" not in system:
        problems.append(f"server {target.name!r}: user {target.server.ssh_user!r} is not root and sudo is missing; "
                        "fix: use ssh_user: root, or install sudo and allow the user to use it without a password")
    wanted = {entry["port"]: entry["owners"] for entry in manifest["ports"]}
    for listener in parse_listeners(sockets):
        owners = wanted.get(listener.port)
        loopback = listener.address.startswith("127.") or listener.address == "::1"
        if owners is None or listener.process in owners:
            continue
        if listener.port in manifest["public_ports"] or not loopback or listener.port > 8000:
            problems.append(f"server {target.name!r}: port {listener.port} is already taken by "
                            f"'{listener.process}' (listening on {listener.address}); fix: stop and disable that "
                            f"program on the server (systemctl disable --now <its unit>), or move the tool that "
                            f"needs port {listener.port} to another server")
    return problems
