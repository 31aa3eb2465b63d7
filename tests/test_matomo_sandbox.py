"""Matomo for real: Debian 13's matomo package under PHP-FPM, with Debian's MariaDB, served by Caddy on a
sandbox server and installed by sovstack without a browser, on the session's server of Debian tools (the
`debian_apps` fixture, which Radicale's tests share).

This machine talks to https://matomo.voisins.test and the members' portal through the server's Caddy,
checking TLS against its CA: the super user logs in with the password from secrets.yml, sovstack's API
token works (by POST only), the portal carries Matomo's tracking code under its CSP, a visit counted by
matomo.php shows in the reports once the archiving timer's service has run, and a backup brings the data
back after the database is wiped. Nothing here is a stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
import uuid
from http.cookies import SimpleCookie

import pytest
import urllib3
import yaml

from tests.servers import changes, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
MATOMO = "matomo.voisins.test"
PORTAL = "apps.voisins.test"
MYSQL = "mariadb matomo -N -e"


class Matomo:
    """The session's server (tests.servers.Deployed) as Matomo's tests reach it."""

    def __init__(self, deployed):
        self.server, self.work, self.runs, self.tls = deployed.server, deployed.work, deployed.runs, deployed.tls()
        self.secrets = yaml.safe_load((self.work / "secrets.yml").read_text())["tools"]["matomo"]

    def https(self, name: str, method: str, path: str, fields: dict | None = None,
              cookies: dict | None = None) -> urllib3.BaseHTTPResponse:
        """One request to `name` on the sandbox, as a browser with public DNS would send it."""
        pool = urllib3.HTTPSConnectionPool(self.server.address, 443, ssl_context=self.tls, server_hostname=name,
                                           assert_hostname=name, timeout=urllib3.Timeout(total=120), retries=False)
        headers = {"Host": name}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields)
        return pool.request(method, path, body=body, headers=headers, redirect=False)

    def api_answer(self, method: str, token: str | None = None, **params) -> urllib3.BaseHTTPResponse:
        """Matomo's HTTP API by POST, with sovstack's token from secrets.yml unless another is given."""
        fields = {"module": "API", "method": method, "format": "json",
                  "token_auth": self.secrets["api_token_hex32"] if token is None else token, **params}
        return self.https(MATOMO, "POST", "/index.php", fields)

    def api(self, method: str, **params) -> object:
        answer = self.api_answer(method, **params)
        assert answer.status == 200, answer.data[:500]
        return json.loads(answer.data)


@pytest.fixture(scope="module")
def deployed(debian_apps) -> Matomo:
    """The session's server with OpenLDAP, Radicale and Matomo (tests/conftest.py), shared with Radicale's tests."""
    return Matomo(debian_apps)


@pytest.mark.proves("matomo", "deploy", "health")
def test_matomo_and_mariadb_come_from_debian_and_a_second_deploy_changes_nothing(deployed):
    assert f"matomo https://{MATOMO}: ok" in deployed.runs["fresh"].stdout, deployed.runs["fresh"].stdout[-3000:]
    assert changes(deployed.runs["again"].stdout) == 0, deployed.runs["again"].stdout[-3000:]
    versions = ssh(deployed.server, "dpkg-query -W -f '${Package} ${Version}\\n' matomo mariadb-server").stdout
    assert re.search(r"^matomo 5\.3\.1\+dfsg", versions, re.M) and re.search(r"^mariadb-server 1:11\.8", versions, re.M), versions
    # No Apache came with the package: PHP-FPM satisfies its web server dependency, and Caddy keeps port 80.
    # (dpkg may know the name without having installed it, state "un" beside Radicale: only "installed" counts.)
    apache = ssh(deployed.server, "dpkg-query -W -f '${db:Status-Status}' apache2", check=False).stdout
    assert apache in ("", "not-installed"), apache
    # The installer writes the database password into config.ini.php: only Matomo's user may read it.
    assert ssh(deployed.server, "stat -c %U:%a /usr/share/matomo/config/config.ini.php").stdout.strip() == "www-data:640"


@pytest.mark.parametrize("password,accepted", [(None, True), ("wrong-Password-0123456789", False), ("", False)])
# The super user is Matomo's own account (no directory login: LoginLdap is a Marketplace plugin), made by
# the install: part of the deploy, not a member's login.
@pytest.mark.proves("matomo", "deploy")
def test_the_super_user_logs_in_with_the_password_from_secrets_yml_only(deployed, password, accepted):
    form = deployed.https(MATOMO, "GET", "/index.php?module=Login")
    assert form.status == 200, form.data[:300]
    nonce = re.search(rb'name="form_nonce"[^>]*value="([0-9a-f]+)"', form.data)
    assert nonce, form.data[:2000]
    cookies = {k: v.value for k, v in SimpleCookie(", ".join(form.headers.getlist("Set-Cookie"))).items()}
    answer = deployed.https(MATOMO, "POST", "/index.php?module=Login", {
        "form_login": "admin", "form_password": deployed.secrets["admin_password"] if password is None else password,
        "form_nonce": nonce.group(1).decode(), "form_rememberme": "0"}, cookies)
    # Matomo sends a logged-in user on (302 to the dashboard); a refused one sees the form again.
    assert (answer.status == 302) is accepted, (answer.status, answer.data[:500])


@pytest.mark.proves("matomo", "deploy")
def test_sovstacks_api_token_works_by_post_and_a_wrong_or_url_token_is_refused(deployed):
    assert deployed.api("SitesManager.getSitesIdWithAdminAccess") == [1]
    assert deployed.api_answer("SitesManager.getSitesIdWithAdminAccess", token="0" * 32).status == 401
    # secure_only: the token in a URL (logs, browser history) is refused.
    query = urllib.parse.urlencode({"module": "API", "method": "SitesManager.getSitesIdWithAdminAccess",
                                    "format": "json", "token_auth": deployed.secrets["api_token_hex32"]})
    in_url = deployed.https(MATOMO, "GET", f"/index.php?{query}")
    assert in_url.status == 401, (in_url.status, in_url.data[:300])


@pytest.mark.proves("matomo", "deploy")
def test_the_portal_is_site_1_and_carries_the_tracking_code_under_its_csp(deployed):
    site = deployed.api("SitesManager.getSiteFromId", idSite="1")
    assert site["main_url"] == f"https://{PORTAL}", site
    portal = deployed.https(PORTAL, "GET", "/")
    assert portal.status == 200
    html = portal.data.decode()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    tracker = [s for s in scripts if "setTrackerUrl" in s]
    assert len(tracker) == 1 and f"https://{MATOMO}/" in tracker[0] and "'setSiteId', \"1\"" in tracker[0], scripts
    digest = base64.b64encode(hashlib.sha256(tracker[0].encode()).digest()).decode()
    csp = portal.headers["Content-Security-Policy"]
    assert f"'sha256-{digest}'" in csp and f"https://{MATOMO}" in csp, csp
    assert deployed.https(MATOMO, "GET", "/matomo.js").status == 200


@pytest.fixture(scope="module")
def counted_visit(deployed) -> str:
    """A page view sent to matomo.php as the tracking code sends it, then archived by the timer's service."""
    page = f"https://{PORTAL}/?visit={uuid.uuid4().hex[:8]}"
    hit = deployed.https(MATOMO, "POST", "/matomo.php", {"idsite": "1", "rec": "1", "url": page,
                                                         "action_name": "portal", "_id": uuid.uuid4().hex[:16]})
    assert hit.status in (200, 204), hit.data[:300]
    ssh(deployed.server, "systemctl start sovstack-matomo-archive.service")
    return page


def visits(deployed) -> int:
    summary = deployed.api("VisitsSummary.get", idSite="1", period="day", date="today")
    assert isinstance(summary, dict) and "nb_visits" in summary, summary
    return int(summary["nb_visits"])


@pytest.mark.proves("matomo", "reports")
def test_a_visit_shows_in_the_reports_after_the_archiving_timer_runs(deployed, counted_visit):
    assert ssh(deployed.server, "systemctl is-enabled sovstack-matomo-archive.timer").stdout.strip() == "enabled"
    result = ssh(deployed.server, "systemctl show -p Result --value sovstack-matomo-archive.service").stdout.strip()
    assert result == "success"
    assert visits(deployed) == 1


@pytest.mark.proves("matomo", "backup", "restore")
def test_a_backup_brings_the_visits_back_after_the_database_is_wiped(deployed, counted_visit):
    assert "backup: main: snapshot " in sovstack("backup", cwd=deployed.work).stdout
    ssh(deployed.server, "mariadb -e 'DROP DATABASE matomo; CREATE DATABASE matomo'")
    assert ssh(deployed.server, f"{MYSQL} 'SHOW TABLES'").stdout.strip() == ""

    result = sovstack("restore", "--tool", "matomo", cwd=deployed.work)
    assert "FAILING" not in result.stdout, result.stdout
    assert visits(deployed) == 1
    assert deployed.api("SitesManager.getSitesIdWithAdminAccess") == [1]
