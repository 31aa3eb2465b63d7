"""The stack file, secrets, init and render: tables of inputs, no server needed."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from sovstack.errors import UserError
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.render.bundle import Bundle, render
from sovstack.stack.draft import draft
from sovstack.stack.secrets import Secrets, ensure_secrets
from sovstack.stack.stackfile import Stack, deployable, parse_stack
from sovstack.wiring.wire import wire
from tests.conftest import DATA, REPO

BASE = {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
        "servers": {"main": {"address": "203.0.113.10"}}, "tools": {}}


class Rendered(NamedTuple):
    stack: Stack
    bundles: list[Bundle]
    secrets: Secrets


def render_stack(catalog, tmp_path: Path, data: dict, source: Path | str = "sovstack.yml") -> Rendered:
    """A stack file's `data` rendered as `sovstack render` does it: secrets.yml (what is missing added)
    and the bundles under build/, both in tmp_path."""
    stack = parse_stack(data, source, catalog)
    wiring = wire(stack, catalog)
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wiring.wanted_secrets())
    return Rendered(stack, render(wiring, secrets, tmp_path / "build"), secrets)


BAD_STACKS = [
    # (id, changes, words in the message)
    ("domain with a space", {"domain": "voisins example.org"}, ["key 'domain'", "voisins example.org"]),
    ("admin email without @", {"admin_email": "admin"}, ["key 'admin_email'"]),
    ("unknown key", {"colour": "blue"}, ["key 'colour'", "remove it"]),
    ("bad server name", {"servers": {"Main Server": {"address": "203.0.113.10"}}}, ["Main Server"]),
    ("bad ssh port", {"servers": {"main": {"address": "203.0.113.10", "ssh_port": 70000}}}, ["ssh_port"]),
    ("unknown tool", {"tools": {"wordpress": {"server": "main"}}}, ["tools.wordpress", "no tool 'wordpress'"]),
    ("tool on unknown server", {"tools": {"etherpad": {"server": "web"}}}, ["tools.etherpad.server", "'web'",
                                                                          "add it under 'servers'"]),
    ("two tools one subdomain", {"tools": {"etherpad": {"server": "main", "subdomain": "docs"},
                                           "hedgedoc": {"server": "main", "subdomain": "docs"}}},
     ["'docs'", "also used by etherpad"]),
    ("bad subdomain", {"tools": {"etherpad": {"server": "main", "subdomain": "Pad!"}}}, ["subdomain", "Pad!"]),
    ("subdomain on a tool without web", {"tools": {"openldap": {"server": "main", "subdomain": "ldap"}}},
     ["has no web interface"]),
    ("addon without its tool", {"tools": {"nextcloud-office": {"server": "main"}}}, ["add nextcloud"]),
    ("two mail servers on one server", {"tools": {"mailu": {"server": "main"}, "postfix-dovecot": {"server": "main"}}},
     ["public port 25", "already taken by"]),
    ("refused tool", {"tools": {"mailcow": {"server": "main"}}}, ["does not deploy mailcow"]),
    ("hosted need unknown", {"hosted": {"coffee": "disroot"}}, ["hosted.coffee", "not a need"]),
    ("federation not yes or no", {"federation": "maybe"}, ["key 'federation'", "maybe"]),
]


@pytest.mark.parametrize("name,changes,words", BAD_STACKS, ids=[c[0] for c in BAD_STACKS])
def test_stack_mistakes_name_key_value_and_fix(catalog, name, changes, words):
    with pytest.raises(UserError) as caught:
        parse_stack({**BASE, **changes}, "sovstack.yml", catalog)
    text = str(caught.value)
    assert "sovstack.yml" in text and "fix" in text
    for word in words:
        assert word in text


DEPLOYABLE = sorted(t for t in ("etherpad goatcounter matrix-synapse nextcloud hedgedoc authentik lldap keycloak "
                                "mailu roundcube docker-mailserver kanidm postfix-dovecot openldap goaccess "
                                "limesurvey umami mattermost matomo prosody galene jitsi-meet "
                                "onlyoffice plausible seafile rocketchat zulip").split())


def test_every_self_hostable_tool_deploys_or_is_refused_with_a_reason(catalog):
    for tool in catalog.tools.values():
        ok, why = deployable(tool)
        assert ok or len(why) > 30, tool.id
        assert "TODO" not in why, tool.id
    assert set(DEPLOYABLE) <= {t for t in catalog.tools if deployable(catalog.tools[t])[0]}


@pytest.mark.parametrize("tool_id", DEPLOYABLE)
def test_each_deployable_tool_renders_safely(catalog, tmp_path, tool_id):
    tools = {tool_id: {"server": "main"}}
    bases = [b for b in catalog.tools[tool_id].addon_for if deployable(catalog.tools[b])[0]][:1]
    for base in bases + catalog.tools[tool_id].requires_tools:
        tools[base] = {"server": "main"}
    (tmp_path / "secrets.yml").write_text("mail_relay:\n  password: relay-password-123456\n")
    rendered = render_stack(catalog, tmp_path, {**BASE, "tools": tools,
                                                "mail_relay": {"host": "smtp.example.net", "username": "u"}})
    [bundle], secrets = rendered.bundles, rendered.secrets
    manifest = bundle.manifest
    for entry in manifest["files"]:
        owner = entry["dest"].split("/")[4] if entry["dest"].startswith("/srv/sovstack/apps/") else tool_id
        deploy = catalog.tools[owner].deploy
        public = set(deploy.public_ports)
        content = bundle.files[entry["dest"]]
        if any(v.encode() in content for v in secrets.values()):
            assert entry["mode"] in ("0600", "0640"), entry["dest"]
        if entry["dest"].endswith("/compose.yml"):
            compose = yaml.safe_load(content)
            for service in compose["services"].values():
                assert service["image"] in deploy.images or any(b.image == service["image"] for b in deploy.builds)
                for spec in service.get("ports", []):
                    text = str(spec)
                    host_port = int(text.split(":")[-2]) if text.count(":") >= 1 else int(text)
                    assert text.startswith("127.0.0.1:") or host_port in public, (tool_id, text)
                assert "mem_limit" in service or "deploy" in service, (tool_id, "no memory limit")
                assert "healthcheck" in service, (owner, "no health check")
                # checked every few seconds while it starts, so a deploy hears "healthy" soon after it is
                timing = service["healthcheck"]
                assert "start_period" not in timing or timing.get("start_interval") == "5s", (owner, timing)
                assert service.get("restart") == "unless-stopped", (owner, "no restart policy")
            for value in secrets.values():
                assert value.encode() not in content, f"{tool_id}: a secret in compose.yml"
    # The whole bundle on disk is private: it holds secrets.
    assert stat.S_IMODE((tmp_path / "build" / "main").stat().st_mode) == 0o700
    caddyfile = bundle.files["/etc/caddy/Caddyfile"].decode()
    deploy = catalog.tools[tool_id].deploy
    if deploy.subdomain:
        assert f"{deploy.subdomain}.voisins.example.org {{" in caddyfile
    # Caddy listens on a tool's web port only when it serves the tool itself (PHP, static files); else the
    # tool's own program listens there, and a Caddy listener would take its port.
    loopback = re.findall(r"^http://:(\d+) \{\n\tbind 127\.0\.0\.1$", caddyfile, re.M)
    assert loopback == ([str(deploy.web_port)] if deploy.served_by_caddy and deploy.web_port else []), loopback


def test_secrets_are_generated_once_and_kept(catalog, tmp_path):
    stack = parse_stack({**BASE, "tools": {"etherpad": {"server": "main"}}}, "sovstack.yml", catalog)
    path = tmp_path / "secrets.yml"
    first = ensure_secrets(stack, path, wire(stack, catalog).wanted_secrets())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = ensure_secrets(stack, path, wire(stack, catalog).wanted_secrets())
    assert first.for_tool("etherpad") == second.for_tool("etherpad")
    assert len(first.for_tool("etherpad")["db_password"]) >= 40


def test_a_missing_relay_password_is_named_with_where_to_put_it(catalog, tmp_path):
    stack = parse_stack({**BASE, "mail_relay": {"host": "smtp.example.net", "username": "asso"}}, "s.yml", catalog)
    with pytest.raises(UserError) as caught:
        ensure_secrets(stack, tmp_path / "secrets.yml", wire(stack, catalog).wanted_secrets())
    assert "mail_relay.password" in str(caught.value)


@pytest.mark.parametrize("answers", ["neighbourhood-association.yml", "small-choir.yml"])
def test_init_turns_a_recommendation_into_a_valid_stack(catalog, questionnaire, answers):
    given = yaml.safe_load((REPO / "examples" / "answers" / answers).read_text())
    rec = decide(resolve(questionnaire, given, source=answers).answers, catalog)
    made = draft(rec, catalog, organisation="Les Voisins", domain="voisins.example.org",
                 admin_email="admin@voisins.example.org", server={"address": "203.0.113.10"}, tls="public",
                 language="en")
    stack = parse_stack(yaml.safe_load(made.text), "sovstack.yml", catalog)
    assert set(stack.tools) == set(made.tools)
    for tool, why in made.refused:
        assert f"# Not deployed by sovstack: {tool}" in made.text and why


def test_the_playbook_passes_ansible_syntax_check(catalog, tmp_path):
    render_stack(catalog, tmp_path, {**BASE, "tools": {"etherpad": {"server": "main"}}})
    result = subprocess.run([sys.executable.replace("python", "ansible-playbook"), "--syntax-check", "-i",
                             str(tmp_path / "build" / "hosts.yml"), str(DATA / "playbooks" / "site.yml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("example", ["single", "multi"])
def test_the_example_stacks_render_and_their_inventories_pass_ansible_syntax_check(catalog, tmp_path, example):
    """inventories/example-<name>/ points at the bundles of the example stack: render a copy, check both."""
    import shutil

    source = REPO / "examples" / "stacks" / ("single.yml" if example == "single" else "multi/sovstack.yml")
    stack, bundles, _ = render_stack(catalog, tmp_path, yaml.safe_load(source.read_text()), source)
    inventory = yaml.safe_load((REPO / "inventories" / f"example-{example}" / "hosts.yml").read_text())
    assert set(inventory["all"]["hosts"]) == {b.server for b in bundles} == set(stack.servers)
    shutil.copytree(REPO / "inventories" / f"example-{example}", tmp_path / "inventory")
    result = subprocess.run([sys.executable.replace("python", "ansible-playbook"), "--syntax-check", "-i",
                             str(tmp_path / "inventory"), str(DATA / "playbooks" / "site.yml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_build_from_git_checks_out_the_pinned_commit_and_refuses_any_other(catalog, tmp_path):
    """OWA is built from the commit the catalog pins (no published checksum of its tarball exists)."""
    [bundle] = render_stack(catalog, tmp_path, {**BASE, "tools": {"open-web-analytics": {"server": "main"}}}).bundles
    dockerfile = bundle.files["/srv/sovstack/apps/open-web-analytics/image/Dockerfile"].decode()
    commit = "7cd0fb9a4ce9383dca0b3ad3132055c5b1b60d9e"
    assert f"ARG OWA_COMMIT={commit}" in dockerfile
    assert "ARG OWA_GIT=https://github.com/Open-Web-Analytics/Open-Web-Analytics.git" in dockerfile
    assert 'test "$(git rev-parse HEAD)" = "${OWA_COMMIT}"' in dockerfile
    assert "composer install --no-dev" in dockerfile and "npm ci" in dockerfile and "curl -fsSL" not in dockerfile
    assert bundle.manifest["builds"] == [{"tool": "open-web-analytics", "image": "sovstack/open-web-analytics:1.12.0",
                                          "context": "/srv/sovstack/apps/open-web-analytics/image"}]


def test_a_build_of_a_download_without_a_pinned_checksum_is_refused(tree_copy):
    from sovstack.catalog import load_catalog

    path = tree_copy / "tools" / "limesurvey.yml"
    text = path.read_text()
    pinned = next(line for line in text.splitlines() if line.strip().startswith("sha256:"))
    path.write_text(text.replace(pinned + "\n", ""))
    with pytest.raises(UserError) as caught:
        parse_stack({**BASE, "tools": {"limesurvey": {"server": "main"}}}, "sovstack.yml", load_catalog(tree_copy))
    for words in ("does not deploy LimeSurvey", "no verified SHA-256", "unverified downloads"):
        assert words in str(caught.value)


def render_synapse(catalog, tmp_path, **stack_keys) -> dict:
    [bundle] = render_stack(catalog, tmp_path, {**BASE, **stack_keys,
                                                "tools": {"matrix-synapse": {"server": "main"}}}).bundles
    app = "/srv/sovstack/apps/matrix-synapse/"
    return {path[len(app):]: data.decode() for path, data in bundle.files.items() if path.startswith(app)}


@pytest.mark.parametrize("stack_keys,federates", [({}, True), ({"federation": True}, True), ({"federation": False}, False)])
def test_matrix_federation_is_the_stack_s_setting(catalog, tmp_path, stack_keys, federates):
    config = yaml.safe_load(render_synapse(catalog, tmp_path, **stack_keys)["homeserver.yaml"])
    assert config["serve_server_wellknown"] is federates
    assert ("federation" in config["listeners"][0]["resources"][0]["names"]) is federates
    # Off: no server is trusted for keys, and none may federate (an empty whitelist).
    assert ("federation_domain_whitelist" not in config) is federates
    assert bool(config["trusted_key_servers"]) is federates


def test_synapse_is_installed_from_pypi_only_with_pinned_hashes(catalog, tmp_path):
    files = render_synapse(catalog, tmp_path)
    assert "--require-hashes" in files["image/Dockerfile"] and "--no-deps" in files["image/Dockerfile"]
    requirements = files["image/requirements.txt"].replace("\\\n", " ").splitlines()
    pins = [line.split()[0] for line in requirements if line and not line.startswith((" ", "#"))]
    assert "matrix-synapse[postgres]==1.163.2" not in pins  # extras are resolved into their packages
    assert {"matrix-synapse==1.163.2", "matrix-synapse-ldap3==0.4.0", "psycopg2==2.9.13"} <= set(pins)
    for line in requirements:
        if line and not line.startswith((" ", "#")):
            assert "==" in line and "--hash=sha256:" in line, line
    release = catalog.tools["matrix-synapse"].obtain.release
    assert "1.163.2" in release and "0.4.0" in release
    assert 'synapse.__version__ == "1.163.2"' in files["image/Dockerfile"]
    assert "FROM debian:trixie-slim" in files["postgres/Dockerfile"] and "postgresql-17" in files["postgres/Dockerfile"]


@pytest.mark.parametrize("federates", [True, False])
def test_xmpp_server_to_server_follows_the_stack_s_federation_setting(catalog, tmp_path, federates):
    [bundle] = render_stack(catalog, tmp_path, {**BASE, "federation": federates,
                                                "tools": {"prosody": {"server": "main"}}}).bundles
    config = bundle.files["/etc/prosody/prosody.cfg.lua"].decode()
    assert ('modules_disabled = { "s2s" }' not in config) is federates
    assert 5222 in bundle.manifest["public_ports"]
    assert (5269 in bundle.manifest["public_ports"]) is federates
    firewall = bundle.files["/srv/sovstack/firewall.nft"].decode()
    assert ("5269" in firewall) is federates
