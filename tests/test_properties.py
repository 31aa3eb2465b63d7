"""Properties of the decision over any valid answers (hypothesis)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovstack.catalog import NEEDS
from sovstack.recommend.answers import Answers
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import render_html, render_markdown, to_data


@st.composite
def answers(draw):
    needs = draw(st.lists(st.sampled_from(NEEDS), min_size=1, max_size=7, unique=True))
    techie = draw(st.sampled_from(["none", "some", "confident"]))
    a = {
        "members": draw(st.integers(1, 2000)),
        "techie": techie,
        "budget_eur_month": draw(st.one_of(st.integers(0, 200), st.floats(0, 200, allow_nan=False))),
        "needs": needs,
        "francophone": draw(st.booleans()),
        "existing_suite": draw(st.sampled_from(["google", "microsoft", "other", "none"])),
        "e2ee_required": draw(st.booleans()),
        "priority": draw(st.sampled_from(["balanced", "sovereignty", "cost", "onboarding", "features"])),
        "already_covered": draw(st.lists(st.sampled_from(needs), unique=True, max_size=2)),
    }
    if "documents" in needs:
        a["office_formats"] = draw(st.booleans())
    if len(needs) > 1:
        a["sso_required"] = draw(st.booleans())
    if techie != "none":
        a["hosting_preference"] = draw(st.sampled_from(["own-server", "trusted-hoster", "no-preference"]))
        a["server_ram_mb"] = draw(st.one_of(st.none(), st.integers(512, 65536)))
    return a


PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROFILE
@given(raw=answers())
def test_one_outcome_per_requested_need_and_reasons_everywhere(catalog, questionnaire, raw):
    typed = resolve(questionnaire, raw, source="hypothesis").answers
    rec = decide(typed, catalog)
    assert list(rec.outcomes) == [n for n in NEEDS if n in raw["needs"]]
    for need, outcome in rec.outcomes.items():
        assert outcome.mode in ("self-host", "hosted", "keep")
        assert (outcome.pick is None) == (outcome.mode == "keep")
        assert outcome.reasons, need
        for e in outcome.excluded:
            assert e.why.render("en") and e.why.render("fr")
        if need in raw["already_covered"]:
            assert outcome.mode == "keep"
        # every catalog tool of the category is accounted for: picked, ranked, excluded or an add-on
        seen = {c.tool for c in outcome.ranked if c.mode == "self-host"} | \
               {e.tool for e in outcome.excluded if e.mode == "self-host"}
        for tool in catalog.tools_by_category[need]:
            assert tool.role == "addon" or tool.id in seen or need in raw["already_covered"], (need, tool.id)


@PROFILE
@given(raw=answers(), lang=st.sampled_from(["en", "fr"]))
def test_every_recommendation_renders_its_report_naming_each_pick(catalog, questionnaire, raw, lang):
    rec = decide(resolve(questionnaire, raw, source="hypothesis").answers, catalog)
    markdown, html = render_markdown(rec, catalog, lang), render_html(rec, catalog, lang)
    for outcome in rec.outcomes.values():
        for tool_id in ([outcome.pick.tool] if outcome.pick and outcome.pick.tool else []) + outcome.companions:
            assert catalog.tools[tool_id].name in markdown, tool_id
            assert catalog.tools[tool_id].name.replace("&", "&amp;") in html, tool_id


@PROFILE
@given(raw=answers())
def test_same_input_same_output(catalog, questionnaire, raw):
    typed = resolve(questionnaire, raw, source="hypothesis").answers
    copy = Answers.of(typed.as_dict())
    assert to_data(decide(typed, catalog), "en") == to_data(decide(copy, catalog), "en")


@PROFILE
@given(raw=answers())
def test_self_hosted_part_fits_the_server_and_the_budget(catalog, questionnaire, raw):
    typed = resolve(questionnaire, raw, source="hypothesis").answers
    rec = decide(typed, catalog)
    totals = rec.totals
    if typed.server_ram_mb is not None and totals.self_hosted_tools:
        assert totals.ram_mb <= typed.server_ram_mb
    assert totals.monthly_eur <= typed.budget_eur_month + 1e-9
    assert totals.fits
    if typed.techie == "none":
        assert all(o.mode != "self-host" for o in rec.outcomes.values()) and not totals.self_hosted_tools


@PROFILE
@given(raw=answers())
def test_hard_limits_are_never_broken_by_a_pick(catalog, questionnaire, raw):
    typed = resolve(questionnaire, raw, source="hypothesis").answers
    rec = decide(typed, catalog)
    for need, o in rec.outcomes.items():
        if o.pick is None or o.pick.mode != "self-host":
            continue
        tool = catalog.tools[o.pick.tool]
        assert tool.limits.user_cap is None or typed.members <= tool.limits.user_cap
        assert tool.maintenance.status not in ("end-of-life", "archived")
        if typed.e2ee_required and catalog.criteria.needs[need].e2ee_applies:
            assert tool.e2ee.value in ("yes", "partial")
        if typed.sso_required and catalog.criteria.needs[need].sso_applies:
            assert tool.sso.free()
        if typed.office_formats and need == "documents":
            assert tool.office_formats != "none"
