"""DokuWiki for real: Debian 13's dokuwiki package under PHP-FPM behind Caddy on a sandbox server, with
members from the directory (Debian's OpenLDAP) through DokuWiki's bundled authldap plugin.

This machine talks to https://wiki.voisins.test through the server's Caddy, checking TLS against its
CA, as a browser would: the login form, the edit form and the raw export. Nothing here is a stand-in.
"""

from __future__ import annotations

import html
import re

import pytest

from tests import servers
from tests.servers import DEBIAN_APPS_MEMBERS, Deployed, changes, sovstack, ssh

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
WIKI = "wiki.voisins.test"
PASSWORDS = DEBIAN_APPS_MEMBERS
PAGE = "bureau:reunions"
TEXT = "====== Réunions du bureau ======\n\nLe premier jeudi du mois, à la maison de quartier.\n"


class Browser(servers.Browser):
    """A browser for wiki.voisins.test, with DokuWiki's forms."""

    def __init__(self, deployed: Deployed):
        super().__init__(deployed, WIKI)

    def form(self, path: str, form_id: str) -> dict[str, str]:
        """The hidden fields of a form on a page (DokuWiki's security token among them)."""
        page = self.request("GET", path).data.decode()
        found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
        assert found, f"no form {form_id} on {path}: {page[:500]}"
        return {html.unescape(n): html.unescape(v) for n, v in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0))}

    def log_in(self, username: str, password: str) -> bool:
        fields = self.form("/doku.php?id=start&do=login", "dw__login")
        self.request("POST", "/doku.php", {**fields, "u": username, "p": password})
        return "do=logout" in self.request("GET", "/doku.php?id=start").data.decode()

    def save(self, page: str, text: str) -> None:
        fields = self.form(f"/doku.php?id={page}&do=edit", "dw__editform")
        answer = self.request("POST", "/doku.php", {**fields, "wikitext": text, "summary": "sovstack test",
                                                    "do[save]": "1"})
        assert answer.status in (200, 302, 303), answer.status

    def raw(self, page: str) -> tuple[int, str]:
        answer = self.request("GET", f"/doku.php?id={page}&do=export_raw")
        return answer.status, answer.data.decode()


@pytest.fixture(scope="module")
def deployed(debian_apps):
    """The session's server with Debian's OpenLDAP and DokuWiki among its tools (tests/conftest.py)."""
    return debian_apps


@pytest.mark.proves("dokuwiki", "deploy", "health")
def test_dokuwiki_comes_from_debian_without_apache_and_a_second_deploy_changes_nothing(deployed):
    assert f"dokuwiki https://{WIKI}: ok" in deployed.runs["fresh"].stdout, deployed.runs["fresh"].stdout[-3000:]
    assert changes(deployed.runs["again"].stdout) == 0, deployed.runs["again"].stdout[-3000:]
    version = ssh(deployed.server, "dpkg-query -W -f '${Version}' dokuwiki").stdout
    assert version.startswith("2024-02-06b"), version
    # Debian's dokuwiki asks debconf which web server to configure, which makes apache2 known to dpkg
    # ("un", not installed): the state is what counts, and no Apache binary is there.
    state = ssh(deployed.server, "dpkg-query -W -f '${db:Status-Abbrev}' apache2 2>/dev/null; "
                                 "test -e /usr/sbin/apache2 && echo binary", check=False).stdout
    assert not state.startswith("ii") and "binary" not in state, state
    # The service account's password is readable by PHP (www-data) and root only.
    mode = ssh(deployed.server, "stat -c %U:%G:%a /etc/dokuwiki/local.protected.php").stdout.strip()
    assert mode == "root:www-data:640", mode


@pytest.mark.parametrize("path", ["/inc/init.php", "/vendor/autoload.php", "/bin/indexer.php", "/conf/local.php",
                                  "/install.php", "/lib/plugins/authldap/auth.php"])
@pytest.mark.proves("dokuwiki", "deploy")
def test_only_the_wikis_entry_points_are_served(deployed, path):
    assert Browser(deployed).request("GET", path).status in (403, 404)


@pytest.mark.parametrize("username,password,accepted", [
    ("ada", None, True),
    ("ada", "ada-Wrong-0123456789", False),
    ("ada", "", False),
    ("nobody", "nobody-Pass-0123456789", False),
])
@pytest.mark.proves(("dokuwiki", "openldap"), "login")
def test_a_member_logs_in_to_the_wiki_with_the_directory_password_only(deployed, username, password, accepted):
    given = PASSWORDS.get(username, "") if password is None else password
    assert Browser(deployed).log_in(username, given) is accepted


@pytest.mark.proves("dokuwiki", "disabled-refused")
def test_a_disabled_member_is_refused_by_the_wiki_until_enabled(deployed):
    assert Browser(deployed).log_in("cleo", PASSWORDS["cleo"])  # the probe can succeed
    sovstack("members", "disable", "cleo", cwd=deployed.work)
    try:
        assert not Browser(deployed).log_in("cleo", PASSWORDS["cleo"])
    finally:
        sovstack("members", "enable", "cleo", cwd=deployed.work)
    assert Browser(deployed).log_in("cleo", PASSWORDS["cleo"])


@pytest.fixture(scope="module")
def page(deployed) -> str:
    """Ada writes a page through the edit form, as in a browser."""
    browser = Browser(deployed)
    assert browser.log_in("ada", PASSWORDS["ada"])
    browser.save(PAGE, TEXT)
    return PAGE


@pytest.mark.proves("dokuwiki", "login")
def test_members_read_and_write_pages_that_nobody_else_reads(deployed, page):
    cleo = Browser(deployed)
    assert cleo.log_in("cleo", PASSWORDS["cleo"])
    status, text = cleo.raw(page)
    assert status == 200 and text.strip() == TEXT.strip(), (status, text[:300])
    stranger_status, stranger_text = Browser(deployed).raw(page)
    assert "premier jeudi" not in stranger_text, stranger_status


@pytest.mark.proves("dokuwiki", "backup", "restore")
def test_a_backup_brings_the_page_back_after_the_wikis_data_is_wiped(deployed, page):
    files = f"/var/lib/dokuwiki/data/pages/{page.replace(':', '/')}.txt"
    assert "premier jeudi" in ssh(deployed.server, f"cat {files}").stdout
    assert "backup: main: snapshot " in sovstack("backup", cwd=deployed.work).stdout
    ssh(deployed.server, "rm -rf /var/lib/dokuwiki/data/pages/bureau /var/lib/dokuwiki/data/attic/bureau "
                         "/var/lib/dokuwiki/data/meta/bureau")
    ada = Browser(deployed)
    assert ada.log_in("ada", PASSWORDS["ada"])
    assert "premier jeudi" not in ada.raw(page)[1]

    result = sovstack("restore", "--tool", "dokuwiki", cwd=deployed.work)
    assert "FAILING" not in result.stdout, result.stdout
    status, text = ada.raw(page)
    assert status == 200 and text.strip() == TEXT.strip(), (status, text[:300])
    owner = ssh(deployed.server, f"stat -c %U {files}").stdout.strip()
    assert owner == "www-data", owner  # DokuWiki can still write the page after the restore
