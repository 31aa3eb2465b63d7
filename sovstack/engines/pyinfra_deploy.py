"""The pyinfra applier of a sovstack bundle: the same manifest, the same order as playbooks/site.yml.

Run by `sovstack deploy --engine pyinfra` as `pyinfra build/inventory.py sovstack/engines/pyinfra_deploy.py`;
each host's data carries `sovstack_bundle`, the path of its build/<server>/ directory.
"""

import io
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.server import Command
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

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
converge(name="Debian packages",
         check=f"test \"$(dpkg-query -W -f='${{db:Status-Abbrev}}\\n' {packages} 2>/dev/null | grep -c '^ii')\" "
               f"= {len(manifest['packages'])}",
         apply=f"DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive "
               f"apt-get install -y -q --no-install-recommends {packages}")

for entry in manifest["directories"]:
    files.directory(name=f"Directory {entry['path']}", path=entry["path"], user="root", group="root",
                    mode=entry["mode"])

marker_ops: dict[str, list] = {}
marker_content: dict[str, str] = {}
for entry in manifest["files"]:
    op = files.put(name=f"File {entry['dest']}", src=str(bundle / entry["src"]), dest=entry["dest"],
                   user=entry["owner"], group=entry["group"], mode=entry["mode"])
    for marker in entry["markers"]:
        marker_ops.setdefault(marker["name"], []).append(op)
        marker_content[marker["name"]] = marker["content"]

# What changed files require is written down at once and done by bin/sovstack-pending, which removes
# each marker only when its action succeeded: an interrupted run is completed by the next one.
for name, ops in marker_ops.items():
    files.put(name=f"Pending {name}", src=io.StringIO(marker_content[name]), dest=f"{root}/pending/{name}",
              mode="0600", _if=any_changed(*ops))

pending = f"test -z \"$(ls -A {root}/pending)\""
converge(name="Restart and reload what changed files belong to", check=pending,
         apply=f"{root}/bin/sovstack-pending --keep-going")

for entry in manifest["services"]:
    if entry["phase"] == "base":
        systemd.service(name=f"Service {entry['name']}", service=entry["name"], running=True, enabled=True)

for entry in manifest["builds"]:
    converge(name=f"Image {entry['image']}", check=f"docker image inspect {entry['image']}",
             apply=f"{root}/bin/sovstack-build ensure {entry['image']} {entry['context']}")

for entry in manifest["compose"]:
    converge(name=f"Compose {entry['name']}", check=f"{root}/bin/sovstack-compose status {entry['dir']}",
             apply=f"{root}/bin/sovstack-compose ensure {entry['dir']}")

for entry in manifest["steps"]:
    converge(name=f"Step {entry['name']}", check=f"sh {entry['script']} --check", apply=f"sh {entry['script']}")

converge(name="Retry what could not restart before the steps", check=pending, apply=f"{root}/bin/sovstack-pending")

for entry in manifest["services"]:
    if entry["phase"] == "after-steps":
        systemd.service(name=f"Service {entry['name']}", service=entry["name"], running=True, enabled=True)
