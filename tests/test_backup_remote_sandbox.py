"""Backups to a remote repository, for real, from one sandbox server with openldap (it has a backup set).

S3: no object storage is packaged in Debian, so the S3 server is a stand-in: moto's server mode on the
machine running pytest, listening on the sandbox's Docker gateway, with IAM checks on (a wrong secret
is refused as S3 refuses it). restic uses the path-style bucket URL s3:http://host:port/bucket/path
and creates the bucket itself (restic docs, "Minio Server" / "S3-compatible Storage":
https://restic.readthedocs.io/en/stable/030_preparing_a_new_repo.html).
REST: Debian 13 packages restic's REST server (restic-rest-server); it runs on the sandbox itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml

from sovstack.engines import sandbox
from tests.servers import require_docker, sovstack, ssh, write_stack

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
NAME = "test-remote"
BUCKET = "voisins-backups"
LOAD_ENV = "set -a; . /etc/sovstack/backup.env; set +a"
SET = "cd /srv/sovstack && find dumps/openldap data/openldap -type f -print0 | sort -z | xargs -0 -r sha256sum"
REST_PORT = 8000


def gateway(container: str) -> str:
    """The address the sandbox reaches the machine running pytest at (its Docker network's gateway)."""
    found = subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.Gateway}}", container],
                           capture_output=True, text=True, check=True, timeout=900).stdout.strip()
    assert found, f"no gateway address for {container}"
    return found


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto in server mode; after 3 unchecked calls (the IAM user, its policy, its key) every request is
    signed and checked against that key."""
    require_docker()
    state = tmp_path_factory.mktemp("remote")
    sandbox.down(NAME, state_dir=state)  # a leftover of an interrupted run has another run's key
    server = sandbox.up(NAME, state_dir=state)
    host = gateway(server.container)
    port = free_port(host)
    log = (state / "moto.log").open("w")
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        endpoint = f"http://{host}:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and moto.poll() is None, (state / "moto.log").read_text()
                time.sleep(0.3)
        anonymous = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
                     "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **anonymous)
        iam.create_user(UserName="sovstack")
        iam.put_user_policy(UserName="sovstack", PolicyName="backups", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="sovstack")["AccessKey"]
        yield {"server": server, "endpoint": endpoint, "key_id": key["AccessKeyId"],
               "secret": key["SecretAccessKey"], "work": tmp_path_factory.mktemp("stack-remote")}
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        log.close()
        sandbox.down(NAME, state_dir=state)


def configure(work: Path, server, remote: str, remote_env: dict[str, str] | None = None) -> None:
    """The stack (openldap alone) with backup.remote, its credentials in secrets.yml, deployed."""
    path = write_stack(work, server, {"openldap": {"server": "main"}})
    stack = yaml.safe_load(path.read_text())
    stack["backup"] = {"remote": remote}
    path.write_text(yaml.safe_dump(stack))
    secrets_path = work / "secrets.yml"
    secrets = yaml.safe_load(secrets_path.read_text()) if secrets_path.exists() else {}
    secrets.setdefault("backup", {})["remote_env"] = remote_env or {}
    secrets_path.write_text(yaml.safe_dump(secrets))
    secrets_path.chmod(0o600)
    sovstack("deploy", "--engine", "pyinfra", cwd=work)


def local_snapshots(server) -> int:
    return len(json.loads(ssh(server, f"{LOAD_ENV}; restic snapshots --json").stdout))


def status(server) -> dict[str, str]:
    text = ssh(server, "cat /srv/sovstack/backup-status").stdout
    return dict(line.split("=", 1) for line in text.splitlines())


@pytest.fixture(scope="module")
def s3_remote(s3):
    remote = f"s3:{s3['endpoint']}/{BUCKET}/main"
    configure(s3["work"], s3["server"], remote, {"AWS_ACCESS_KEY_ID": s3["key_id"],
                                                 "AWS_SECRET_ACCESS_KEY": s3["secret"]})
    return remote


def test_backups_go_to_an_s3_remote_and_read_back_identical_s3_standin_moto(s3, s3_remote):
    server = s3["server"]
    out = sovstack("backup", cwd=s3["work"]).stdout
    assert f"and {s3_remote}" in out, out
    assert status(server)["remote"] == "ok"
    snapshots = json.loads(ssh(server, f"{LOAD_ENV}; restic -r \"$SOVSTACK_BACKUP_REMOTE\" snapshots --json").stdout)
    assert [(s["hostname"], s["tags"]) for s in snapshots] == [("main", ["sovstack"])]
    # The objects really are in the bucket, under the repository's path.
    bucket = boto3.client("s3", endpoint_url=s3["endpoint"], region_name="us-east-1",
                          aws_access_key_id=s3["key_id"], aws_secret_access_key=s3["secret"])
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET, Prefix="main/")["Contents"]]
    assert "main/config" in keys and any(k.startswith("main/snapshots/") for k in keys)
    # Read back from the remote alone: the restored files are those on the server.
    ssh(server, f"rm -rf /tmp/from-s3 && {LOAD_ENV}; restic -r \"$SOVSTACK_BACKUP_REMOTE\" restore latest "
                "--target /tmp/from-s3")
    restored = ssh(server, SET.replace("cd /srv/sovstack", "cd /tmp/from-s3/srv/sovstack")).stdout
    assert "dumps/openldap/" in restored
    assert restored == ssh(server, SET).stdout


def test_a_wrong_s3_secret_names_the_remote_and_the_fix_and_the_local_snapshot_is_kept(s3, s3_remote):
    server, wrong = s3["server"], "wrong-secret-" + "x" * 27
    configure(s3["work"], server, s3_remote, {"AWS_ACCESS_KEY_ID": s3["key_id"], "AWS_SECRET_ACCESS_KEY": wrong})
    before = local_snapshots(server)
    started = time.monotonic()
    result = sovstack("backup", cwd=s3["work"], check=False)
    assert time.monotonic() - started < 120, "a refused key must not wait for restic's 15 minutes of retries"
    assert result.returncode == 2, result.stdout + result.stderr
    error = result.stderr
    print(error)  # what the admin reads (pytest -rP shows it)
    assert f"the remote repository {s3_remote} failed" in error and "refused the credentials" in error, error
    assert "saved in /srv/sovstack/backups" in error
    assert "backup.remote_env" in error and "AWS_SECRET_ACCESS_KEY" in error and "sovstack deploy" in error
    assert wrong not in result.stdout + error and s3["secret"] not in result.stdout + error
    assert local_snapshots(server) == before + 1
    assert status(server)["remote"] == "failed"


def test_backups_go_to_a_rest_server_from_debian(s3):
    """restic-rest-server (Debian 13) on the sandbox's loopback stands for the off-site host."""
    server = s3["server"]
    ssh(server, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends restic-rest-server "
                ">/dev/null && install -d -o restic-rest-server -g restic-rest-server /srv/rest-offsite && "
                f"printf 'LISTEN=127.0.0.1:{REST_PORT}\\nBACKUP_DIR=/srv/rest-offsite\\nARGS=--no-auth\\n' "
                "> /etc/default/restic-rest-server && systemctl restart restic-rest-server")
    ssh(server, f"for i in $(seq 50); do ss -Htln 'sport = :{REST_PORT}' | grep -q . && exit 0; sleep 0.2; done; "
                "systemctl status restic-rest-server --no-pager; exit 1")
    remote = f"rest:http://127.0.0.1:{REST_PORT}/main"
    configure(s3["work"], server, remote)
    out = sovstack("backup", cwd=s3["work"]).stdout
    assert f"and {remote}" in out, out
    assert status(server)["remote"] == "ok"
    snapshots = json.loads(ssh(server, f"{LOAD_ENV}; restic -r {remote} snapshots --json").stdout)
    assert [s["hostname"] for s in snapshots] == ["main"]
    assert ssh(server, "test -f /srv/rest-offsite/main/config", check=False).returncode == 0
