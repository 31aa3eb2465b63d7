"""Mailing lists for real: Debian 13's Mailman 3 (mailman3-full) beside Postfix, Dovecot and Rspamd, with the
members and groups in Debian's OpenLDAP, on a sandbox server of its own. Members post through submission and
read through IMAP from this machine, TLS checked against Caddy's CA; nothing here is a stand-in.

The network: the hub "coordination" (ada), "nord" (ben, dan) and "sud" (cleo). The lists sovstack creates:
"members" (the coalition's announcement list, where the hub posts) and one per group.
"""

from __future__ import annotations

import collections
import email
import hashlib
import email.policy
import email.utils
import html
import json
import re
import shlex
import ssl
import time
from email.message import EmailMessage

import dkim
import pytest
import yaml

from sovstack.migrate.movers import lists
from sovstack.stack.secrets import new_private_key
from sovstack.wiring.dkim import txt_value
from tests import mailbox
from tests import servers
from tests.servers import changed_tasks, changes, deployed_stack, sovstack, ssh
from tests.test_migrate_lists import mailchimp_zip, member

pytestmark = [pytest.mark.sandbox, pytest.mark.docker, pytest.mark.timeout(900)]
DOMAIN = "voisins.test"
LISTS = f"lists.{DOMAIN}"
MAIL_HOST = f"mail.{DOMAIN}"
PASSWORDS = {name: f"{name}-Lists-0123456789" for name in ("ada", "ben", "cleo", "dan")}
GROUPS = [("groups", "add", "coordination", "--name", "Coordination", "--hub", "--coordinator", "ada"),
          ("groups", "add", "nord", "--name", "Groupe Nord"),
          ("groups", "add", "sud", "--name", "Groupe Sud"),
          ("groups", "add", "est", "--name", "Groupe Est")]
ROUNDS = 1000  # before Caddy stopped reusing uWSGI's connections, 1 POST in 150 to 1 in 20 came back 502
JOINED = [("ada", "coordination"), ("ben", "nord"), ("dan", "nord"), ("cleo", "sud"), ("cleo", "est")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tools = {"openldap": {"server": "main"}, "postfix-dovecot": {"server": "main"}, "mailman3": {"server": "main"}}
    with deployed_stack(tmp_path_factory, "test-mailman", tools, commands=GROUPS) as deployed:
        for username, password in PASSWORDS.items():  # mailboxes on the stack: no --email
            sovstack("members", "add", username, "--name", username.title(), "--password-stdin", "--no-welcome",
                     cwd=deployed.work, stdin=password + "\n")
        for username, group in JOINED:
            out = sovstack("members", "join", username, group, cwd=deployed.work).stdout
            assert "GNU Mailman 3: members updated" in out, out
        yield deployed


@pytest.fixture(scope="module")
def tls(stack) -> ssl.SSLContext:
    return stack.tls()


def post(stack, tls, user: str, to: str, subject: str) -> str:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = f"{user.title()} <{user}@{DOMAIN}>", to, subject
    message["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    message.set_content("Réunion mardi à 19 h.\n")
    with mailbox.submission(stack.server.address, tls, MAIL_HOST) as client:
        client.login(user, PASSWORDS[user])
        client.send_message(message)
    return message["Message-ID"]


def received(stack, tls, user: str, subject: str) -> list[bytes]:
    return mailbox.find(stack.server.address, tls, MAIL_HOST, user, PASSWORDS[user], subject)


def wait_for(stack, tls, user: str, subject: str) -> bytes:
    return mailbox.wait_for(stack.server.address, tls, MAIL_HOST, user, PASSWORDS[user], subject)


def rest(stack, path: str, method: str = "GET", missing_ok: bool = False) -> dict | None:
    """Mailman's REST API on the server, with its password read there and given to curl on its standard input
    (printf is the shell's own: no process shows it). With missing_ok, None for a 404."""
    url = shlex.quote(f"http://127.0.0.1:8001/3.1{path}")
    command = ("password=$(sed -n 's/^admin_pass: //p' /etc/mailman3/mailman.cfg) && "
               f"printf 'user = \"restadmin:%s\"\\n' \"$password\" | curl -sS -w '\\n%{{http_code}}' "
               f"-X {method} -K - {url}")
    body, _, status = ssh(stack.server, command).stdout.rpartition("\n")
    if missing_ok and status == "404":
        return None
    assert status.startswith("2"), (path, status, body)
    return json.loads(body) if body.strip() else {}


def subscribers(stack, name: str) -> set[str]:
    return {e["email"] for e in rest(stack, f"/lists/{name}.{LISTS}/roster/member").get("entries", [])}


def dns_records(stack) -> list[dict]:
    return json.loads(sovstack("dns", "--json", cwd=stack.work).stdout)["records"]


def record(records: list[dict], name: str, rtype: str) -> str:
    values = [r["value"] for r in records if r["name"] == name and r["type"] == rtype]
    assert len(values) == 1, (name, rtype, values)
    return values[0]


def dkim_valid(message: bytes, name: str, value: bytes) -> bool:
    def dns(query, timeout=5):
        return value if query.rstrip(b".") == name.encode() else None
    return dkim.verify(message, dnsfunc=dns)


@pytest.mark.proves("mailman3", "deploy")
def test_a_second_deploy_changes_nothing(stack):
    assert changes(stack.runs["again"].stdout) == 0, "\n".join(changed_tasks(stack.runs["again"].stdout))


@pytest.mark.proves("mailman3", "health")
def test_the_web_interface_answers_through_caddy_and_lists_are_not_advertised(stack):
    out = stack.runs["again"].stdout
    assert f"mailman3 https://{LISTS}: ok (local 200, https 200)" in out, out[-2000:]
    page = ssh(stack.server, f"curl -sS --fail --resolve {LISTS}:443:127.0.0.1 --cacert "
                             f"/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt https://{LISTS}/postorius/lists/").stdout
    assert "Mailing Lists" in page or "Listes de diffusion" in page, page[:500]
    assert "nord@" not in page  # members' lists are not shown to strangers


@pytest.mark.proves("mailman3", "health")
def test_form_posts_in_quick_succession_all_reach_the_web_pages(stack):
    # uWSGI closes its connection after each answer; a POST Caddy sent on such a connection came back 502
    # now and then (a member's login refused). Each round is a page and the form posted back at once, as a
    # browser does; the form has no CSRF token, so Django answers 403 without doing anything.
    browser = Browser(stack, timeout=60)
    answers: collections.Counter = collections.Counter()
    for _ in range(ROUNDS):
        answers["GET", browser.request("GET", "/accounts/login/").status] += 1
        answers["POST", browser.request("POST", "/accounts/login/", {"login": "x"}).status] += 1
    assert answers == {("GET", 200): ROUNDS, ("POST", 403): ROUNDS}, answers


# Run on the server, straight to uWSGI, as from one address (X-Forwarded-For, which Caddy sets for every
# request it proxies), so that the test machine's own address stays clear for the other tests. allauth
# allows 30 login forms a minute from one address, counted by each uWSGI worker (Django's default cache is
# per process; there are 2): the forms go on until one is refused. They lack a password, so no login is
# tried or counted as failed.
TOO_OFTEN = """
import json, re, sys, urllib.error, urllib.request
host, languages = sys.argv[1], sys.argv[2:]
def send(method, body=None, language="en", address="192.0.2.44"):
    request = urllib.request.Request("http://127.0.0.1:8312/accounts/login/", data=body, method=method, headers={
        "Host": host, "X-Forwarded-For": address, "Origin": "http://" + host, "Accept-Language": language,
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()
cookie = ""
status, headers, page = send("GET")
cookie = re.search(r"csrftoken=[^;]+", "; ".join(headers.get_all("Set-Cookie"))).group(0)
form = ("csrfmiddlewaretoken=" + re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        + "&login=cleo&password=").encode()
answered, refused, first = [], {}, None
for language in languages:
    for _ in range(61):
        status, headers, page = send("POST", form, language)
        if status != 200:
            title = re.search(r"<h1>(.*?)</h1>", page)
            refused[language] = [status, title.group(1) if title else page[-300:]]
            first = first if refused.keys() - {language} else len(answered)
            break
        answered.append(status)
print(json.dumps({"answered before the first refusal": first,
                  "refused": refused, "another address": send("POST", form, address="192.0.2.45")[0]}))
"""


@pytest.mark.proves("mailman3", "health")
def test_a_login_form_sent_too_often_gets_a_page_that_says_so_not_a_server_error(stack):
    found = json.loads(ssh(stack.server, f"python3 -c {shlex.quote(TOO_OFTEN)} {LISTS} en fr").stdout)
    assert 30 <= found.pop("answered before the first refusal") <= 60, found
    assert found == {"refused": {"en": [429, "Too many attempts"], "fr": [429, "Trop de tentatives"]},
                     "another address": 200}, found


@pytest.mark.proves("mailman3", "group-spaces")
def test_each_list_holds_the_directorys_members_and_the_coalition_list_lets_only_the_hub_post(stack):
    assert subscribers(stack, "nord") == {f"ben@{DOMAIN}", f"dan@{DOMAIN}"}
    assert subscribers(stack, "sud") == {f"cleo@{DOMAIN}"}
    assert subscribers(stack, "est") == {f"cleo@{DOMAIN}"}
    assert subscribers(stack, "coordination") == {f"ada@{DOMAIN}"}
    coalition = rest(stack, f"/lists/members.{LISTS}/roster/member")["entries"]
    assert {e["email"]: e["moderation_action"] for e in coalition} == {
        f"ada@{DOMAIN}": "accept", f"ben@{DOMAIN}": "hold", f"cleo@{DOMAIN}": "hold", f"dan@{DOMAIN}": "hold"}


@pytest.mark.proves("mailman3", "mail")
def test_a_post_to_a_groups_list_reaches_its_members_signed_and_not_the_other_groups(stack, tls):
    subject = f"nord {time.time()}"
    post(stack, tls, "ben", f"nord@{LISTS}", subject)
    message = wait_for(stack, tls, "dan", subject)
    parsed = email.message_from_bytes(message)
    assert parsed["Subject"].startswith("[Groupe Nord] ")
    records = dns_records(stack)
    key = record(records, f"dkim._domainkey.{LISTS}", "TXT").encode()
    assert dkim_valid(message, f"dkim._domainkey.{LISTS}", key)
    # The same check fails with another key: the signature is made with the stack's key.
    assert not dkim_valid(message, f"dkim._domainkey.{LISTS}", txt_value(new_private_key()).encode())
    wait_for(stack, tls, "ben", subject)  # the poster gets their copy too (Mailman's default)
    assert received(stack, tls, "cleo", subject) == []  # sud's member: delivered in the same pass, so not coming
    assert received(stack, tls, "ada", subject) == []


@pytest.mark.proves("mailman3", "mail")
def test_list_mail_aligns_with_the_list_domain_for_spf_and_dkim(stack, tls):
    subject = f"alignment {time.time()}"
    post(stack, tls, "cleo", f"sud@{LISTS}", subject)
    message = wait_for(stack, tls, "cleo", subject)
    parsed = email.message_from_bytes(message)
    from_domain = email.utils.parseaddr(parsed["From"])[1].rsplit("@", 1)[1]
    envelope_domain = email.utils.parseaddr(parsed["Return-Path"])[1].rsplit("@", 1)[1]
    assert from_domain == envelope_domain == LISTS  # DMARC: From aligned with SPF's domain (strictly)
    assert f"cleo@{DOMAIN}" in parsed["Reply-To"]  # answers go to the poster, whose From was rewritten
    tags = dict(t.strip().split("=", 1) for t in parsed["DKIM-Signature"].replace("\n", "").split(";") if "=" in t)
    assert tags["d"].strip() == LISTS and tags["s"].strip() == "dkim"  # DMARC: From aligned with DKIM's d=
    records = dns_records(stack)
    assert dkim_valid(message, f"dkim._domainkey.{LISTS}", record(records, f"dkim._domainkey.{LISTS}", "TXT").encode())
    # SPF: the list domain lets its MX send, and its MX is the server the mail left from.
    assert record(records, LISTS, "TXT") == "v=spf1 mx -all"
    mx_host = record(records, LISTS, "MX").split()[1].rstrip(".")
    assert record(records, mx_host, "A") == stack.server.address


def test_the_coalition_list_delivers_the_hubs_post_to_everyone_and_holds_a_partners(stack, tls):
    subject = f"campagne {time.time()}"
    post(stack, tls, "ada", f"members@{LISTS}", subject)
    for user in ("ben", "cleo", "dan"):
        wait_for(stack, tls, user, subject)
    held_subject = f"from sud {time.time()}"
    post(stack, tls, "cleo", f"members@{LISTS}", held_subject)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        held = rest(stack, f"/lists/members.{LISTS}/held").get("entries", [])
        if any(held_subject in h.get("subject", "") for h in held):
            break
        time.sleep(2)
    else:
        raise AssertionError(f"cleo's post was not held: {held}")
    assert received(stack, tls, "ben", held_subject) == []


def test_a_member_who_unsubscribes_stops_receiving_and_is_not_subscribed_again(stack, tls):
    # dan leaves nord's list by mail, as any list member can: a request, then a reply to the confirmation.
    post(stack, tls, "dan", f"nord-leave@{LISTS}", "unsubscribe")
    confirmation = email.message_from_bytes(wait_for(stack, tls, "dan", "confirm"), policy=email.policy.default)
    reply = EmailMessage()
    # Mailman asks for a plain reply: to its -confirm+<token> address, which it sends the request from.
    reply["From"], reply["To"] = f"dan@{DOMAIN}", confirmation["Reply-To"] or confirmation["From"]
    reply["Subject"] = f"Re: {confirmation['Subject']}"
    reply.set_content("")
    with mailbox.submission(stack.server.address, tls, MAIL_HOST) as client:
        client.login("dan", PASSWORDS["dan"])
        client.send_message(reply)
    deadline = time.monotonic() + 90
    while f"dan@{DOMAIN}" in subscribers(stack, "nord") and time.monotonic() < deadline:
        time.sleep(2)
    assert subscribers(stack, "nord") == {f"ben@{DOMAIN}"}
    # A membership change and a deploy later, the directory's nord still holds dan, and his choice stands.
    sovstack("members", "join", "cleo", "nord", cwd=stack.work)
    try:
        sovstack("deploy", "--engine", "pyinfra", cwd=stack.work)
        assert subscribers(stack, "nord") == {f"ben@{DOMAIN}", f"cleo@{DOMAIN}"}
        subject = f"after leaving {time.time()}"
        post(stack, tls, "ben", f"nord@{LISTS}", subject)
        wait_for(stack, tls, "cleo", subject)
        assert received(stack, tls, "dan", subject) == []
    finally:
        sovstack("members", "leave", "cleo", "nord", cwd=stack.work)
    assert subscribers(stack, "nord") == {f"ben@{DOMAIN}"}


def test_a_disabled_member_is_unsubscribed_and_subscribed_again_when_enabled(stack):
    out = sovstack("members", "disable", "cleo", cwd=stack.work).stdout
    assert "GNU Mailman 3: members updated" in out, out
    try:
        assert subscribers(stack, "sud") == set()
        assert f"cleo@{DOMAIN}" not in subscribers(stack, "members")
    finally:
        sovstack("members", "enable", "cleo", cwd=stack.work)
    assert subscribers(stack, "sud") == {f"cleo@{DOMAIN}"}


def test_the_lists_secrets_stay_out_of_the_world_readable_files(stack):
    secrets = yaml.safe_load((stack.work / "secrets.yml").read_text())["tools"]["mailman3"]
    modes = ssh(stack.server, "stat -c '%n %U:%G %a' /etc/mailman3/mailman.cfg /etc/mailman3/mailman-web.py "
                              "/etc/mailman3/mailman-hyperkitty.cfg").stdout.split("\n")
    assert modes[:3] == ["/etc/mailman3/mailman.cfg root:list 640", "/etc/mailman3/mailman-web.py root:www-data 640",
                         "/etc/mailman3/mailman-hyperkitty.cfg root:list 640"]
    script = ssh(stack.server, "cat /usr/local/lib/sovstack/mailman3-lists.py").stdout
    assert not any(value in script for value in secrets.values())



class Browser(servers.Browser):
    """A browser for lists.voisins.test, with the web pages' login form."""

    def __init__(self, stack, timeout: float = 120):
        super().__init__(stack, LISTS, timeout)

    def log_in(self, username: str, password: str) -> bool:
        """The login form of the web pages (django-allauth's, with its CSRF token); True when the member then
        reaches their own subscriptions page in Postorius instead of being sent to log in."""
        page = self.request("GET", "/accounts/login/").data.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:1000]
        posted = self.request("POST", "/accounts/login/", {"csrfmiddlewaretoken": html.unescape(token.group(1)),
                                                          "login": username, "password": password})
        page = self.request("GET", "/postorius/accounts/subscriptions/")
        # What happened, for an assertion's message: a refusal is a 200 form again, a login a 302.
        self.answers = f"login POST {posted.status}, subscriptions page {page.status} {page.headers.get('Location', '')}"
        return page.status == 200


@pytest.mark.parametrize("username,password,accepted", [
    ("ada", PASSWORDS["ada"], True),
    ("ada", "ada-Wrong-0123456789", False),
    ("nobody", "nobody-Pass-0123456789", False),
])
@pytest.mark.proves(("mailman3", "openldap"), "login")
def test_a_member_logs_in_to_the_web_pages_with_the_directory_password_only(stack, username, password, accepted):
    browser = Browser(stack)
    assert browser.log_in(username, password) is accepted, browser.answers


@pytest.mark.proves("mailman3", "login")
def test_a_members_web_account_is_her_directory_address_with_her_lists_and_nobody_signs_up(stack):
    browser = Browser(stack)
    assert browser.log_in("ada", PASSWORDS["ada"]), browser.answers
    # Her account page in Postorius shows the lists sovstack subscribed her address to: the web account
    # and Mailman's subscriber are the same, with no confirmation mail in between.
    page = browser.request("GET", "/postorius/accounts/subscriptions/").data.decode()
    assert f"members.{LISTS}" in page and f"coordination.{LISTS}" in page, page[:3000]
    profile = browser.request("GET", "/user-profile/").data.decode()
    assert f"ada@{DOMAIN}" in profile, profile[:3000]
    # Web-only accounts cannot be made: the sign-up page is closed.
    signup = Browser(stack).request("GET", "/accounts/signup/").data.decode()
    assert "Sign Up Closed" in signup and 'name="password1"' not in signup, signup[:2000]


@pytest.mark.proves("mailman3", "disabled-refused")
def test_a_disabled_member_is_refused_by_the_web_pages_until_enabled(stack):
    browser = Browser(stack)
    assert browser.log_in("cleo", PASSWORDS["cleo"]), browser.answers  # the probe can succeed: a refusal means something
    sovstack("members", "disable", "cleo", cwd=stack.work)
    try:
        browser = Browser(stack)
        assert not browser.log_in("cleo", PASSWORDS["cleo"]), browser.answers
    finally:
        sovstack("members", "enable", "cleo", cwd=stack.work)
    browser = Browser(stack)
    assert browser.log_in("cleo", PASSWORDS["cleo"]), browser.answers


def test_the_web_pages_directory_password_stays_in_their_private_settings(stack):
    """After the logins above: the service account's password is in mailman-web.py (0640 root:www-data,
    checked above) and nowhere a process list or the web pages' log would show it."""
    password = yaml.safe_load((stack.work / "secrets.yml").read_text())["tools"]["mailman3"]["ldap_bind_password"]
    assert password in ssh(stack.server, "cat /etc/mailman3/mailman-web.py").stdout
    shown = ssh(stack.server, "ps -eo args; cat /var/log/mailman3/web/mailman-web.log; "
                              "journalctl -u mailman3-web --no-pager").stdout
    assert password not in shown

def test_a_mailchimp_audience_moves_into_a_newsletter_verified_and_a_rerun_copies_nothing_with_standin_export(
        stack, tmp_path):
    export = mailchimp_zip(tmp_path, [member("ann@asso.example"), member("Bob@Asso.example"),
                                      member("new@asso.example", optin="", confirm="")],
                           unsubscribed=[member("gone@asso.example")], cleaned=[member("bounced@asso.example")])
    move = ("migrate", "lists", "--from", str(export), "--to", "infolettre")
    first = sovstack(*move, cwd=stack.work).stdout
    assert "3 expected, 3 copied this run, 0 missing, 0 altered, 2 skipped: verified" in first, first
    again = sovstack(*move, cwd=stack.work).stdout
    assert "3 expected, 0 copied this run, 0 missing, 0 altered, 2 skipped: verified" in again, again
    # The export is kept on the server as the evidence of consent: root only, byte for byte, once however
    # often it is moved, and named in the report.
    kept = lists.evidence_path("infolettre", export.read_bytes(), str(export))
    listing = ssh(stack.server, f"stat -c '%a %U' {kept}; sha256sum {kept} | cut -d' ' -f1; "
                                f"ls {lists.EVIDENCE_DIR}/infolettre | wc -l").stdout.split()
    assert listing == ["600", "root", hashlib.sha256(export.read_bytes()).hexdigest(), "1"], listing
    report = json.loads((stack.work / "migration-report.json").read_text())["moves"]
    assert any(kept in note for m in report if m["kind"] == "lists" for note in m["notes"]), report
    members = rest(stack, f"/lists/infolettre.{LISTS}/roster/member")["entries"]
    assert sorted(e["email"].lower() for e in members) == ["ann@asso.example", "bob@asso.example"]
    pending = rest(stack, f"/lists/infolettre.{LISTS}/requests")["entries"]
    assert [e["email"] for e in pending] == ["new@asso.example"]  # no record of consent: invited, not subscribed
    bans = rest(stack, f"/lists/infolettre.{LISTS}/bans")["entries"]
    assert sorted(e["email"] for e in bans) == ["bounced@asso.example", "gone@asso.example"]
    # A subscriber lost at the destination is named, and the run exits 1.
    bob = next(e for e in members if e["email"].lower() == "bob@asso.example")
    rest(stack, "/members/" + bob["member_id"], method="DELETE")
    checked = sovstack(*move, "--verify-only", cwd=stack.work, check=False)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "bob@asso.example" in checked.stdout + checked.stderr


@pytest.mark.proves("mailman3", "backup", "restore")
def test_a_backup_brings_a_deleted_newsletter_back_with_its_subscribers_bans_and_kept_export(stack):
    """After the newsletter test: its list, subscribers, invitation, bans and the kept export come back."""
    name = f"infolettre.{LISTS}"
    before = {what: sorted(e["email"].lower() for e in rest(stack, f"/lists/{name}/{what}").get("entries", []))
              for what in ("roster/member", "requests", "bans")}
    assert before["roster/member"] and before["bans"], before
    assert "backup: main: snapshot " in sovstack("backup", cwd=stack.work).stdout
    rest(stack, f"/lists/{name}", method="DELETE")
    ssh(stack.server, f"rm -rf {lists.EVIDENCE_DIR}")
    assert rest(stack, f"/lists/{name}", missing_ok=True) is None

    result = sovstack("restore", "--tool", "mailman3", cwd=stack.work)
    assert "FAILING" not in result.stdout, result.stdout
    after = {what: sorted(e["email"].lower() for e in rest(stack, f"/lists/{name}/{what}").get("entries", []))
             for what in before}
    assert after == before
    assert ssh(stack.server, f"find {lists.EVIDENCE_DIR}/infolettre -type f | wc -l").stdout.strip() == "1"
    # The web interface answers again after the restore (its own database came back too).
    page = ssh(stack.server, f"curl -sS --fail --resolve {LISTS}:443:127.0.0.1 --cacert "
                             f"/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt "
                             f"https://{LISTS}/postorius/lists/").stdout
    assert "Mailing Lists" in page or "Listes de diffusion" in page, page[:500]


def archived_lists(stack) -> set[str]:
    """The lists HyperKitty holds web archives of (its own database, read as the web pages' user)."""
    code = "from hyperkitty.models import MailingList\nprint(*MailingList.objects.values_list('name', flat=True))"
    return set(ssh(stack.server, "cd / && runuser -u www-data -- python3 /usr/share/mailman3-web/manage.py shell -c "
                                 + shlex.quote(code)).stdout.split())


@pytest.mark.proves("mailman3", "group-spaces")
def test_purging_a_group_deletes_its_list_and_its_web_archives_and_nothing_makes_them_again(stack, tls):
    # Last in the module: est leaves the stack file. First a post to est, so that HyperKitty archives it.
    post(stack, tls, "cleo", f"est@{LISTS}", "Archive de est")
    deadline = time.monotonic() + 120
    while f"est@{LISTS}" not in archived_lists(stack):
        assert time.monotonic() < deadline, f"HyperKitty did not archive est's post: {archived_lists(stack)}"
        time.sleep(3)
    out = sovstack("groups", "remove", "est", "--purge", cwd=stack.work).stdout
    assert f"the list est@{LISTS}" in out and f"the web archives of est@{LISTS} (HyperKitty)" in out, out
    after = archived_lists(stack)
    assert f"est@{LISTS}" not in after and f"sud@{LISTS}" in after, after  # sud's archive (posts above) stays
    assert rest(stack, f"/lists/est.{LISTS}", method="GET", missing_ok=True) is None
    sovstack("members", "join", "ada", "nord", cwd=stack.work)  # a refresh runs the deployed script, which still names est
    try:
        assert rest(stack, f"/lists/est.{LISTS}", method="GET", missing_ok=True) is None
        sovstack("deploy", "--engine", "pyinfra", cwd=stack.work)
        assert rest(stack, f"/lists/est.{LISTS}", method="GET", missing_ok=True) is None
        assert subscribers(stack, "sud") == {f"cleo@{DOMAIN}"}  # cleo, who was in est, keeps her other lists
    finally:
        sovstack("members", "leave", "ada", "nord", cwd=stack.work)
