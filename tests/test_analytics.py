"""Analytics wiring and the members' portal: tables of stacks, rendered without a server."""

from __future__ import annotations

import base64
import hashlib
import html as htmllib
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.errors import UserError
from sovstack.members import welcome
from sovstack.paths import templates_dir
from sovstack.render import portal
from sovstack.render.bundle import render
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, parse_stack
from sovstack.wiring import analytics
from sovstack.wiring.wire import wire
from tests.browser import chromium_browser, missing

DOMAIN = "voisins.example.org"
BASE = {"organisation": "Les Voisins", "domain": DOMAIN, "admin_email": f"admin@{DOMAIN}",
        "servers": {"main": {"address": "203.0.113.10"}}, "tools": {}}
PAGE = "/srv/sovstack/portal/index.html"
PORTAL_URL = f"https://apps.{DOMAIN}/"
SCRIPT_TRACKERS = ["goatcounter", "matomo", "open-web-analytics", "plausible", "umami"]


def placements(tools):
    """"umami" or "umami:count" (its own subdomain, when two tools would share one) -> the stack's tools."""
    found = {}
    for spec in tools:
        tool_id, _, sub = spec.partition(":")
        found[tool_id] = {"server": "main", **({"subdomain": sub} if sub else {})}
    return found


def build(catalog, tmp_path, tools, **changes):
    """Parse and render a one-or-more-server stack; the bundles by server name, and the stack."""
    stack = parse_stack({**BASE, "tools": placements(tools), **changes}, "sovstack.yml", catalog)
    wired = wire(stack, catalog)
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wired.wanted_secrets())
    return {b.server: b for b in render(wired, secrets, tmp_path / "build")}, stack, secrets


def fqdn(catalog, tool_id):
    return f"{catalog.tools[tool_id].deploy.subdomain}.{DOMAIN}"


def expected_code(catalog, tracker):
    """What the tracking code of `tracker` must say for the portal of this stack, from the upstream docs."""
    url = f"https://{fqdn(catalog, tracker)}"
    return {
        # https://github.com/arp242/goatcounter/blob/master/tpl/code/domains.markdown
        "goatcounter": [f'data-goatcounter="{url}/count"', f'src="{url}/count.js"', "location.host + p"],
        # WebsiteTrackingCode.tsx; the id is the UUID the deploy step gives the API
        "umami": [f'src="{url}/script.js"',
                  f'data-website-id="{uuid.uuid5(uuid.NAMESPACE_URL, PORTAL_URL)}"'],
        # https://plausible.io/docs/script-update-guide (data-domain script)
        "plausible": [f'data-domain="apps.{DOMAIN}"', f'src="{url}/js/script.js"'],
        # plugins/Morpheus/templates/javascriptCode.twig: the portal is Matomo's first site
        "matomo": [f'var u="{url}/"', "u+'matomo.php'", "'setSiteId', \"1\"", "u+'matomo.js'"],
        # modules/Base/templates/js_log_tag.php at the pinned commit; the site id is what OWA's SiteManager
        # makes of the URL the install step gives it: md5("https://apps.<domain>")
        "open-web-analytics": [f'var owa_baseUrl = "{url}/"',
                               f"'setSiteId', \"{hashlib.md5(f'https://apps.{DOMAIN}'.encode()).hexdigest()}\"",
                               "['trackPageView']", "['trackClicks']", "'public/base/dist/owa.tracker.js'"],
    }[tracker]


# A word only each tracker's code contains, to prove the page carries no other tool's code.
MARKER = {"goatcounter": "data-goatcounter", "umami": "data-website-id", "plausible": "data-domain", "matomo": "_paq",
          "open-web-analytics": "owa_cmds"}


def inline_scripts(html):
    return [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL) if "src=" not in attrs]


def csp_of(caddyfile, host):
    block = caddyfile[caddyfile.index(f"\n{host} {{"):]
    return re.search(r'Content-Security-Policy "([^"]*)"', block[:block.index("\n}\n")]).group(1)


@pytest.mark.parametrize("tracker", SCRIPT_TRACKERS)
def test_the_portal_carries_exactly_the_picked_tools_tracking_code(catalog, tmp_path, tracker):
    bundles, _, _ = build(catalog, tmp_path, [tracker, "etherpad", "openldap"])
    html = bundles["main"].files[PAGE].decode()
    head = html[:html.index("</head>")]
    for words in expected_code(catalog, tracker):
        assert head.count(words) == 1, (tracker, words)
    for other, marker in MARKER.items():
        assert (marker in html) == (other == tracker), (tracker, marker)
    # The CSP lets the tracker's origin and exactly its inline code run, nothing else.
    csp = csp_of(bundles["main"].files["/etc/caddy/Caddyfile"].decode(), f"apps.{DOMAIN}")
    script_src = re.search(r"script-src ([^;]*)", csp).group(1).split()
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
              for b in inline_scripts(html)]
    assert sorted(script_src) == sorted([f"https://{fqdn(catalog, tracker)}", *hashes])
    assert f"connect-src https://{fqdn(catalog, tracker)}" in csp


@pytest.mark.parametrize("tools", [["etherpad"], ["goaccess", "etherpad"], ["etherpad", "openldap", "postfix-dovecot"]],
                         ids=["no analytics", "log analytics only", "mail and directory"])
def test_a_stack_without_a_script_tracker_has_no_script_on_the_portal(catalog, tmp_path, tools):
    bundles, _, _ = build(catalog, tmp_path, tools)
    html = bundles["main"].files[PAGE].decode()
    assert "<script" not in html
    csp = csp_of(bundles["main"].files["/etc/caddy/Caddyfile"].decode(), f"apps.{DOMAIN}")
    assert "script-src" not in csp and "default-src 'none'" in csp


HOSTILE = ['<script>alert("x")</script>', "Tom & Jerry's \"club\"", "</title><img src=x onerror=alert(1)>"]


@pytest.mark.parametrize("organisation", HOSTILE)
@pytest.mark.parametrize("tracker", [None, "matomo"])
def test_the_organisation_name_is_text_on_the_portal(catalog, tmp_path, organisation, tracker):
    bundles, _, _ = build(catalog, tmp_path, ["etherpad", *([tracker] if tracker else [])], organisation=organisation)
    html = bundles["main"].files[PAGE].decode()
    assert organisation not in html
    title = re.search(r"<h1>(.*?)</h1>", html, re.DOTALL).group(1)
    assert "<" not in title and htmllib.unescape(title) == f"{organisation}: our tools"
    # Only the tracker's own scripts: the name added none.
    assert len(re.findall(r"<script", html)) == {None: 0, "matomo": 1}[tracker]


STACKS = [
    # (tools, language)
    (["etherpad", "hedgedoc", "nextcloud", "openldap", "postfix-dovecot", "roundcube", "goaccess", "umami:count"],
     "en"),
    (["jitsi-meet", "matrix-synapse", "keycloak", "limesurvey", "seafile", "matomo"], "fr"),
    (["nextcloud", "nextcloud-office", "lldap", "galene", "goatcounter"], "fr"),
]


@pytest.mark.parametrize("tools,language", STACKS, ids=[" ".join(s[0][:3]) for s in STACKS])
def test_the_portal_lists_every_tool_with_a_served_https_address(catalog, tmp_path, tools, language):
    bundles, stack, secrets = build(catalog, tmp_path, tools, language=language)
    html = bundles["main"].files[PAGE].decode()
    caddyfile = bundles["main"].files["/etc/caddy/Caddyfile"].decode()
    tools = list(placements(tools))
    for tool_id in tools:
        tool = catalog.tools[tool_id]
        item = html[html.index(f'<li id="{tool_id}">'):]
        item = item[:item.index("</li>")]
        text = htmllib.unescape(item)
        assert tool.name in text and tool.description.get(language) in text
        host = stack.fqdn(tool_id, catalog)
        links = set(re.findall(r'href="https://([^/"]+)/"', item))
        if host and tool_id != "goaccess":
            assert links == {host} and f"\n{host} {{" in caddyfile  # Caddy serves the address it gives
        else:
            assert links == set(), tool_id
    assert sorted(re.findall(r'<li id="([^"]+)">', html)) == sorted(tools)
    # The portal is public: no secret, and its files are readable by Caddy.
    for value in secrets.values():
        assert value not in html
    modes = {e["dest"]: e["mode"] for e in bundles["main"].manifest["files"]}
    assert modes[PAGE] == modes["/srv/sovstack/portal/portal.css"] == "0644"
    assert {"tool": "portal", "fqdn": f"apps.{DOMAIN}", "path": "/", "url": None} in bundles["main"].manifest["health"]
    assert f"\napps.{DOMAIN} {{\n\timport sovstack_common\n" in caddyfile  # logged like every site (GoAccess)


def test_tools_logging_in_with_the_member_account_say_so(catalog, tmp_path):
    """A tool wired to the directory says "member account"; an add-on says what its base tool says.

    The welcome mail says the same as the portal (one rule, the Wiring's member_login)."""
    bundles, stack, _ = build(catalog, tmp_path, ["openldap", "postfix-dovecot", "roundcube", "etherpad", "nextcloud"])
    html = bundles["main"].files[PAGE].decode()
    in_welcome_mail = {t["name"]: t["member_login"] for t in welcome.tool_list(wire(stack, catalog))}
    assert {catalog.tools[t].name for t in ("roundcube", "etherpad", "nextcloud")} <= set(in_welcome_mail)
    seen = set()
    for tool_id, logs_in_through in (("etherpad", "etherpad"), ("nextcloud", "nextcloud"),
                                     ("postfix-dovecot", "postfix-dovecot"), ("roundcube", "postfix-dovecot")):
        item = html[html.index(f'<li id="{tool_id}">'):]
        member = wire(stack, catalog).tools[logs_in_through].identity is not None
        assert ('class="login member"' in item[:item.index("</li>")]) == member, tool_id
        assert in_welcome_mail.get(catalog.tools[tool_id].name, member) == member, tool_id
        seen.add(member)
    assert seen == {True, False}  # the table holds both kinds


def test_the_portal_can_be_moved_or_switched_off(catalog, tmp_path):
    servers = {"main": {"address": "203.0.113.10"}, "web": {"address": "203.0.113.11"}}
    bundles, _, _ = build(catalog, tmp_path, ["etherpad"], servers=servers, portal={"server": "web", "subdomain": "outils"})
    assert f"\noutils.{DOMAIN} {{" in bundles["web"].files["/etc/caddy/Caddyfile"].decode()
    assert PAGE in bundles["web"].files and PAGE not in bundles["main"].files
    bundles, stack, _ = build(catalog, tmp_path, ["etherpad", "umami"], portal={"enabled": False})
    assert PAGE not in bundles["main"].files
    assert all(h["tool"] != "portal" for h in bundles["main"].manifest["health"])
    assert wire(stack, catalog).properties == ()


BAD_PORTALS = [
    ({"server": "web"}, ["portal.server", "'web'", "fix"]),
    ({"subdomain": "pad"}, ["portal.subdomain", "'pad'", "also used by etherpad"]),
    ({"subdomain": "Apps!"}, ["portal.subdomain", "Apps!"]),
    ({"colour": "blue"}, ["portal.colour"]),
]


@pytest.mark.parametrize("portal,words", BAD_PORTALS, ids=[str(p) for p, _ in BAD_PORTALS])
def test_portal_mistakes_name_the_key_value_and_fix(catalog, portal, words):
    with pytest.raises(UserError) as caught:
        parse_stack({**BASE, "tools": {"etherpad": {"server": "main"}}, "portal": portal}, "sovstack.yml", catalog)
    text = str(caught.value)
    assert "sovstack.yml" in text and "fix" in text
    for word in words:
        assert word in text


def test_umami_gets_a_website_per_counted_page_from_a_guarded_step(catalog, tmp_path):
    bundles, _, secrets = build(catalog, tmp_path, ["umami", "etherpad"])
    manifest = bundles["main"].manifest
    scripts = {s["name"]: bundles["main"].files[s["script"]].decode() for s in manifest["steps"] if s["tool"] == "umami"}
    create = next(text for name, text in scripts.items() if "website" in name)
    site = str(uuid.uuid5(uuid.NAMESPACE_URL, PORTAL_URL))
    assert f'"id":"{site}"' in create and f"/api/websites/{site}" in create.split("done_already() {")[1].split("\n}\n")[0]
    assert secrets.get("tools.umami.admin_password") in create
    modes = {e["dest"]: e["mode"] for e in manifest["files"]}
    assert all(modes[s["script"]] == "0600" for s in manifest["steps"] if s["tool"] == "umami")



def catalog_with_tracked_hedgedoc(tree_copy):
    """A catalog copy where HedgeDoc documents a custom head setting, so its pages are counted too."""
    path = tree_copy / "tools" / "hedgedoc.yml"
    data = yaml.safe_load(path.read_text())
    data["tracking"] = CUSTOM_HEAD
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_catalog(tree_copy)


def test_open_web_analytics_gets_a_site_per_counted_page_named_as_owa_names_it(tree_copy, tmp_path):
    """The install step makes the portal OWA's first site, add-site the others (here HedgeDoc's pages, through
    a custom head setting written into a catalog copy); each site id is the MD5 OWA makes of the URL given."""
    catalog = catalog_with_tracked_hedgedoc(tree_copy)
    bundles, _, secrets = build(catalog, tmp_path, ["open-web-analytics", "hedgedoc"])
    manifest = bundles["main"].manifest
    steps = [bundles["main"].files[s["script"]].decode() for s in manifest["steps"] if s["tool"] == "open-web-analytics"]
    install, add = steps
    portal_url, pad_url = f"https://apps.{DOMAIN}", f"https://{fqdn(catalog, 'hedgedoc')}"
    md5 = {url: hashlib.md5(url.encode()).hexdigest() for url in (portal_url, pad_url)}
    assert f"cmd=install user_id=admin email_address=admin@{DOMAIN} domain={portal_url}" in install
    assert f"cmd=add-site domain={pad_url} name=" in add
    assert f'site_id = \\"{md5[pad_url]}\\"' in add  # the guard: that site exists
    portal_html = bundles["main"].files[PAGE].decode()
    assert f"'setSiteId', \"{md5[portal_url]}\"" in portal_html
    # The admin's first password is the database password, which no step puts on a command line.
    assert not any(secrets.get(f"tools.open-web-analytics.{key}") in text for text in steps
                   for key in ("db_password", "auth_key", "auth_salt", "nonce_key", "nonce_salt"))


def test_matomo_gets_site_1_from_its_installer_and_the_others_through_its_api(tree_copy, tmp_path):
    """The installer's first website is the portal (site 1); each other counted page (here HedgeDoc's, through a
    custom head setting written into a catalog copy) is added through the HTTP API and must get the id its
    tracking code says. Secrets stay in 0600 files the script reads; Caddy answers the script on the loopback only."""
    catalog = catalog_with_tracked_hedgedoc(tree_copy)
    bundles, _, secrets = build(catalog, tmp_path, ["matomo", "hedgedoc"])
    files, manifest = bundles["main"].files, bundles["main"].manifest
    script = files["/usr/local/lib/sovstack/matomo-install.sh"].decode()
    pad_url = f"https://{fqdn(catalog, 'hedgedoc')}"
    assert f"first_url=https://apps.{DOMAIN}" in script
    assert f"site_id {pad_url}" in script and f"urls[]={pad_url}" in script and '!= 2 ]' in script
    keys = {"db_password": "db-password", "admin_password": "admin-password", "api_token_hex32": "api-token"}
    for key, name in keys.items():
        value = secrets.get(f"tools.matomo.{key}")
        assert value not in script and files[f"/etc/sovstack/matomo/{name}"].decode() == value
        entry = next(f for f in manifest["files"] if f["dest"] == f"/etc/sovstack/matomo/{name}")
        assert (entry["mode"], entry["owner"], entry["group"]) == ("0600", "root", "root")
    assert re.fullmatch(r"[0-9a-f]{32}", secrets.get("tools.matomo.api_token_hex32"))
    caddyfile = files["/etc/caddy/Caddyfile"].decode()
    assert "http://:8302 {\n\tbind 127.0.0.1\n" in caddyfile
    assert caddyfile.count("php_fastcgi unix//run/php/matomo.sock") == 2  # the public site and the loopback one


def links_of(stack, catalog, aspect="analytics"):
    return [link for link in wire(stack, catalog).links if link.aspect == aspect]


@pytest.mark.parametrize("tracker", SCRIPT_TRACKERS)
def test_links_say_where_the_code_is_and_where_it_could_not_go(catalog, tmp_path, tracker):
    _, stack, _ = build(catalog, tmp_path, [tracker, "etherpad", "jitsi-meet"])
    found = links_of(stack, catalog)
    wired = [link for link in found if link.wired]
    assert [link.tool for link in wired] == [tracker] and PORTAL_URL in wired[0].how
    if catalog.tools[tracker].analytics.site_setup.how == "manual":
        assert catalog.tools[tracker].analytics.site_setup.note in wired[0].how
    website = next(link for link in found if f"https://{DOMAIN}/" in link.reason)
    assert not website.wired and website.tool == tracker
    for tool_id in ("etherpad", "jitsi-meet"):
        [link] = [link for link in found if link.tool == tool_id]
        assert not link.wired and catalog.tools[tool_id].name in link.reason
        assert link.reason == analytics.page_fit(catalog, tool_id, tracker)[1]


# Tracking blocks written into a copy of the catalog (the real ones belong to the tools' owners).
JITSI_MATOMO = {"settings": ["config.analytics.matomoEndpoint", "config.analytics.matomoSiteID"],
                "accepts": ["matomo"], "source": "https://github.com/jitsi/docker-jitsi-meet/blob/master/web/rootfs/defaults/settings-config.js"}
CUSTOM_HEAD = {"settings": ["custom head HTML"], "rendered": True, "source": "https://example.org/docs/custom-head"}
NONE_FOUND = {"settings": [], "source": "https://example.org/docs/settings"}

TRACKING = [
    # (tool, tracking block, tracker, wired, words in the reason)
    ("jitsi-meet", JITSI_MATOMO, "matomo", False, ["Jitsi Meet documents", "does not write them yet"]),
    ("jitsi-meet", JITSI_MATOMO, "goatcounter", False, ["take Matomo only, not GoatCounter"]),
    ("jitsi-meet", {**JITSI_MATOMO, "rendered": True}, "matomo", True, []),
    ("hedgedoc", CUSTOM_HEAD, "umami", True, []),
    ("hedgedoc", NONE_FOUND, "plausible", False, ["HedgeDoc has no documented setting", NONE_FOUND["source"]]),
    ("hedgedoc", None, "plausible", False, ["knows of no documented setting of HedgeDoc"]),
]


@pytest.mark.parametrize("tool_id,tracking,tracker,wired,words", TRACKING,
                         ids=[f"{t[0]}-{t[2]}-{'wired' if t[3] else 'not'}" for t in TRACKING])
def test_a_tools_documented_tracking_setting_decides_whether_its_pages_are_counted(
        tree_copy, tmp_path, tool_id, tracking, tracker, wired, words):
    path = tree_copy / "tools" / f"{tool_id}.yml"
    data = yaml.safe_load(path.read_text())
    data.pop("tracking", None)
    if tracking is not None:
        data["tracking"] = tracking
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    catalog = load_catalog(tree_copy)
    stack = parse_stack({**BASE, "tools": {t: {"server": "main"} for t in (tool_id, tracker)}}, "sovstack.yml", catalog)
    [link] = [link for link in links_of(stack, catalog) if link.tool == tool_id]
    assert link.wired == wired
    for word in words:
        assert word in link.reason
    wiring = wire(stack, catalog)
    context = analytics.template_context(wiring, tool_id)
    pages = wiring.properties
    if wired:
        # The tool's pages are the tracker's second site, after the portal, with the same kind of code.
        assert [p.key for p in pages] == ["portal", tool_id]
        assert context["site_id"] == pages[1].site_id and context["url"] == f"https://{fqdn(catalog, tracker)}"
        assert MARKER[tracker] in context["snippet"]
        assert analytics.template_context(wiring, tracker)["sites"][1]["fqdn"] == stack.fqdn(tool_id, catalog)
    else:
        assert context is None and [p.key for p in pages] == ["portal"]


def test_goaccess_counts_what_the_caddy_of_its_own_server_serves(catalog, tmp_path):
    servers = {"main": {"address": "203.0.113.10"}, "web": {"address": "203.0.113.11"}}
    stack = parse_stack({**BASE, "servers": servers, "portal": {"server": "web"},
                         "tools": {"goaccess": {"server": "main"}, "etherpad": {"server": "main"},
                                   "hedgedoc": {"server": "web"}}}, "sovstack.yml", catalog)
    found = {(link.tool, link.wired): link for link in links_of(stack, catalog)}
    assert "on main" in found[("etherpad", True)].how
    for tool_id in ("hedgedoc", "goaccess"):  # hedgedoc and the portal are served on web
        reason = found[(tool_id, False)].reason if tool_id == "hedgedoc" else next(
            link.reason for link in links_of(stack, catalog) if link.tool == "goaccess" and "portal" in link.reason)
        assert "served by Caddy on web" in reason and "main only" in reason
    assert sum(1 for link in links_of(stack, catalog) if f"https://{DOMAIN}/" in link.reason) == 1


def test_two_script_trackers_install_one_and_say_so(catalog, tmp_path):
    _, stack, _ = build(catalog, tmp_path, ["goatcounter", "umami:count"])
    found = links_of(stack, catalog)
    assert any(link.tool == "goatcounter" and link.wired for link in found)
    assert any(link.tool == "umami" and not link.wired and "GoatCounter's only" in link.reason for link in found)


def test_every_deployable_analytics_tool_says_how_it_counts_and_gets_sites(catalog):
    checked = []
    for tool in catalog.tools.values():
        if "analytics" not in tool.categories or not deployable(tool)[0]:
            continue
        assert tool.analytics is not None, tool.id
        assert tool.analytics.source.startswith("https://") and tool.analytics.site_setup.source.startswith("https://")
        snippet = templates_dir() / "apps" / tool.id / "snippet.html.j2"
        assert snippet.exists() == (tool.analytics.collects == "script"), tool.id
        checked.append(tool.id)
    assert sorted(checked) == sorted([*SCRIPT_TRACKERS, "goaccess"])


# ---------------------------------------------------------------------------------------------
# The real thing, locally: Debian's Caddy serves the portal's site body, Debian's Chromium runs it.

@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def caddy():
    path = shutil.which("caddy")
    if not path:
        missing("caddy is missing (apt-get install caddy)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("tracker", [*SCRIPT_TRACKERS, "goaccess"])
def test_caddy_serves_the_portal_and_chromium_runs_only_the_tracker_under_its_csp(
        catalog, tmp_path, caddy, chromium, tracker):
    bundles, stack, _ = build(catalog, tmp_path, [tracker, "etherpad"], tls="internal")
    files = bundles["main"].files
    # The whole rendered Caddyfile is valid for Debian's Caddy (its log goes to tmp here).
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(files["/etc/caddy/Caddyfile"].decode().replace("/var/log/caddy/", f"{tmp_path}/"))
    check = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr[-2000:]
    # The portal's own site body, on a loopback port over HTTP, from a copy of its files.
    root = tmp_path / "portal"
    root.mkdir()
    for dest, content in files.items():
        if dest.startswith(portal.ROOT + "/"):
            (root / dest.rsplit("/", 1)[1]).write_bytes(content)
    body = portal.portal_site(wire(stack, catalog), "main").site["body"].replace(portal.ROOT, str(root))
    port = free_port()
    local = tmp_path / "local.Caddyfile"
    local.write_text(f"{{\n\tadmin off\n\tstorage file_system {tmp_path}/caddy\n}}\nhttp://127.0.0.1:{port} {{\n{body}\n}}\n")
    server = subprocess.Popen([caddy, "run", "--adapter", "caddyfile", "--config", str(local)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.1)
        page = chromium.new_page()
        messages, outside = [], []
        page.on("console", lambda message: messages.append(message.text))
        # The tracker's server does not exist here: note where the page reaches out, answer nothing.
        page.on("request", lambda request: outside.append(request.url) if request.url.startswith("https:") else None)
        page.route("https://**/*", lambda route: route.abort())
        response = page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_load_state("load")
        assert response.status == 200
        assert [m for m in messages if "Content Security Policy" in m] == []
        assert page.evaluate("document.styleSheets.length") == 1  # its stylesheet, allowed by style-src 'self'
        origin = f"https://{stack.fqdn(tracker, catalog)}/"
        if tracker == "goaccess":
            assert outside == []
        else:
            assert outside and all(url.startswith(origin) for url in outside), outside
        if tracker == "matomo":  # its inline code ran (allowed by its hash) and queued the page view
            assert page.evaluate("window._paq.map(c => c[0])")[:2] == ["trackPageView", "enableLinkTracking"]
        if tracker == "goatcounter":
            assert page.evaluate("typeof window.goatcounter.path") == "function"
        if tracker == "open-web-analytics":  # its inline code ran and queued the site, the view and the clicks
            assert page.evaluate("window.owa_cmds.map(c => c[0])") == ["setSiteId", "trackPageView", "trackClicks"]
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
