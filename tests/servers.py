"""Test support for real servers: the Docker engine, sandbox servers, stand-in images."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sovstack.errors import UserError

HERE = Path(__file__).parent
STANDIN_BASE = "sovstack-standin-base:test"
SOVSTACK = [sys.executable, "-m", "sovstack"]


def require_docker():
    """The Docker engine, or a failure in CI (never a silent skip there)."""
    from sovstack import sandbox

    try:
        return sandbox.docker_client()
    except UserError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the Docker engine: {exc}")
        pytest.skip(f"no Docker engine here: {exc.message}")


def sovstack(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*SOVSTACK, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=1800)
    if check and result.returncode != 0:
        raise AssertionError(f"sovstack {' '.join(args)} exited {result.returncode}\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}")
    return result


def ssh(server, command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*server.ssh_command(), command], capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{command!r} on {server.name}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def published_container_ports(compose_text: str) -> dict[str, list[int]]:
    """image -> container ports it publishes, read from a rendered compose file."""
    found: dict[str, list[int]] = {}
    for service in (yaml.safe_load(compose_text).get("services") or {}).values():
        ports = found.setdefault(service["image"], [])
        for spec in service.get("ports", []):
            ports.append(int(str(spec).rsplit(":", 1)[1].split("/")[0]))
    return found


def build_standins(images: dict[str, list[int]]) -> list[str]:
    """For each upstream image that cannot be pulled here, a local stand-in under that tag."""
    from sovstack import sandbox

    sandbox.ensure_slim_image()
    subprocess.run(["docker", "build", "-q", "-t", STANDIN_BASE, "-f", str(HERE / "standin" / "Dockerfile.base"),
                    str(HERE / "standin")], check=True, capture_output=True)
    for image, ports in images.items():
        dockerfile = (f"FROM {STANDIN_BASE}\nLABEL org.sovstack.standin=true\n"
                      f"ENV STANDIN_PORTS=\"{' '.join(map(str, ports))}\" STANDIN_IMAGE=\"{image}\"\n")
        subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile.encode(), check=True,
                       capture_output=True)
    return sorted(images)
