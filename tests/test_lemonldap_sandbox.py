"""LemonLDAP::NG for real: Debian 13's packages on a sandbox server, the portal served by Caddy over
FastCGI at auth.voisins.test, members from the directory (Debian's OpenLDAP on the same server).

A real HTTP client (requests) fills in the portal's own login form from this machine, checking TLS
against the server's Caddy CA: a member logs in with the directory password, a wrong password, a
disabled member and Debian's Demo accounts (dwho/dwho) are refused, and the OpenID Connect provider
publishes its discovery document and signing key. Nothing here is a stand-in.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import socket
import subprocess
import urllib.parse
from unittest import mock

import pytest
import requests
import yaml

from tests.servers import Deployed, changes, deployed_stack, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker, pytest.mark.timeout(1200)]
NAME = "auth.voisins.test"
TOOLS = {"openldap": {"server": "main"}, "lemonldap-ng": {"server": "main"}}
PASSWORDS = {name: f"{name}-Portal-0123456789" for name in ("alice", "bob")}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Deployed:
    with deployed_stack(tmp_path_factory, "test-lemonldap", TOOLS, PASSWORDS) as deployed:
        yield deployed


def portal(deployed) -> requests.Session:
    """A browser-like session that reaches auth.voisins.test at the sandbox, as public DNS would."""
    session = requests.Session()
    # Caddy's CA only, and no proxy: the environment's (REQUESTS_CA_BUNDLE, HTTPS_PROXY) would win otherwise.
    session.trust_env = False
    session.verify = str(deployed.ca)
    return session


def at_sandbox(deployed):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real(deployed.server.address if host == NAME else host, *args, **kwargs)

    return mock.patch("socket.getaddrinfo", resolve)


def signed_in(deployed, user: str, password: str) -> requests.Session | None:
    """Fill in the portal's form like a browser (its hidden fields too); the session when the portal opened
    one (its cookie) and shows the signed-in page rather than the form again, else None."""
    with at_sandbox(deployed):
        session = portal(deployed)
        form = session.get(f"https://{NAME}/", timeout=60)
        assert form.status_code == 200 and 'name="password"' in form.text, form.text[:2000]
        hidden = {m.group(1): html.unescape(m.group(2)) for m in
                  re.finditer(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.text)}
        answer = session.post(f"https://{NAME}/", data={**hidden, "user": user, "password": password}, timeout=60)
        ok = bool(session.cookies.get("lemonldap")) and 'name="password"' not in answer.text
        return session if ok else None


def log_in(deployed, user: str, password: str) -> bool:
    return signed_in(deployed, user, password) is not None


@pytest.mark.proves("lemonldap-ng", "deploy", "health")
def test_the_portal_comes_from_debian_behind_caddy_and_a_second_deploy_changes_nothing(deployed):
    assert f"lemonldap-ng https://{NAME}: ok" in deployed.runs["fresh"].stdout, deployed.runs["fresh"].stdout[-3000:]
    assert changes(deployed.runs["again"].stdout) == 0, deployed.runs["again"].stdout[-3000:]
    installed = ssh(deployed.server, "dpkg-query -W -f '${Status}\\n' nginx apache2 2>/dev/null; "
                                     "dpkg-query -W -f '${Version}' lemonldap-ng", check=False).stdout
    assert installed.startswith("2.21.") or "2.21." in installed, installed  # Debian 13's package
    assert "install ok installed" not in installed  # Caddy speaks FastCGI: no nginx, no Apache
    # Only sovstack's configuration is left: Debian's Demo one is replaced, and no other version remains.
    assert ssh(deployed.server, "ls /var/lib/lemonldap-ng/conf").stdout.split() == ["lmConf-1.json"]
    conf = json.loads(ssh(deployed.server, "cat /var/lib/lemonldap-ng/conf/lmConf-1.json").stdout)
    assert (conf["cfgAuthor"], conf["authentication"], conf["userDB"]) == ("sovstack", "LDAP", "Same")
    assert "demoExportedVars" not in conf and "timelords" not in json.dumps(conf)


@pytest.mark.parametrize("user,password,accepted", [
    ("alice", None, True),
    ("alice", "alice-Wrong-0123456789", False),
    ("nobody", "nobody-Portal-0123456789", False),
    # Debian's Demo accounts log in with their own name as password until the configuration is replaced.
    ("dwho", "dwho", False),
    ("rtyler", "rtyler", False),
])
@pytest.mark.proves(("lemonldap-ng", "openldap"), "login")
def test_a_member_signs_in_at_the_portal_with_the_directory_password_only(deployed, user, password, accepted):
    assert log_in(deployed, user, PASSWORDS.get(user, "") if password is None else password) is accepted


@pytest.mark.proves("lemonldap-ng", "disabled-refused")
def test_a_disabled_member_is_refused_at_the_portal_until_enabled(deployed):
    assert log_in(deployed, "bob", PASSWORDS["bob"])  # the probe can succeed, so the refusal below means something
    sovstack("members", "disable", "bob", cwd=deployed.work)
    try:
        assert not log_in(deployed, "bob", PASSWORDS["bob"])
    finally:
        sovstack("members", "enable", "bob", cwd=deployed.work)
    assert log_in(deployed, "bob", PASSWORDS["bob"])


def test_the_openid_connect_provider_publishes_its_endpoints_and_signing_key(deployed):
    with at_sandbox(deployed):
        session = portal(deployed)
        discovery = session.get(f"https://{NAME}/.well-known/openid-configuration", timeout=60).json()
        assert discovery["issuer"] == f"https://{NAME}/"
        assert discovery["authorization_endpoint"] == f"https://{NAME}/oauth2/authorize"
        assert discovery["token_endpoint"] == f"https://{NAME}/oauth2/token"
        keys = session.get(discovery["jwks_uri"], timeout=60).json()["keys"]
        assert [(k["kty"], k["kid"]) for k in keys] == [("RSA", "sovstack")], keys
        # The portal's internal endpoints stay closed from outside, as in Debian's nginx example.
        assert session.get(f"https://{NAME}/config", timeout=60).status_code == 403


LMCONF = "/etc/sovstack/lemonldap-ng/lmConf.json"
CONFIGURE = "sh /usr/local/lib/sovstack/lemonldap-ng-config.sh"


def put(server, path: str, text: str) -> None:
    """A root-only file on the server, its content on SSH's stdin (it holds secrets)."""
    subprocess.run([*server.ssh_command(), f"umask 077 && cat > {path}"], input=text, text=True, check=True,
                   capture_output=True, timeout=120)


@pytest.fixture
def standin_relying_party(deployed, tmp_path):
    """The portal configured by sovstack as for a stack whose Synapse logs in over OpenID Connect
    (`login: oidc`): the stack file gets matrix-synapse, `sovstack render` writes the portal's configuration
    with Synapse's client and generated secret, and the server loads it with the deploy's own step. Synapse
    itself is not deployed: the test plays it (client id, secret, callback URL). Put back afterwards."""
    work = tmp_path / "with-synapse"
    shutil.copytree(deployed.work, work, ignore=shutil.ignore_patterns("build"))
    stack = yaml.safe_load((work / "sovstack.yml").read_text())
    stack["tools"]["matrix-synapse"] = {"server": "main", "login": "oidc"}
    (work / "sovstack.yml").write_text(yaml.safe_dump(stack))
    sovstack("render", cwd=work)
    wanted = (work / "build/main/files" / LMCONF.lstrip("/")).read_text()
    secret = yaml.safe_load((work / "secrets.yml").read_text())["tools"]["matrix-synapse"]["oidc_client_secret"]
    client = json.loads(wanted)["oidcRPMetaDataOptions"]["matrix-synapse"]
    before = ssh(deployed.server, f"cat {LMCONF}").stdout
    put(deployed.server, LMCONF, wanted)
    ssh(deployed.server, CONFIGURE)
    try:
        yield {"client_id": "matrix-synapse", "secret": secret,
               "redirect_uri": client["oidcRPMetaDataOptionsRedirectUris"].split()[0]}
    finally:
        put(deployed.server, LMCONF, before)
        ssh(deployed.server, CONFIGURE)


def claims(token: str) -> tuple[dict, dict]:
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                       for part in token.split(".")[:2])
    return header, payload


@pytest.mark.proves("lemonldap-ng", "login")
def test_the_portal_signs_a_member_in_to_a_registered_tool_over_openid_connect_with_standin_relying_party(
        deployed, standin_relying_party):
    rp = standin_relying_party
    session = signed_in(deployed, "alice", PASSWORDS["alice"])
    assert session is not None
    with at_sandbox(deployed):
        authorize = session.get(f"https://{NAME}/oauth2/authorize", allow_redirects=False, timeout=60, params={
            "response_type": "code", "client_id": rp["client_id"], "redirect_uri": rp["redirect_uri"],
            "scope": "openid profile email", "state": "s-42", "nonce": "n-42"})
        # Consent is skipped for sovstack's own tools: straight back to the tool's callback with a code.
        assert authorize.status_code in (302, 303), authorize.text[:2000]
        back = urllib.parse.urlsplit(authorize.headers["Location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == rp["redirect_uri"]
        query = urllib.parse.parse_qs(back.query)
        assert query["state"] == ["s-42"]
        code = query["code"][0]

        def exchange(secret: str) -> requests.Response:
            return portal(deployed).post(f"https://{NAME}/oauth2/token", auth=(rp["client_id"], secret), timeout=60,
                                         data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": rp["redirect_uri"]})

        # A wrong client secret gets nothing (and the code is still unused for the real exchange below).
        assert exchange(rp["secret"] + "x").status_code in (400, 401)
        tokens = exchange(rp["secret"])
        assert tokens.status_code == 200, tokens.text
        header, identity = claims(tokens.json()["id_token"])
        assert (header["alg"], header["kid"]) == ("RS256", "sovstack")
        assert identity["iss"] == f"https://{NAME}/" and identity["aud"] in (rp["client_id"], [rp["client_id"]])
        assert identity["nonce"] == "n-42"
        # The member's claims are in the ID token itself, where Synapse reads them (user_profile_method auto
        # with the openid scope): its Matrix ID comes from preferred_username.
        assert (identity["preferred_username"], identity["email"]) == ("alice", "alice@example.org")
        info = portal(deployed).get(f"https://{NAME}/oauth2/userinfo", timeout=60,
                                    headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}).json()
        assert (info["preferred_username"], info["email"], info["name"]) == ("alice", "alice@example.org", "Alice")
        # The code is single-use.
        assert exchange(rp["secret"]).status_code in (400, 401)
