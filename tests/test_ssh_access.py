"""A server's SSH fields, spelled once (stackfile.SshAccess), as each client takes them: the ssh
command line, the Ansible inventory and the pyinfra inventory. The expected values are literal."""

from pathlib import Path

import pytest

from sovstack.engines.remote import Target
from sovstack.render.files import inventory_data, write_inventory
from sovstack.stack.stackfile import Server, Stack

HOME = str(Path("~").expanduser())
UNCHECKED = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]

CASES = [
    # (id, server fields, ssh command line, Ansible host beyond the bundle path, pyinfra host beyond it)
    ("defaults", {"address": "203.0.113.10"},
     ["ssh", "-p", "22", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@203.0.113.10"],
     {"ansible_host": "203.0.113.10", "ansible_port": 22, "ansible_user": "root"},
     {"ssh_hostname": "203.0.113.10", "ssh_port": 22, "ssh_user": "root", "_sudo": False}),
    ("key, port, user, unchecked host key",
     {"address": "h.example.org", "ssh_port": 2222, "ssh_user": "admin", "ssh_key": "~/.ssh/asso", "check_host_key": False},
     ["ssh", "-p", "2222", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
      "-i", f"{HOME}/.ssh/asso", "-o", "IdentitiesOnly=yes", *UNCHECKED, "admin@h.example.org"],
     {"ansible_host": "h.example.org", "ansible_port": 2222, "ansible_user": "admin",
      "ansible_ssh_private_key_file": f"{HOME}/.ssh/asso",
      "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"},
     {"ssh_hostname": "h.example.org", "ssh_port": 2222, "ssh_user": "admin", "_sudo": True,
      "ssh_key": f"{HOME}/.ssh/asso", "ssh_strict_host_key_checking": "no", "ssh_known_hosts_file": "/dev/null"}),
]


@pytest.mark.parametrize("name,fields,command,ansible,pyinfra", CASES, ids=[c[0] for c in CASES])
def test_every_client_reaches_the_server_the_same_way(tmp_path, name, fields, command, ansible, pyinfra):
    server = Server(**fields)
    assert Target("main", server).ssh_command() == command
    stack = Stack.model_construct(servers={"main": server})
    bundle = str((tmp_path / "main").resolve())
    host = inventory_data(stack, tmp_path)["all"]["hosts"]["main"]
    assert host == {**ansible, "sovstack_bundle": bundle}
    assert list(host)[:4] == [*list(ansible)[:3], "sovstack_bundle"]  # the rendered file keeps its order
    write_inventory(stack, tmp_path)
    namespace: dict = {}
    exec((tmp_path / "inventory.py").read_text(), namespace)
    assert namespace["servers"] == [("main", {**pyinfra, "sovstack_bundle": bundle})]
