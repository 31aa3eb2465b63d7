"""Matrix for real: Synapse from PyPI (pinned by hashes) and PostgreSQL from Debian, both built on a
sandbox server by sovstack, with members from the directory (Debian's OpenLDAP).

A real Matrix client (matrix-nio) connects from this machine to https://matrix.voisins.test through Caddy,
checking TLS against the server's Caddy CA: members log in with their directory passwords, sign-up is
closed, a disabled member is refused, two members talk in a room, and a backup brings the room back after
its database is wiped. Nothing here is a stand-in: the server builds both images from debian:trixie-slim
(loaded from this machine, as the sandbox cannot pull) with Debian's mirror and PyPI.
"""

from __future__ import annotations

import shlex
import uuid

import pytest

from sovstack.engines import sandbox
from tests.matrix import Homeserver
from tests.servers import Deployed, changes, deployed_stack, sovstack, ssh, trust_test_host_ca, write_stack

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
NAME = "matrix.voisins.test"
TOOLS = {"openldap": {"server": "main"}, "matrix-synapse": {"server": "main"}}
PASSWORDS = {name: f"{name}-Matrix-0123456789" for name in ("ada", "ben", "cleo", "dan")}
COMPOSE = "docker compose -f /srv/sovstack/apps/matrix-synapse/compose.yml"


def install_docker_with_the_base_image(server: sandbox.Sandbox, work) -> None:
    """The directory first: its deploy installs Docker, which then receives the base image the builds start
    from (a real server pulls it from Docker Hub; the sandbox cannot)."""
    trust_test_host_ca(server)
    write_stack(work, server, {"openldap": TOOLS["openldap"]})
    sovstack("deploy", "--engine", "pyinfra", cwd=work)
    sandbox.load_images(server, ["debian:trixie-slim"])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Deployed:
    with deployed_stack(tmp_path_factory, "test-matrix", TOOLS, PASSWORDS,
                        prepare=install_docker_with_the_base_image) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def homeserver(deployed) -> Homeserver:
    return Homeserver(NAME, deployed.server.address, deployed.tls())


def member(name: str) -> tuple[str, str]:
    return name, PASSWORDS[name]


@pytest.mark.proves("matrix-synapse", "deploy", "health")
def test_synapse_and_postgresql_are_built_from_pypi_and_debian_and_a_second_deploy_changes_nothing(deployed):
    assert f"matrix-synapse https://{NAME}: ok" in deployed.runs["fresh"].stdout, deployed.runs["fresh"].stdout[-3000:]
    assert changes(deployed.runs["again"].stdout) == 0, deployed.runs["again"].stdout[-3000:]
    versions = ssh(deployed.server, f"{COMPOSE} exec -T synapse python -c "
                                    "'import synapse, ldap_auth_provider; print(synapse.__version__)' && "
                                    f"{COMPOSE} exec -T postgres postgres --version && "
                                    f"{COMPOSE} exec -T postgres psql -U synapse -tAc "
                                    "\"SELECT datcollate FROM pg_database WHERE datname = 'synapse'\"").stdout.split()
    assert versions[0] == "1.163.2", versions
    assert "17." in " ".join(versions) and versions[-1] == "C", versions
    # Synapse runs as its own user (uid 991), not root: the entrypoint drops to it before exec.
    assert ssh(deployed.server, f"{COMPOSE} exec -T synapse stat -c %u /proc/1").stdout.strip() == "991"


@pytest.mark.parametrize("name,password,accepted", [
    ("ada", None, True),
    ("ada", "ada-Wrong-0123456789", False),
    ("ada", "", False),
    ("nobody", "nobody-Pass-0123456789", False),  # not in the directory: Synapse has no account of its own for it
])
@pytest.mark.proves(("matrix-synapse", "openldap"), "login")
def test_a_member_logs_in_to_matrix_with_the_directory_password_only(homeserver, name, password, accepted):
    assert homeserver.login_ok(name, PASSWORDS[name] if password is None else password) is accepted


@pytest.mark.proves("matrix-synapse", "login")
def test_nobody_can_sign_up_on_the_homeserver(homeserver):
    status, answer = homeserver.register("eve", "eve-Matrix-0123456789")
    assert (status, answer.get("errcode")) == (403, "M_FORBIDDEN"), answer
    assert not homeserver.login_ok("eve", "eve-Matrix-0123456789")


@pytest.mark.proves("matrix-synapse", "disabled-refused")
def test_a_disabled_member_is_refused_by_matrix_until_enabled(deployed, homeserver):
    assert homeserver.login_ok(*member("cleo"))  # the probe can succeed, so the refusal below means something
    sovstack("members", "disable", "cleo", cwd=deployed.work)
    try:
        assert not homeserver.login_ok(*member("cleo"))
    finally:
        sovstack("members", "enable", "cleo", cwd=deployed.work)
    assert homeserver.login_ok(*member("cleo"))


@pytest.fixture(scope="module")
def said(homeserver) -> str:
    text = f"meeting moved to Thursday ({uuid.uuid4().hex[:8]})"
    assert homeserver.talk(member("ben"), member("dan"), text) == [text]
    return text


@pytest.mark.proves("matrix-synapse", "chat")
def test_two_members_talk_in_a_room(said):
    assert said.startswith("meeting moved")


@pytest.mark.proves("matrix-synapse", "backup", "restore")
def test_a_backup_brings_the_room_back_after_the_database_is_wiped(deployed, homeserver, said):
    assert "backup: main: snapshot " in sovstack("backup", cwd=deployed.work).stdout
    psql = f"{COMPOSE} exec -T postgres psql -U synapse -d synapse -v ON_ERROR_STOP=1 -tAc"
    ssh(deployed.server, f"{COMPOSE} stop synapse && {psql} "
                         + shlex.quote("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    assert ssh(deployed.server, f"{psql} " + shlex.quote("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
               ).stdout.strip() == "0"

    result = sovstack("restore", "--tool", "matrix-synapse", cwd=deployed.work)
    assert "FAILING" not in result.stdout, result.stdout
    assert said in homeserver.read(member("dan"))
