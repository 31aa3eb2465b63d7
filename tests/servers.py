"""Test support for real servers: the Docker engine, sandbox servers, stand-in images."""

from __future__ import annotations

import base64
import glob
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from sovstack.engines import sandbox
from sovstack.errors import UserError

HERE = Path(__file__).parent
STANDIN_BASE = "sovstack-standin-base:test"
SOVSTACK = [sys.executable, "-m", "sovstack"]


def require_docker():
    """The Docker engine, or a failure in CI (never a silent skip there)."""
    from sovstack.engines import sandbox

    try:
        return sandbox.docker_client()
    except UserError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the Docker engine: {exc}")
        pytest.skip(f"no Docker engine here: {exc.message}")


def sovstack(*args: str, cwd: Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([*SOVSTACK, *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                            input=stdin, stdin=subprocess.DEVNULL if stdin is None else None)
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


def standin_health(work: Path) -> dict[str, str]:
    """image -> the catalog's health path of the tool whose compose file (rendered under work) names it:
    a stand-in answers only there."""
    from sovstack.catalog import load_catalog

    tools = load_catalog().tools
    found = {}
    for compose in (work / "build").glob("*/files/srv/sovstack/apps/*/compose.yml"):
        tool = tools.get(compose.parent.name)
        health = tool.deploy.health if tool and tool.deploy else None
        for service in (yaml.safe_load(compose.read_text()).get("services") or {}).values():
            if health and service.get("ports"):
                found[service["image"]] = health
    return found


def published_container_ports(compose_text: str) -> dict[str, list[int]]:
    """image -> container ports it publishes, read from a rendered compose file."""
    found: dict[str, list[int]] = {}
    for service in (yaml.safe_load(compose_text).get("services") or {}).values():
        ports = found.setdefault(service["image"], [])
        for spec in service.get("ports", []):
            ports.append(int(str(spec).rsplit(":", 1)[1].split("/")[0]))
    return found


def standin_build_context(database: str) -> Path:
    """The folder a database stand-in is built from: PostgreSQL's is the build folder of sovstack's own
    PostgreSQL image (Synapse's), whose entrypoint keeps the upstream image's contract, so the stand-in
    runs that entrypoint rather than a copy of it."""
    from sovstack.paths import templates_dir

    if database == "postgres":
        return templates_dir() / "apps" / "matrix-synapse" / "postgres"
    return HERE / "standin"


def build_standins(images: dict[str, list[int]], health: dict[str, str] | None = None) -> list[str]:
    """For each upstream image that cannot be pulled here, a local stand-in under that tag: the upstream
    databases are real (Debian's PostgreSQL in Dockerfile.postgres, built from standin_build_context); any
    other answers only its catalog health path (`health`: image -> path, see standin_health) on its
    published ports."""
    from sovstack.engines import sandbox

    sandbox.ensure_slim_image()
    subprocess.run(["docker", "build", "-q", "-t", STANDIN_BASE, "-f", str(HERE / "standin" / "Dockerfile.base"),
                    str(HERE / "standin")], check=True, capture_output=True, timeout=900)
    for image, ports in images.items():
        database = image.split("/")[-1].split(":")[0]
        if (HERE / "standin" / f"Dockerfile.{database}").exists():
            subprocess.run(["docker", "build", "-q", "-t", image, "--build-arg", f"BASE={STANDIN_BASE}",
                            "--label", "org.sovstack.standin=true", "-f",
                            str(HERE / "standin" / f"Dockerfile.{database}"), str(standin_build_context(database))],
                           check=True, capture_output=True, timeout=900)
            continue
        dockerfile = (f"FROM {STANDIN_BASE}\nLABEL org.sovstack.standin=true\n"
                      f"ENV STANDIN_PORTS=\"{' '.join(map(str, ports))}\" STANDIN_IMAGE=\"{image}\" "
                      f"STANDIN_HEALTH=\"{(health or {}).get(image, '')}\"\n")
        subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile.encode(), check=True,
                       capture_output=True, timeout=900)
    return sorted(images)


DEBIAN_TOOLS = {"postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"},
                "goaccess": {"server": "main"}, "roundcube": {"server": "main"}, "prosody": {"server": "main"}}
REAL_TOOLS = tuple(DEBIAN_TOOLS)  # what runs for real on the converged servers (`proves` markers name them)
# The test host reaches npm's and PyPI's registries through an inspecting HTTPS proxy that only it trusts.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def trust_test_host_ca(server) -> None:
    """Tests only, never on a real server: the sandbox trusts what this machine trusts, so a deploy's
    download from a registry (converse.js from npm) passes the proxy's certificate check."""
    bundle = HOST_CA_BUNDLE.read_text()
    subprocess.run([*server.ssh_command(), "cat > /usr/local/share/ca-certificates/sovstack-test-host.crt && "
                    "update-ca-certificates >/dev/null"], input=bundle, text=True, check=True,
                   capture_output=True, timeout=300)
STANDIN_TOOLS = {"etherpad": {"server": "main"}}


def write_stack(work: Path, server: sandbox.Sandbox, tools: dict) -> Path:
    stack = {"organisation": "Les Voisins", "domain": "voisins.test", "admin_email": "admin@voisins.test",
             "tls": "internal",
             "servers": {"main": {"address": server.ssh_host, "ssh_port": server.ssh_port, "ssh_key": server.ssh_key,
                                  "public_ip": server.address, "check_host_key": False}},
             "tools": tools}
    path = work / "sovstack.yml"
    path.write_text(yaml.safe_dump(stack))
    return path


CADDY_ROOT_CA = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"


def fetch_caddy_ca(server: sandbox.Sandbox, work: Path) -> Path:
    """Caddy's internal root CA from the server, in work/caddy-root.crt: what a client checks TLS against."""
    path = work / "caddy-root.crt"
    path.write_text(ssh(server, f"cat {CADDY_ROOT_CA}").stdout)
    return path


def add_members(work: Path, passwords: dict[str, str]) -> None:
    """Directory members (username -> password, by stdin): name from the username, no welcome mail, and an
    address of their own (these stacks have no mailbox)."""
    for username, password in passwords.items():
        sovstack("members", "add", username, "--name", username.title(), "--email", f"{username}@example.org",
                 "--password-stdin", "--no-welcome", cwd=work, stdin=password + "\n")


@dataclass
class Deployed:
    """A sandbox server converged with a stack by pyinfra (see deployed_stack)."""
    server: sandbox.Sandbox
    work: Path  # sovstack.yml, secrets.yml, build/: where `sovstack` commands for this server run
    runs: dict[str, subprocess.CompletedProcess]  # "fresh" and "again": the two deploys
    ca: Path  # Caddy's root CA
    passwords: dict[str, str]  # the directory members added, username -> password

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


class Browser:
    """A browser with cookies for one site of a deployed stack, reaching the sandbox through Caddy as public
    DNS would, TLS checked against the server's CA. A form is sent with the Origin and Referer a browser
    gives it (Django checks them over HTTPS)."""

    def __init__(self, deployed: Deployed, host: str, timeout: float = 120):
        import urllib3

        self.host = host
        self.pool = urllib3.HTTPSConnectionPool(deployed.server.address, 443, ssl_context=deployed.tls(),
                                                server_hostname=host, assert_hostname=host, retries=False,
                                                timeout=urllib3.Timeout(total=timeout))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict | None = None):
        import urllib.parse
        from http.cookies import SimpleCookie

        headers = {"Host": self.host}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{self.host}",
                            "Referer": f"https://{self.host}{path}"})
            body = urllib.parse.urlencode(fields)
        answer = self.pool.request(method, path, body=body, headers=headers, redirect=False)
        for header in answer.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel.value != "deleted":  # PHP deletes a cookie with "deleted"
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return answer


@contextmanager
def deployed_stack(tmp_path_factory, name: str, tools: dict, members: dict[str, str] | None = None,
                   prepare: Callable[[sandbox.Sandbox, Path], None] | None = None,
                   commands: list[tuple[str, ...]] = ()) -> Iterator[Deployed]:
    """The sandbox `name` up, the stack `tools` deployed twice with pyinfra (a test checks that the second
    run changes nothing), the directory `members` added, Caddy's root CA fetched; the sandbox is removed
    when the block ends, whatever happened. `prepare(server, work)` runs before the two deploys (e.g. a
    first deploy that installs Docker, then images loaded into it); `commands` are sovstack commands run
    on the stack file before the deploys (e.g. `groups add`)."""
    require_docker()
    state = tmp_path_factory.mktemp(f"sandbox-{name}")
    server = sandbox.up(name, state_dir=state)
    try:
        work = tmp_path_factory.mktemp(f"stack-{name}")
        if prepare:
            prepare(server, work)
        write_stack(work, server, tools)
        for command in commands:
            sovstack(*command, cwd=work)
        runs = {"fresh": sovstack("deploy", "--engine", "pyinfra", cwd=work),
                "again": sovstack("deploy", "--engine", "pyinfra", cwd=work)}
        add_members(work, members or {})
        yield Deployed(server, work, runs, fetch_caddy_ca(server, work), dict(members or {}))
    finally:
        sandbox.down(name, state_dir=state)


# The session's server of Debian tools that need no stand-in (the `debian_apps` fixture in conftest.py).
DEBIAN_APPS = {"openldap": {"server": "main"}, "radicale": {"server": "main"}, "matomo": {"server": "main"},
               "dokuwiki": {"server": "main"}}
DEBIAN_APPS_MEMBERS = {name: f"{name}-Calendar-0123456789" for name in ("ada", "ben", "cleo")}
# Network mode on the same server: a hub and two partner groups, plus one to purge (tests/test_network_sandbox.py).
DEBIAN_APPS_GROUPS = [("groups", "add", "coordination", "--name", "Coordination du réseau", "--hub", "--coordinator", "ada"),
                      ("groups", "add", "nord", "--name", "Groupe Nord", "--coordinator", "ben"),
                      ("groups", "add", "sud", "--name", "Groupe Sud"),
                      ("groups", "add", "ephemere", "--name", "Groupe éphémère")]


@dataclass
class Converged:
    engine: str
    server: sandbox.Sandbox
    work: Path
    runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    # ("server" or "here", a command line) seen while the server converged (sampling_cmdlines)
    cmdlines: set[tuple[str, bytes]] = field(default_factory=set)


# Runs on the server: collects every distinct command line until /run/sovstack-sampler.stop exists.
CMDLINE_SAMPLER = r'''
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


def _local_cmdlines(seen: set[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        # glob.glob, not Path.glob: a process that ends while pathlib lists /proc raises ProcessLookupError
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(path, "rb") as f:
                    seen.add(f.read().replace(b"\0", b" "))
            except OSError:
                pass
        time.sleep(0.01)


@contextmanager
def sampling_local_cmdlines() -> Iterator[set[bytes]]:
    """Every distinct process command line on this machine, read from /proc every 10 ms while the block
    runs; the set yielded is complete once the block has ended."""
    here: set[bytes] = set()
    stop = threading.Event()
    sampler = threading.Thread(target=_local_cmdlines, args=(here, stop), daemon=True)
    sampler.start()
    try:
        yield here
    finally:
        stop.set()
        sampler.join()


@contextmanager
def sampling_cmdlines(server: sandbox.Sandbox) -> Iterator[set[tuple[str, bytes]]]:
    """Every distinct process command line on the server and on this machine, read from /proc every 10 ms
    while the block runs; the set yielded holds ("server" or "here", line) pairs once the block has ended
    (tests/test_secrets_not_in_argv_sandbox.py looks for secrets in them)."""
    script = base64.b64encode(CMDLINE_SAMPLER.encode()).decode()
    ssh(server, f"rm -f /run/sovstack-sampler.*; echo {script} | base64 -d > /run/sovstack-sampler.py && "
                "(nohup python3 /run/sovstack-sampler.py </dev/null >/dev/null 2>&1 &)")
    lines: set[tuple[str, bytes]] = set()
    try:
        with sampling_local_cmdlines() as here:
            yield lines
    finally:
        ssh(server, "touch /run/sovstack-sampler.stop; for i in $(seq 50); do "
                    "[ -e /run/sovstack-sampler.out ] && break; sleep 0.2; done")
    remote = subprocess.run([*server.ssh_command(), "cat /run/sovstack-sampler.out"], capture_output=True,
                            check=True, timeout=120, stdin=subprocess.DEVNULL).stdout
    lines |= {("server", line) for line in remote.split(b"\n")} | {("here", line) for line in here}


def changes(output: str) -> int:
    match = re.search(r"deploy: \w+: main: (\d+) change", output)
    assert match, output[-2000:]
    return int(match.group(1))


def changed_tasks(output: str) -> list[str]:
    """What changed in an engine's output (Ansible TASK headers with a changed item, pyinfra
    operations with a Success count), to say which one when a no-op run was not one."""
    found, task = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:line.rfind("]")]
        elif line.startswith("changed:") and task and task not in found:
            found.append(task)
        elif re.match(r"\s+(Step|File|Service|Compose|Image|Debian|Directory|Restart|Retry|Write)\b.*\s1\s+1\s", line):
            found.append(line.strip())
    return found


def converge_sample(engine: str, tmp_path_factory, finalizers: list) -> Converged:
    """A fresh sandbox converged by `engine` with the sample stack, in two phases (see test_deploy_sandbox)."""
    require_docker()
    state = tmp_path_factory.mktemp(f"sandbox-{engine}")
    name = f"test-{engine}"
    server = sandbox.up(name, state_dir=state)
    finalizers.append(lambda: sandbox.down(name, state_dir=state))
    work = tmp_path_factory.mktemp(f"stack-{engine}")
    result = Converged(engine, server, work)

    trust_test_host_ca(server)
    write_stack(work, server, DEBIAN_TOOLS)
    verbose = "-vvvv" if engine == "ansible" else "-vvv"
    # Both deploys that change the server run with every process's arguments sampled (the no-secret-in-argv
    # test reads them): a server of its own for that test would cost a second fresh deploy per engine.
    with sampling_cmdlines(server) as result.cmdlines:
        result.runs["fresh"] = sovstack("deploy", "--engine", engine, verbose, cwd=work)
        result.runs["again"] = sovstack("deploy", "--engine", engine, cwd=work)

        # Phase 2: stand-ins under the upstream tags, loaded into the server's Docker (it cannot pull here).
        write_stack(work, server, {**DEBIAN_TOOLS, **STANDIN_TOOLS})
        sovstack("render", cwd=work)
        images: dict[str, list[int]] = {}
        for compose in (work / "build" / "main" / "files" / "srv" / "sovstack" / "apps").glob("*/compose.yml"):
            images.update(published_container_ports(compose.read_text()))
        sandbox.load_images(server, build_standins(images, standin_health(work)))
        result.runs["tools"] = sovstack("deploy", "--engine", engine, verbose, cwd=work)
    result.runs["tools-again"] = sovstack("deploy", "--engine", engine, cwd=work)
    result.runs["plan"] = sovstack("plan", "--engine", engine, cwd=work)
    return result


# Etherpad's health timing as the templates have it: Docker calls a failing container unhealthy after
# start_period + retries x interval, minutes with these figures.
ETHERPAD_HEALTH_TIMING = "      interval: 30s\n      timeout: 5s\n      retries: 5\n      start_period: 60s"


def etherpad_templates(root: Path, timing: str, replace: dict[str, str] | None = None) -> Path:
    """A copy of sovstack's templates under `root` whose Etherpad health check runs on `timing` (its app
    service's, first in the file), with each `replace` pair applied: a drill about what sovstack does with
    Docker's verdict hears it in seconds. Every text replaced must be there, so a template change shows."""
    from sovstack.paths import templates_dir

    templates = root / "templates"
    shutil.copytree(templates_dir(), templates)
    compose = templates / "apps" / "etherpad" / "app" / "compose.yml.j2"
    text = compose.read_text()
    for old, new in {ETHERPAD_HEALTH_TIMING: timing, **(replace or {})}.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    compose.write_text(text)
    return templates
