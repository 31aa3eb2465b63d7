"""The pyinfra applier of a sovstack bundle: the same manifest, the same order as playbooks/site.yml.

Run by `sovstack deploy --engine pyinfra` as `pyinfra build/inventory.py sovstack/engines/pyinfra_deploy.py`;
each host's data carries `sovstack_bundle`, the path of its build/<server>/ directory.
"""

from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.server import Command
from pyinfra.operations import files, server, systemd
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

changed_by: dict[str, list] = {}
unit_files = []
for entry in manifest["files"]:
    op = files.put(name=f"File {entry['dest']}", src=str(bundle / entry["src"]), dest=entry["dest"],
                   user=entry["owner"], group=entry["group"], mode=entry["mode"])
    for target in entry["notify"]:
        changed_by.setdefault(target, []).append(op)
    if entry["dest"].startswith("/etc/systemd/"):
        unit_files.append(op)

if unit_files:
    systemd.daemon_reload(name="Reload systemd when a unit file changed", _if=any_changed(*unit_files))

for target, ops in changed_by.items():
    action, _, unit = target.partition(":")
    if action == "restart":
        systemd.service(name=f"Restart {unit}", service=unit, restarted=True, _if=any_changed(*ops))
    elif action == "reload":
        systemd.service(name=f"Reload {unit}", service=unit, reloaded=True, _if=any_changed(*ops))

for entry in manifest["services"]:
    systemd.service(name=f"Service {entry['name']}", service=entry["name"], running=True, enabled=True)

for entry in manifest["builds"]:
    ops = changed_by.get(f"build:{entry['image']}", [])
    if ops:
        server.shell(name=f"Rebuild {entry['image']}", _if=any_changed(*ops),
                     commands=[f"{root}/bin/sovstack-build rebuild {entry['image']} {entry['context']}"])
    converge(name=f"Image {entry['image']}", check=f"docker image inspect {entry['image']}",
             apply=f"{root}/bin/sovstack-build ensure {entry['image']} {entry['context']}")

for entry in manifest["compose"]:
    ops = changed_by.get(f"compose:{entry['name']}", [])
    if ops:
        server.shell(name=f"Recreate {entry['name']}", _if=any_changed(*ops),
                     commands=[f"{root}/bin/sovstack-compose recreate {entry['dir']}"])
    converge(name=f"Compose {entry['name']}", check=f"{root}/bin/sovstack-compose status {entry['dir']}",
             apply=f"{root}/bin/sovstack-compose ensure {entry['dir']}")

for entry in manifest["steps"]:
    converge(name=f"Step {entry['name']}", check=f"sh {entry['script']} --check", apply=f"sh {entry['script']}")
