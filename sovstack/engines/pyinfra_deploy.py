"""The pyinfra applier of a sovstack bundle: the same manifest, the same order as playbooks/site.yml.

Run by `sovstack deploy --engine pyinfra` as `pyinfra build/inventory.py sovstack/engines/pyinfra_deploy.py`;
each host's data carries `sovstack_bundle`, the path of its build/<server>/ directory.
"""

import shlex
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.server import Command
from pyinfra.operations import files, systemd

bundle = Path(host.data.sovstack_bundle)
manifest = yaml.safe_load((bundle / "manifest.yml").read_text())
root = manifest["root"]


@operation()
def converge(check: str, apply: str):
    """Run `apply` unless `check` exits 0 on the server (asked when the operation runs)."""
    if host.get_fact(Command, f"if {check} >/dev/null 2>&1; then echo done; else echo todo; fi") != "done":
        yield apply


packages = " ".join(manifest["packages"])
# Ask apt only when a package is missing: a no-op run stays fast and makes no change.
# Which sections the server does not match yet, asked once before any operation: the others are skipped
# (the same script playbooks/site.yml runs).
drift = (host.get_fact(Command, f"sh -c {shlex.quote(manifest['drift'])}") or "").split()

# Nothing printed: the server matches the whole bundle, so no operation runs (a no-op deploy is this
# one round trip). Else the sections that drifted run, and every per-item check after the files.
settled = not drift

if "packages" in drift:
    converge(name="Debian packages",
             check=f"test \"$(dpkg-query -W -f='${{db:Status-Abbrev}}\\n' {packages} 2>/dev/null | grep -c '^ii')\" "
                   f"= {len(manifest['packages'])}",
             apply=f"DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive "
                   f"apt-get install -y -q --no-install-recommends {packages}")

for entry in manifest["directories"] if "directories" in drift else []:
    files.directory(name=f"Directory {entry['path']}", path=entry["path"], user="root", group="root",
                    mode=entry["mode"])

# What the files about to change will require is written down first, and done by bin/sovstack-pending,
# which removes each marker only once its action succeeded: a killed run is completed by the next.
mark = shlex.quote(manifest["mark_pending"])
if "files" in drift:
    converge(name="Write down what changing files will require", check=f"sh -c {mark} - check",
             apply=f"sh -c {mark} - mark")

for entry in manifest["files"] if "files" in drift else []:
    files.put(name=f"File {entry['dest']}", src=str(bundle / entry["src"]), dest=entry["dest"],
              user=entry["owner"], group=entry["group"], mode=entry["mode"])

pending = f"test -z \"$(ls -A {root}/pending)\""
if "files" in drift or "pending" in drift:
    converge(name="Restart and reload what changed files belong to", check=pending,
             apply=f"{root}/bin/sovstack-pending --keep-going")

for entry in manifest["services"] if "services" in drift else []:
    if entry["phase"] == "base":
        systemd.service(name=f"Service {entry['name']}", service=entry["name"], running=True, enabled=True)

for entry in manifest["builds"] if not settled else []:
    converge(name=f"Image {entry['image']}", check=f"docker image inspect {entry['image']}",
             apply=f"{root}/bin/sovstack-build ensure {entry['image']} {entry['context']}")

for entry in manifest["compose"] if not settled else []:
    converge(name=f"Compose {entry['name']}", check=f"{root}/bin/sovstack-compose status {entry['dir']}",
             apply=f"{root}/bin/sovstack-compose ensure {entry['dir']}")

for entry in manifest["steps"] if not settled else []:
    converge(name=f"Step {entry['name']}", check=f"sh {entry['script']} --check", apply=f"sh {entry['script']}")

if not settled:
    converge(name="Retry what could not restart before the steps", check=pending, apply=f"{root}/bin/sovstack-pending")

for entry in manifest["services"] if "services" in drift else []:
    if entry["phase"] == "after-steps":
        systemd.service(name=f"Service {entry['name']}", service=entry["name"], running=True, enabled=True)
