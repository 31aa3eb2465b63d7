"""init's draft: hosted email drafts mail_relay from the hoster's documented SMTP submission, nothing to
self-host writes no server, and the CLI says so (tables; the property is in tests/test_one_flow.py)."""

from __future__ import annotations

import json

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner

from sovstack.cli.main import main
from sovstack.recommend.service import load_answers_file, recommend
from sovstack.stack.draft import draft, hosted_email

SERVER = {"address": "192.0.2.10", "ssh_user": "root", "ssh_port": 22}

# (answers overrides, expected mail_relay or None). Facts from hosters.yml, each with its source:
# Disroot documents disroot.org:587 STARTTLS (its email settings how-to); Proton documents
# smtp.protonmail.ch:587 STARTTLS (its SMTP submission page). Deuxfleurs, Zaclys and ARN's sans-nuage
# document none we could source: init says to ask them. Tools send as the login (sender: login): Proton
# documents that the token's address is the sender; Disroot documents no other, and the login's own is
# always accepted.
EMAIL_CASES = [
    ("disroot", {"host": "disroot.org", "port": 587, "username": "admin@asso.example.org", "security": "starttls",
                 "sender": "login"}),
    ("proton", {"host": "smtp.protonmail.ch", "port": 587, "username": "admin@asso.example.org",
                "security": "starttls", "sender": "login"}),
    ("deuxfleurs", None),
    ("zaclys", None),
]

EXAMPLES = Path(__file__).parent.parent / "examples" / "answers"


def with_email_at(rec, hoster):
    """The example's recommendation, its email hosted at this hoster (the offer's tool: none)."""
    outcomes = dict(rec.outcomes)
    outcomes["email"] = SimpleNamespace(mode="hosted", pick=SimpleNamespace(tool=None, hoster=hoster), companions=[])
    return SimpleNamespace(outcomes=outcomes, identity=rec.identity)


@pytest.fixture(scope="module")
def neighbours():
    """Self-hosts Nextcloud and more (examples/answers/neighbourhood-association.yml)."""
    return recommend(load_answers_file(EXAMPLES / "neighbourhood-association.yml"), source="test")


@pytest.mark.parametrize("hoster,relay", EMAIL_CASES)
def test_hosted_email_drafts_mail_relay_from_the_hosters_facts(neighbours, hoster, relay):
    rec = with_email_at(neighbours.recommendation, hoster)
    made = draft(rec, neighbours.catalog, organisation="Les Voisins", domain="asso.example.org",
                 admin_email="admin@asso.example.org", server=SERVER, tls="public", language="en")
    data = yaml.safe_load(made.text)
    assert data.get("mail_relay") == relay
    assert made.relay_hoster == hoster
    if relay is None:  # not sourced: the file says whom to ask
        assert f"# mail_relay: ask {neighbours.catalog.hosters[hoster].name} for its SMTP server" in made.text
    assert hosted_email(rec, neighbours.catalog)[0] == hoster


def test_the_relay_logs_in_as_the_given_mailbox(neighbours):
    rec = with_email_at(neighbours.recommendation, "disroot")
    made = draft(rec, neighbours.catalog, organisation="Les Voisins", domain="asso.example.org",
                 admin_email="admin@asso.example.org", server=SERVER, tls="public", language="en",
                 relay_user="voisins@disroot.org")
    assert yaml.safe_load(made.text)["mail_relay"]["username"] == "voisins@disroot.org"


def run_init(tmp_path, example, *extra):
    out = tmp_path / "sovstack.yml"
    result = CliRunner().invoke(main, ["init", "--answers", str(EXAMPLES / example), "--domain", "asso.example.org",
                                       "--admin-email", "admin@asso.example.org", "--out", str(out), *extra])
    return result, out


# (example, server written, what init says). small-choir hosts every need at Framasoft/Framaspace.
INIT_CASES = [
    ("small-choir.yml", False, ["self-hosted: nothing", "nothing to deploy", "no server was written"]),
    ("neighbourhood-association.yml", True,
     ["hosted: email at disroot", "mail relay: disroot.org:587 (starttls) as admin@asso.example.org",
      "add its password to", "next: sovstack plan"]),
]


@pytest.mark.parametrize("example,has_server,said", INIT_CASES)
def test_init_writes_a_server_only_when_something_is_self_hosted(tmp_path, example, has_server, said):
    result, out = run_init(tmp_path, example, "--server", "192.0.2.10")
    assert result.exit_code == 0, result.output
    for words in said:
        assert words in result.output, (words, result.output)
    data = yaml.safe_load(out.read_text())
    assert bool(data["servers"]) == has_server
    assert ("next: sovstack plan" in result.output) == has_server
    dns = CliRunner().invoke(main, ["dns", "--json", "--stack", str(out)])
    if has_server:
        return
    assert dns.exit_code == 0, dns.output
    assert not [r for r in json.loads(dns.output)["records"] if r["name"].startswith("apps.")]
    render = CliRunner().invoke(main, ["render", "--stack", str(out)])
    assert render.exit_code != 0 and "nothing to deploy" in render.output


def test_init_asks_no_server_when_nothing_is_self_hosted(tmp_path):
    """No --server and no terminal: with nothing to self-host, init needs no server address."""
    result, out = run_init(tmp_path, "small-choir.yml")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["servers"] == {}


# The report's next steps, per profile: (example, lang, in the next steps, never in them). Facts: the
# small choir hosts everything at Framaspace (one account, forms included: Framaforms runs end-of-life
# Drupal 7, so it is not picked) and its video rooms need no account, and it has no server; the neighbours
# host email at Disroot (own domain not known) and self-host the rest.
NEXT_STEPS = [
    ("small-choir.yml", "en", ["Framaspace (https://frama.space)", "an account for each of your 25 members",
                               "the one account opening Shared documents, Files, Forms and surveys",
                               # video is at Entraide CHATONS (Framasoft's accounts are not shared, so no
                               # same-hoster bonus): its rooms need no account, and the line says so
                               "nothing: Video calls need no account"],
     ["sovstack init", "Framasoft"]),
    ("small-choir.yml", "fr", ["Quoi leur demander", "un compte pour chacun de vos 25 membres"], ["sovstack init"]),
    ("neighbourhood-association.yml", "en",
     ["Disroot (https://disroot.org)", "whether the addresses can be on your association's own domain",
      "sovstack init"], ["SMTP server"]),
]


def next_steps(markdown: str) -> str:
    start = next(markdown.index(h) for h in ("## Next steps", "## Et ensuite") if h in markdown)
    return markdown[start:markdown.index("\n## ", start + 3)]


@pytest.mark.parametrize("example,lang,present,absent", NEXT_STEPS)
def test_next_steps_fit_the_profile(example, lang, present, absent):
    from sovstack.recommend.report import render_markdown

    result = recommend(load_answers_file(EXAMPLES / example), source="test")
    steps = next_steps(render_markdown(result.recommendation, result.catalog, lang))
    for words in present:
        assert words in steps, (words, steps)
    for words in absent:
        assert words not in steps, (words, steps)


def test_the_smtp_settings_are_asked_when_the_catalog_has_none(neighbours):
    """Email at Deuxfleurs (no sourced SMTP facts) beside self-hosted tools: ask for them."""
    from sovstack.recommend.report import hoster_asks

    rec = neighbours.recommendation
    outcomes = dict(rec.outcomes)
    outcomes["email"] = SimpleNamespace(mode="hosted", pick=SimpleNamespace(tool=None, hoster="deuxfleurs"),
                                        companions=[])
    fake = SimpleNamespace(outcomes=outcomes, identity=rec.identity, answers=rec.answers, totals=rec.totals)
    asks = {h["hoster"]: h["asks"] for h in hoster_asks(fake, neighbours.catalog, "en")}
    assert any("SMTP server, port and security" in a for a in asks["Deuxfleurs"]), asks
    outcomes["email"] = SimpleNamespace(mode="hosted", pick=SimpleNamespace(tool=None, hoster="disroot"),
                                        companions=[])
    asks = {h["hoster"]: h["asks"] for h in hoster_asks(fake, neighbours.catalog, "en")}
    assert not any("SMTP" in a for a in asks["Disroot"]), asks
