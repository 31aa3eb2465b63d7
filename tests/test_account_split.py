"""One account, or an honest split (issue 14, item 3): with `sso_required`, when the picks give members
more than one account, the decision groups the needs by the account they use and says why, and the
report (en and fr) names them. Each row: answers over a base profile, then the expected groups
(needs, the reason's key, the account's tool or hoster), or None when one account is kept or not asked.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.recommend.report import render_markdown
from sovstack.recommend.service import recommend
from tests.conftest import DATA

BASE = dict(organisation="Les Amis du Quartier", members=40, francophone=True, techie="some", budget_eur_month=15,
            needs=["email", "documents", "files", "chat", "forms", "analytics"], existing_suite="google",
            office_formats=True, sso_required=True)

CASES = {
    # The demo: Disroot mail (no hosted mail joins the server's account); OpenLDAP connects the two logins
    # of the server, Nextcloud (with Office and Forms, apps with sso.via: nextcloud) and Prosody (its LDAP
    # login is wired since it comes from Debian with lua-ldap). GoatCounter has no members' login.
    "demo": [(["email"], "split_hoster", "disroot"),
             (["documents", "files", "chat", "forms"], "split_identity", "openldap")],
    # Not asked for: nothing to report.
    "no sso asked": ({"sso_required": False}, None),
    # Everything at Framaspace, whose services share one account (single_account): kept.
    "one hoster": ({"needs": ["documents", "files", "forms"]}, None),
    # No techie: Disroot for four needs, but its forms are not offered to 40 members, so Framaspace's
    # forms: two hoster accounts.
    "two hosters": ({"techie": "none"}, [(["email", "documents", "files", "chat"], "split_hoster", "disroot"),
                                         (["forms"], "split_hoster", "framaspace")]),
    # A confident techie with room: the mail server proven by sovstack's tests (Postfix+Dovecot, whose LDAP
    # login is wired) leads docker-mailserver by the proof bonus, so OpenLDAP connects mail too: one account.
    "identity with the proven mail server": ({"techie": "confident", "budget_eur_month": 60}, None),
    # Without that bonus (a catalog copy with proof_bonus 0), docker-mailserver leads; its LDAP login is not
    # wired by sovstack, so mail keeps its own accounts.
    "identity but mail apart": ({"techie": "confident", "budget_eur_month": 60},
                                [(["email"], "split_unconnected", "docker-mailserver"),
                                 (["documents", "files", "chat", "forms"], "split_identity", "openldap")],
                                {"proof_bonus": 0.0}),
}


def _case(row):
    return ({}, row, {}) if isinstance(row, list) else (*row, {}) if len(row) == 2 else row


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_split_is_named_in_the_decision_and_the_report(catalog, questionnaire, name, tmp_path, monkeypatch):
    over, expected, criteria = _case(CASES[name])
    if criteria:  # a catalog copy with these criteria.yml values
        tree = tmp_path / "decision_tree"
        shutil.copytree(DATA / "decision_tree", tree)
        path = tree / "criteria.yml"
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **criteria}, allow_unicode=True))
        monkeypatch.setenv("SOVSTACK_DECISION_TREE", str(tree))
        catalog = load_catalog()
    rec = recommend({**BASE, **over}, source="test", catalog=catalog, questionnaire=questionnaire).recommendation
    if expected is None:
        assert rec.split is None
        for lang, heading in (("en", "One account asked for, not kept"), ("fr", "Compte unique demandé, non tenu")):
            assert heading not in render_markdown(rec, catalog, lang)
        return
    got = [(needs, why.key, why.values.get("tool") or why.values.get("hoster") or why.values.get("identity"))
           for needs, why in rec.split.groups]
    assert got == expected
    for lang, heading in (("en", "One account asked for, not kept"), ("fr", "Compte unique demandé, non tenu")):
        section = render_markdown(rec, catalog, lang).split(heading, 1)[1].split("\n## ")[0]
        lines = [line for line in section.splitlines() if line.startswith("- ")]
        assert len(lines) == len(expected), lines
        for line, (needs, _, account) in zip(lines, expected):
            for need in needs:
                assert catalog.criteria.needs[need].label.get(lang) in line, (lang, need, line)
            name_of = catalog.tools[account].name if account in catalog.tools else catalog.hosters[account].name
            assert name_of.split(" (")[0] in line, (lang, account, line)
