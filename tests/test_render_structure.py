"""Render as a whole: every bundle of the example stacks (and of stacks `init` makes from the example
answers) is complete and self-consistent, renders the same bytes twice, and render reads the stack's
Wiring instead of deciding the wiring again (no golden hashes: properties only)."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

import pytest
import yaml

from sovstack.layout import DIAGNOSE_CONFIG, DIAGNOSE_TIMER
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.render.base import BASE_STEPS
from sovstack.render.bundle import render
from sovstack.stack.draft import draft
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring import analytics, identity, mail
from sovstack.wiring.wire import wire
from tests.conftest import REPO

EXAMPLES = ["stacks/single.yml", "stacks/multi/sovstack.yml", "answers/neighbourhood-association.yml",
            "answers/small-choir.yml", "oidc-on-two-servers"]
# OpenID Connect across servers, a script tracker, a mail relay: the wiring the examples do not show.
OIDC_ON_TWO_SERVERS = {
    "organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
    "servers": {"main": {"address": "203.0.113.10"}, "web": {"address": "203.0.113.20"}},
    "mail_relay": {"host": "smtp.example.net", "username": "asso@example.net"},
    "tools": {"keycloak": {"server": "main"}, "nextcloud": {"server": "web"}, "hedgedoc": {"server": "main"},
              "matomo": {"server": "web"}}}
# The decisions wire() makes; render must read them from the Wiring, never make them again.
DECISIONS = [(identity, "provider"), (identity, "protocol"), (mail, "server"), (mail, "route"),
             (analytics, "tracker"), (analytics, "properties")]


def example_stack(catalog, questionnaire, example: str):
    if example == "oidc-on-two-servers":
        return parse_stack(OIDC_ON_TWO_SERVERS, "sovstack.yml", catalog)
    path = REPO / "examples" / example
    data = yaml.safe_load(path.read_text())
    if example.startswith("answers/"):
        rec = decide(resolve(questionnaire, data, source=example).answers, catalog)
        data = yaml.safe_load(draft(rec, catalog, organisation="Les Voisins", domain="voisins.example.org",
                                    admin_email="admin@voisins.example.org", server={"address": "203.0.113.10"},
                                    tls="public", language="fr").text)
    return parse_stack(data, path, catalog)


@pytest.fixture
def rendered(catalog, questionnaire, tmp_path):
    def make(example: str):
        stack = example_stack(catalog, questionnaire, example)
        wiring = wire(stack, catalog)
        (tmp_path / "secrets.yml").write_text("mail_relay:\n  password: relay-password-123456\n")
        secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wiring.wanted_secrets())
        return wiring, secrets, render(wiring, secrets, tmp_path / "build")
    return make


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_bundle_is_whole_and_consistent(rendered, tmp_path, example):
    wiring, _, bundles = rendered(example)
    assert [b.server for b in bundles] == list(wiring.stack.servers)
    for bundle in bundles:
        m = bundle.manifest
        dests = [e["dest"] for e in m["files"]]
        assert dests == sorted(dests) and set(dests) == set(bundle.files)
        directories = {d["path"] for d in m["directories"]}
        for entry in m["files"]:
            content = bundle.files[entry["dest"]]
            assert entry["sha256"] == hashlib.sha256(content).hexdigest(), entry["dest"]
            assert (tmp_path / "build" / bundle.server / entry["src"]).read_bytes() == content, entry["dest"]
            assert str(PurePosixPath(entry["dest"]).parent) in directories, entry["dest"]
        _steps_are_ordered(m, bundle.files)
        here = wiring.stack.tools_on(bundle.server)
        for tool_id in here:
            if (m["root"] + f"/apps/{tool_id}/compose.yml") in bundle.files:
                assert {"name": tool_id, "dir": f"{m['root']}/apps/{tool_id}"} in m["compose"]
        caddyfile = bundle.files["/etc/caddy/Caddyfile"].decode()
        web = [t for t in here if wiring.stack.fqdn(t, wiring.catalog)]
        for tool_id in web:
            assert f"\n{wiring.stack.fqdn(tool_id, wiring.catalog)} {{" in caddyfile, tool_id
        portal = [wiring.stack.portal_fqdn()] if wiring.stack.portal_server() == bundle.server else []
        assert sorted(h["fqdn"] for h in m["health"]) == sorted([wiring.stack.fqdn(t, wiring.catalog) for t in web]
                                                                + portal)
        assert DIAGNOSE_TIMER in [s["name"] for s in m["services"]] and DIAGNOSE_CONFIG in bundle.files


def _steps_are_ordered(manifest, files) -> None:
    """Base steps first (in BASE_STEPS order), then each tool's steps numbered in order, backup last."""
    steps = manifest["steps"]
    assert all(s["script"] in files for s in steps)
    base = [s["name"] for s in steps if s["tool"] is None and s["name"].startswith("base: ")]
    assert base == [f"base: {b['name']}" for b in reversed(BASE_STEPS)]
    assert [s["name"] for s in steps[:len(base)]] == base
    numbers = [int(re.search(r"/(\d+)-", s["script"]).group(1)) for s in steps if s["tool"]]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("example", EXAMPLES)
def test_render_gives_the_same_bytes_twice(rendered, tmp_path, example):
    wiring, secrets, bundles = rendered(example)
    again = render(wiring, secrets, tmp_path / "again")
    assert [(b.manifest, b.files) for b in again] == [(b.manifest, b.files) for b in bundles]


@pytest.mark.parametrize("example", EXAMPLES)
def test_render_reads_the_wiring_and_decides_nothing_again(rendered, tmp_path, monkeypatch, example):
    """Each wiring decision is made once, by wire(); render and the DNS notes only read the Wiring."""
    from sovstack.wiring.dns_records import notes

    wiring, secrets, _ = rendered(example)

    def refuse(*args, **kwargs):
        raise AssertionError("a wiring decision was made again outside wire()")
    for module, name in DECISIONS:
        monkeypatch.setattr(module, name, refuse)
    render(wiring, secrets, tmp_path / "again")
    notes(wiring)
