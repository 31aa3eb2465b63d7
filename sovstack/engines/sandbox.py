"""A local Debian server in Docker that behaves like a fresh VPS: systemd, sshd, reached over SSH.

The image is built once from Debian's mirror with debootstrap and cached under a tag that hashes
its recipe. Each sandbox gets its own SSH key and an inventory, kept in `<state>/<name>/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sovstack.errors import UserError
from sovstack.stack.stackfile import SshAccess, host_key_options

SUITE = "trixie"  # Debian 13, the default server
# What a fresh VPS has: systemd, sshd, Python for Ansible, sudo, CA certificates.
PACKAGES = ("systemd", "systemd-sysv", "openssh-server", "python3", "sudo", "ca-certificates", "dbus",
            "iproute2", "procps")
# The setup run inside the tree before it becomes an image; part of the recipe hash.
SETUP = r"""
set -e
echo sandbox > /etc/hostname
# Like a VPS image: the release, its updates and the security archive.
rm -f /etc/apt/sources.list
cat > /etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: MIRROR
Suites: SUITE SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: MIRROR-security
Suites: SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Like a cloud image: root logs in by key only; no console gettys in a container.
install -d -m 0700 /root/.ssh
systemctl mask getty@tty1.service console-getty.service systemd-firstboot.service \
  systemd-resolved.service systemd-modules-load.service 2>/dev/null || true
rm -f /etc/ssh/ssh_host_*
# Host keys are made at first boot, so every sandbox has its own.
cat > /etc/systemd/system/ssh-hostkeys.service <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
EOF
systemctl enable ssh-hostkeys.service ssh.service
apt-get clean
rm -rf /var/lib/apt/lists/*
"""
STATE_DIR = Path(".sovstack/sandbox")
LABEL = "org.sovstack.engines.sandbox"


@dataclass(frozen=True)
class Sandbox:
    name: str
    container: str
    address: str  # the container's own address: what a scan "from outside" sees
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_key: str
    inventory: str
    state: str

    def ssh_command(self) -> list[str]:
        return ["ssh", "-i", self.ssh_key, "-p", str(self.ssh_port), *SSH_OPTIONS, f"{self.ssh_user}@{self.ssh_host}"]


SSH_OPTIONS = ("-o", "BatchMode=yes", *host_key_options(False),
               "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (the sandbox is built from the same one)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", path.read_text(), re.M)
        if match:
            return match.group(1)
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        match = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s", sources.read_text(), re.M)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


def image_tag(suite: str = SUITE) -> str:
    recipe = json.dumps([suite, PACKAGES, SETUP, debian_mirror()])
    return f"sovstack-sandbox:{suite}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def docker_client():
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise UserError(f"the Docker engine is not reachable ({type(exc).__name__})",
                        "install and start it: apt-get install docker.io && systemctl start docker "
                        "(in a container without systemd: dockerd >/var/log/dockerd.log 2>&1 &)") from None
    return client


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise UserError(f"{what}: '{cmd[0]}' is not installed",
                        f"apt-get install {'debootstrap' if cmd[0] == 'debootstrap' else 'openssh-client'}") from None
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-5:]
        raise UserError(f"{what} failed: " + " / ".join(tail), "see the message above; rerun when fixed") from None


def build_rootfs(target: Path, suite: str, include: tuple[str, ...] = ()) -> None:
    """debootstrap a minimal Debian tree (the same thing Debian's own slim images start from)."""
    cmd = ["debootstrap", "--variant=minbase"]
    if include:
        cmd.append("--include=" + ",".join(include))
    _run([*cmd, suite, str(target), debian_mirror()], f"debootstrap {suite}")


def _pipe(producer: list[str], consumer: list[str], what: str) -> None:
    """producer | consumer, failing if either fails."""
    first = subprocess.Popen(producer, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _run(consumer, what, stdin=first.stdout)
    finally:
        first.stdout.close()  # so the producer gets SIGPIPE instead of blocking if the consumer died
        first.wait()
    if first.returncode:
        raise UserError(f"{what} failed: {' '.join(producer)}: {first.stderr.read().decode()[-300:]}",
                        "see the message above; rerun when fixed")


def import_tree(tree: Path, tag: str, changes: list[str]) -> None:
    args = [a for change in changes for a in ("--change", change)]
    _pipe(["tar", "-C", str(tree), "--numeric-owner", "-c", "."], ["docker", "import", *args, "-", tag],
          f"docker import {tag}")


@contextlib.contextmanager
def _building(tag: str):
    """Held while `tag` is built: a second `sandbox up` (another terminal, a second test lane) waits for the
    first build instead of running debootstrap again."""
    lock = Path(tempfile.gettempdir()) / f"sovstack-image-{re.sub(r'[^A-Za-z0-9.-]', '_', tag)}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure(tag: str, build) -> str:
    """`tag` as it is, or made by `build(tag)` under the build lock unless another build made it meanwhile."""
    client = docker_client()
    if client.images.list(name=tag):
        return tag
    with _building(tag):
        if not client.images.list(name=tag):  # built by whoever held the lock before
            build(tag)
    return tag


def ensure_image(suite: str = SUITE) -> str:
    """Build the sandbox image unless the one for this recipe exists. Returns its tag."""
    return _ensure(image_tag(suite), lambda tag: _build_image(tag, suite))


def _build_image(tag: str, suite: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sovstack-rootfs-") as tmp:
        tree = Path(tmp) / "rootfs"
        build_rootfs(tree, suite, PACKAGES)
        setup = SETUP.replace("MIRROR", debian_mirror()).replace("SUITE", suite)
        _run(["chroot", str(tree), "/bin/sh", "-c", setup], "sandbox image setup")
        import_tree(tree, tag, ['CMD ["/sbin/init"]', "ENV container=docker"])


def ensure_slim_image(suite: str = SUITE) -> str:
    """`debian:<suite>-slim` for images sovstack builds, made locally from Debian's mirror.

    Used where Docker Hub cannot be reached (tests, offline servers): same Debian packages, built
    here instead of pulled.
    """
    return _ensure(f"debian:{suite}-slim", lambda tag: _build_slim_image(tag, suite))


def _build_slim_image(tag: str, suite: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sovstack-slim-") as tmp:
        tree = Path(tmp) / "rootfs"
        build_rootfs(tree, suite)
        _run(["chroot", str(tree), "/bin/sh", "-c", "apt-get clean; rm -rf /var/lib/apt/lists/*"], "slim image setup")
        import_tree(tree, tag, ['CMD ["bash"]'])


def _state(name: str, state_dir: Path) -> Path:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", name):
        raise UserError(f"sandbox name {name!r} is not allowed",
                        "use lowercase letters, digits and hyphens (at most 31), e.g. 'sandbox' or 'web-b'")
    return state_dir / name


def up(name: str = "sandbox", state_dir: Path = STATE_DIR, suite: str = SUITE, progress=lambda msg: None) -> Sandbox:
    """Start (or find) the sandbox server `name`; returns how to reach it."""
    import docker.errors

    state = _state(name, state_dir).resolve()
    client = docker_client()
    existing = status(name, state_dir)
    if existing:
        return existing
    progress(f"building the Debian {suite} server image (once; cached as {image_tag(suite)})")
    tag = ensure_image(suite)
    state.mkdir(parents=True, exist_ok=True)
    key = state / "id_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"sovstack-sandbox-{name}", "-f", str(key)],
             "making the sandbox SSH key")
    # The server's Docker data lives on the host's disk so nested Docker can use overlay2.
    docker_dir = state / "var-lib-docker"
    docker_dir.mkdir(exist_ok=True)
    container_name = f"sovstack-{name}"
    try:
        client.containers.get(container_name).remove(force=True)
    except docker.errors.NotFound:
        pass
    progress(f"starting {container_name}")
    # The docker CLI, because the SDK cannot say systempaths=unconfined (unmasked /proc and /sys).
    _run(["docker", "run", "-d", "--name", container_name, "--hostname", name, "--label", f"{LABEL}={name}",
          "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
          "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
          "--security-opt", "systempaths=unconfined", "--cgroupns", "host",
          "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
          "-v", f"{docker_dir}:/var/lib/docker", "-p", "127.0.0.1::22", "--stop-signal", "SIGRTMIN+3", tag],
         f"starting {container_name}")
    container = client.containers.get(container_name)
    pub = (key.with_suffix(".pub")).read_text().strip()
    result = container.exec_run(["sh", "-c", f"umask 077; mkdir -p /root/.ssh; echo '{pub}' > /root/.ssh/authorized_keys"])
    if result.exit_code != 0:
        raise UserError(f"could not install the SSH key in {container_name}: {result.output.decode()[-300:]}",
                        "look at `docker logs " + container_name + "`")
    sandbox = _describe(name, state, client.containers.get(container_name))
    progress("waiting for SSH")
    wait_for_ssh(sandbox)
    write_inventory(sandbox)
    return sandbox


def _describe(name: str, state: Path, container) -> Sandbox:
    port = int(container.ports["22/tcp"][0]["HostPort"])
    address = container.attrs["NetworkSettings"]["IPAddress"]
    return Sandbox(name=name, container=container.name, address=address, ssh_host="127.0.0.1", ssh_port=port,
                   ssh_user="root", ssh_key=str(state / "id_ed25519"), inventory=str(state / "inventory.yml"),
                   state=str(state))


def wait_for_ssh(sandbox: Sandbox, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run([*sandbox.ssh_command(), "systemctl is-system-running --wait >/dev/null; true"],
                               capture_output=True, text=True, timeout=timeout)
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise UserError(f"sandbox {sandbox.name} did not answer SSH within {timeout:.0f} s: {probe.stderr.strip()[-200:]}",
                            f"look at `docker logs {sandbox.container}`; on a cgroup v1 host systemd may refuse to boot")
        time.sleep(1)


def write_inventory(sandbox: Sandbox) -> None:
    """An Ansible inventory for the sandbox, and a file describing it for `sovstack init`."""
    from sovstack.yamlio import dump_yaml

    host = SshAccess(sandbox.ssh_host, sandbox.ssh_port, sandbox.ssh_user, sandbox.ssh_key, check_host_key=False).ansible()
    Path(sandbox.inventory).write_text(dump_yaml({"all": {"hosts": {sandbox.name: host}}}))
    Path(sandbox.state, "sandbox.json").write_text(json.dumps(asdict(sandbox), indent=2) + "\n")


def status(name: str = "sandbox", state_dir: Path = STATE_DIR) -> Sandbox | None:
    import docker.errors

    state = _state(name, state_dir).resolve()
    client = docker_client()
    try:
        container = client.containers.get(f"sovstack-{name}")
    except docker.errors.NotFound:
        return None
    if container.status != "running":
        return None
    return _describe(name, state, container)


def down(name: str = "sandbox", state_dir: Path = STATE_DIR) -> bool:
    """Remove the sandbox container and its state (its key, its Docker data). True if one existed."""
    import docker.errors

    state = _state(name, state_dir).resolve()
    client = docker_client()
    found = False
    try:
        client.containers.get(f"sovstack-{name}").remove(force=True)
        found = True
    except docker.errors.NotFound:
        pass
    if state.exists():
        shutil.rmtree(state)
        found = True
    return found


def load_images(sandbox: Sandbox, images: list[str]) -> None:
    """Copy images from this machine's Docker into the sandbox's (for servers that cannot pull)."""
    _pipe(["docker", "save", *images], [*sandbox.ssh_command(), "docker load -q"],
          f"loading {', '.join(images)} into {sandbox.name}")
