"""One flow, end to end (hypothesis): any valid answers go through ask -> init -> render, in-process
and in a temporary directory, and what was recommended is what is deployed and wired.

- every step succeeds;
- every self-host pick, its companions, the identity tool and everything they require are in the stack,
  and init refuses none of them;
- every tool the report says the identity tool "connects" is wired by render (its identity Link), and
  nothing else is; an identity tool is one `sovstack members` manages and connects two tools or more;
  without one, the report says each tool keeps its own accounts;
- `keep` only for a need already covered, or when every option was excluded, and then it says so;
- with nothing self-hosted, no server is written (and no members' portal);
- hosted email => mail_relay drafted from the hoster's SMTP facts (when the offer has them and there are
  tools to send mail), its password in secrets.yml only.
- `sso_required` is kept (one account for every need that has accounts), or the split is reported:
  in the decision (`split`, every need with its account) and in the report's text;
- `sovstack check --only wiring` gives one finding per subject, and none for an app that logs in
  through its base tool (catalog `sso.via`).

300 examples in the normal run; SOVSTACK_LONG_PROPERTIES=<n> runs n.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings

from sovstack.catalog import has_member_login, login_base, manages_members
from sovstack.check.findings import CheckInput
from sovstack.check.run import wiring_findings
from sovstack.recommend.report import render_markdown
from sovstack.recommend.service import recommend
from sovstack.render.bundle import render
from sovstack.stack.draft import draft, hosted_email
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire
from sovstack.yamlio import load_yaml
from tests.test_properties import answers

EXAMPLES = int(os.environ.get("SOVSTACK_LONG_PROPERTIES") or 300)
SERVER = {"address": "192.0.2.10", "ssh_user": "root", "ssh_port": 22}


def run_flow(raw, catalog, questionnaire, where):
    """ask -> init -> render as the CLI runs them, minus the printing: (result, draft, wiring)."""
    result = recommend(raw, source="hypothesis", catalog=catalog, questionnaire=questionnaire)
    rec = result.recommendation
    made = draft(rec, catalog, organisation="Association test", domain="asso.example.org",
                 admin_email="admin@asso.example.org", server=SERVER, tls="internal",
                 language="fr" if rec.answers.francophone else "en")
    path = where / "sovstack.yml"
    path.write_text(made.text)
    stack = parse_stack(load_yaml(path), path, catalog)
    w = wire(stack, catalog)
    if stack.mail_relay is not None:  # the one secret init asks for rather than generates
        (where / "secrets.yml").write_text("mail_relay:\n  password: relay-password-for-the-test\n")
    secrets = ensure_secrets(stack, where / "secrets.yml", w.wanted_secrets())
    if stack.servers:  # with no server there is nothing to render: init says so, render refuses
        render(w, secrets, where / "out")
    return result, made, w


def options_for(catalog, need):
    """Every option of a need as (tool, hoster): what a decision must pick, rank or exclude."""
    found = {(t.id, None) for t in catalog.tools_by_category[need] if t.role != "addon"}
    found |= {(o.tool, h.id) for h in catalog.hosters.values() for o in h.offers if o.need == need}
    return found


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(raw=answers())
def test_what_is_recommended_is_what_is_deployed_and_wired(catalog, questionnaire, tmp_path_factory, raw):
    where = tmp_path_factory.mktemp("flow")
    result, made, w = run_flow(raw, catalog, questionnaire, where)
    rec = result.recommendation

    # init takes every self-hosted tool, with what travels with it, and refuses none
    assert made.refused == [], made.refused
    for need, o in rec.outcomes.items():
        if o.mode == "self-host":
            for tool in [o.pick.tool, *o.companions, *catalog.tools[o.pick.tool].requires_tools]:
                assert tool in w.stack.tools, (need, tool)
    assert set(rec.totals.self_hosted_tools) == set(w.stack.tools)

    # every "connects" is a wire render sets up, and nothing else is wired to the identity tool
    wired = {link.tool for link in w.links if link.aspect == "identity" and link.wired}
    if rec.identity is not None:
        assert rec.identity.tool.id in w.stack.tools
        assert manages_members(catalog, w.provider), w.provider
        assert set(rec.identity.connected) == wired
        assert len(wired) >= 2
        assert result.data["identity"]["connected"] == rec.identity.connected
    else:
        assert w.provider is None and not wired
        members = [t for t in w.stack.tools if catalog.tools[t].role == "main" and not catalog.tools[t].sso.via
                   and not (catalog.tools[t].analytics and catalog.tools[t].analytics.collects == "logs")]
        assert (rec.own_accounts is not None) == bool(members), members
    # keep: only for what is covered, or when every option was excluded, and then it says so
    covered = set(rec.answers.already_covered)
    for need, o in rec.outcomes.items():
        if need in covered:
            assert o.mode == "keep", need
        elif o.mode == "keep":
            assert not o.ranked, need
            assert [r.key for r in o.reasons] == ["keep_all_excluded"], need
            assert options_for(catalog, need) <= {(e.tool, e.hoster) for e in o.excluded}, need
            assert o.reasons[0].render("en").startswith("every option was excluded: ")

    # with nothing self-hosted, no server is written
    if not rec.totals.self_hosted_tools:
        assert w.stack.servers == {} and w.stack.portal_fqdn() is None, w.stack.servers
    else:
        assert list(w.stack.servers) == ["main"]
    # hosted email => mail_relay drafted from the hoster's SMTP facts, never its password
    hoster, smtp = hosted_email(rec, catalog)
    if smtp is not None and w.stack.tools:
        relay = w.stack.mail_relay
        assert relay is not None, hoster
        assert (relay.host, relay.port, relay.security) == (smtp.host, smtp.port, smtp.security), hoster
        assert "password" not in made.relay, made.relay
    elif hoster is None:
        assert w.stack.mail_relay is None

    # one account, or an honest split: both in the decision and in the report's words
    accounts = accounts_by_need(rec, catalog, w)
    if rec.answers.sso_required and len(set(accounts.values())) > 1:
        assert rec.split is not None, accounts
        assert sorted(n for needs, _ in rec.split.groups for n in needs) == sorted(accounts), accounts
        lang = "fr" if rec.answers.francophone else "en"
        text = render_markdown(rec, catalog, lang)
        section = text.split(REPORT_SPLIT[lang], 1)
        assert len(section) == 2, "the report does not say the single account is not kept"
        for need in accounts:
            assert catalog.criteria.needs[need].label.get(lang) in section[1].split("\n## ")[0], need
    else:
        assert rec.split is None, accounts

    # check: one finding per subject, and an app that logs in through its base has none of its own
    findings = wiring_findings(CheckInput(w.stack, catalog, None, where / "sovstack.yml"))
    subjects = [f.subject for f in findings]
    assert len(subjects) == len(set(subjects)), sorted(s for s in subjects if subjects.count(s) > 1)
    for tool_id in w.stack.tools:
        if catalog.tools[tool_id].sso.via:
            assert f"identity {tool_id}" not in subjects, tool_id


REPORT_SPLIT = {"en": "### One account asked for, not kept", "fr": "### Compte unique demandé, non tenu"}


def accounts_by_need(rec, catalog, w):
    """The account members use for each need that has accounts, read from what render wired (not from the
    decision): the directory when the tool's login base is wired to it, else the tool's or hoster's own."""
    found = {}
    for need, o in rec.outcomes.items():
        if o.pick is None or not catalog.criteria.needs[need].sso_applies:
            continue
        if o.mode == "hosted":
            hoster = catalog.hosters[o.pick.hoster]
            found[need] = hoster.id if hoster.single_account else f"{hoster.id}/{need}"
            continue
        base = login_base(catalog, o.pick.tool, w.stack.tools)
        if not has_member_login(catalog.tools[base]):
            continue
        found[need] = "directory" if w.tools[base].identity else base
    return found
