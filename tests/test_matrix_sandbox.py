"""Matrix for real: Synapse from PyPI (pinned by hashes) and PostgreSQL from Debian, both built on a
sandbox server by sovstack, with members from the directory (Debian's OpenLDAP), then (the last test)
signed in through LemonLDAP::NG's portal over OpenID Connect, in Chromium.

A real Matrix client (matrix-nio) connects from this machine to https://matrix.voisins.test through Caddy,
checking TLS against the server's Caddy CA: members log in with their directory passwords, sign-up is
closed, a disabled member is refused, two members talk in a room, and a backup brings the room back after
its database is wiped. Nothing here is a stand-in: the server builds both images from debian:trixie-slim
(loaded from this machine, as the sandbox cannot pull) with Debian's mirror and PyPI.
"""

from __future__ import annotations

import re
import shlex
import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import yaml

from sovstack.engines import sandbox
from tests.browser import chromium_browser
from tests.matrix import Homeserver
from tests.servers import Deployed, changes, deployed_stack, sovstack, ssh, trust_test_host_ca, write_stack

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
NAME = "matrix.voisins.test"
TOOLS = {"openldap": {"server": "main"}, "lemonldap-ng": {"server": "main"}, "matrix-synapse": {"server": "main"}}
AUTH = "auth.voisins.test"
PASSWORDS = {name: f"{name}-Matrix-0123456789" for name in ("ada", "ben", "cleo", "dan")}
COMPOSE = "docker compose -f /srv/sovstack/apps/matrix-synapse/compose.yml"


def install_docker_with_the_base_image(server: sandbox.Sandbox, work) -> None:
    """The directory first: its deploy installs Docker, which then receives the base image the builds start
    from (a real server pulls it from Docker Hub; the sandbox cannot)."""
    trust_test_host_ca(server)
    write_stack(work, server, {"openldap": TOOLS["openldap"]})
    sovstack("deploy", "--engine", "pyinfra", cwd=work)
    sandbox.load_images(server, [sandbox.ensure_slim_image()])  # made here if no earlier module made it


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


SIGNED_IN = "https://app.voisins.test/signed-in"  # where a Matrix client would get the login token


def sso_login_token(deployed, user: str, password: str) -> str | None:
    """In Chromium, as Element's "Sign in with LemonLDAP::NG" does: Synapse's SSO redirect, the portal's
    own form, back to Synapse, which hands the client a login token. None when no token came back (the
    portal kept the member out)."""
    address = deployed.server.address
    tokens: list[str] = []

    def client_page(route):
        tokens.extend(parse_qs(urlsplit(route.request.url).query).get("loginToken", []))
        route.fulfill(status=200, body="signed in")

    with chromium_browser(f"--host-resolver-rules=MAP {NAME} {address}, MAP {AUTH} {address}") as browser:
        # Caddy's local CA is not in Chromium's store; TLS itself is checked by the clients of the other tests.
        page = browser.new_context(ignore_https_errors=True).new_page()
        page.route(SIGNED_IN + "*", client_page)
        page.goto(f"https://{NAME}/_matrix/client/v3/login/sso/redirect/oidc-lemonldap-ng?"
                  f"redirectUrl={quote(SIGNED_IN, safe='')}", timeout=90_000)
        # The portal, not a Synapse page (an error there is shown in full).
        assert page.url.startswith(f"https://{AUTH}/"), (page.url, page.content()[:3000])
        page.locator('input[name="user"]').fill(user, timeout=60_000)
        page.locator('input[name="password"]').fill(password)
        page.locator('input[name="password"]').press("Enter")
        page.wait_for_load_state("networkidle", timeout=90_000)
        if page.url.startswith(f"https://{NAME}/"):
            # Synapse asks before handing a login to another site (its sso_redirect_confirm page).
            page.get_by_role("link", name=re.compile("continue", re.I)).first.click(timeout=60_000)
            page.wait_for_load_state("networkidle", timeout=60_000)
        return tokens[0] if tokens else None


@pytest.mark.proves(("matrix-synapse", "lemonldap-ng"), "login")
@pytest.mark.proves("lemonldap-ng", "disabled-refused")
def test_in_chromium_a_member_signs_in_at_lemonldap_ng_and_reaches_matrix_over_openid_connect(deployed, homeserver):
    """Last in the module: Synapse switches to OpenID Connect (the stack file's login: oidc), so the
    directory-password tests above run first."""
    stack_file = deployed.work / "sovstack.yml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["tools"]["matrix-synapse"]["login"] = "oidc"
    stack_file.write_text(yaml.safe_dump(stack))
    switched = sovstack("deploy", "--engine", "pyinfra", cwd=deployed.work, check=False)
    if switched.returncode != 0:
        logs = ssh(deployed.server, "docker logs --tail 60 matrix-synapse-synapse-1 2>&1", check=False).stdout
        pytest.fail(f"the deploy with login: oidc failed:\n{switched.stdout[-2500:]}\nSynapse's log:\n{logs}")

    token = sso_login_token(deployed, "ada", PASSWORDS["ada"])
    assert token, "no login token came back from Synapse"
    assert homeserver.token_login(token) == f"@ada:{NAME}"
    assert homeserver.token_login(token) is None  # a login token is single-use
    # A disabled member is kept out at the portal, so Synapse never hands out a token.
    sovstack("members", "disable", "ben", cwd=deployed.work)
    try:
        assert sso_login_token(deployed, "ben", PASSWORDS["ben"]) is None
    finally:
        sovstack("members", "enable", "ben", cwd=deployed.work)
    assert homeserver.token_login(sso_login_token(deployed, "ben", PASSWORDS["ben"]) or "") == f"@ben:{NAME}"
