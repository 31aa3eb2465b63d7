"""A stated hosting preference is honoured, or the outcome says why not (decide._preference_conflict)."""

import pytest
import yaml

from sovstack.catalog import NEEDS, load_catalog
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import names_for
from tests.test_profiles import PROFILES

ALL = list(NEEDS)
CONFLICT_KEYS = {"preference_outscored", "preference_excluded", "preference_excluded_more", "preference_none"}
MODE = {"own-server": "self-host", "trusted-hoster": "hosted"}

# (answers, need, the outcome's mode, the conflict reason's key, the key of the reason it quotes (or None),
#  words of its English text)
CONFLICTS = [
    # One account per member and a hoster preferred: the own server's directory serves every need that has
    # accounts, while Disroot's one account covers only some, so the hosted offers are out for email.
    (dict(members=40, techie="confident", budget_eur_month=30, sso_required=True, hosting_preference="trusted-hoster",
          needs=ALL), "email", "self-host", "preference_excluded_more", "other_account_domain",
     "you would rather keep data with a trusted hoster, but Disroot could not be used: members would need a "
     "separate account"),
    # Own server preferred on €5: Nextcloud's server would cost about €8.03.
    (dict(members=40, techie="some", budget_eur_month=5, hosting_preference="own-server", needs=ALL),
     "files", "hosted", "preference_excluded_more", "over_budget_server",
     "you would rather keep data on your own server, but Nextcloud could not be used: the smallest server"),
    # Own server preferred, but free Framateam still scores higher than Prosody with the preference's +2.
    (dict(members=40, techie="some", budget_eur_month=5, hosting_preference="own-server", needs=ALL),
     "chat", "hosted", "preference_outscored", None,
     "you would rather keep data on your own server: Prosody had that preference's bonus (+2) and still scored"),
]


def _decide(catalog, questionnaire, answers):
    return decide(resolve(questionnaire, answers, source="test").answers, catalog)


@pytest.mark.parametrize("answers,need,mode,key,quoted,words", CONFLICTS)
def test_a_preference_not_followed_says_why(catalog, questionnaire, answers, need, mode, key, quoted, words):
    outcome = _decide(catalog, questionnaire, answers).outcomes[need]
    assert outcome.mode == mode
    [conflict] = [r for r in outcome.reasons if r.key in CONFLICT_KEYS]
    assert conflict.key == key
    inner = conflict.values.get("first", conflict)
    assert (inner.values["why"].key if "why" in inner.values else None) == quoted
    assert words in conflict.render("en", names_for(catalog))
    assert "vous préférez garder les données" in conflict.render("fr", names_for(catalog))


@pytest.mark.parametrize("preference", ["own-server", "trusted-hoster"])
@pytest.mark.parametrize("name,answers", [(p[0], p[1]) for p in PROFILES if p[1].get("techie") != "none"],
                         ids=[p[0] for p in PROFILES if p[1].get("techie") != "none"])
def test_every_pick_follows_the_preference_or_explains_itself(catalog, questionnaire, preference, name, answers):
    rec = _decide(catalog, questionnaire, dict(answers, hosting_preference=preference))
    for need, outcome in rec.outcomes.items():
        conflicts = [r for r in outcome.reasons if r.key in CONFLICT_KEYS]
        if outcome.pick is None or outcome.mode == MODE[preference]:
            assert conflicts == [], (need, conflicts)
        else:
            assert len(conflicts) == 1, (need, outcome.mode, outcome.reasons)


def test_no_option_of_the_preferred_kind_is_said_too(tree_copy, questionnaire):
    # A catalog where no hoster offers web analytics: a hoster preference cannot be followed for it.
    path = tree_copy / "hosters.yml"
    data = yaml.safe_load(path.read_text())
    for hoster in data["hosters"]:
        hoster["offers"] = [o for o in hoster["offers"] if o["need"] != "analytics"]
    data["hosters"] = [h for h in data["hosters"] if h["offers"]]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    catalog = load_catalog(tree_copy)
    outcome = _decide(catalog, questionnaire, dict(members=20, techie="confident", budget_eur_month=20,
                                                   hosting_preference="trusted-hoster", needs=["analytics"]))
    assert outcome.outcomes["analytics"].mode == "self-host"
    assert [r.key for r in outcome.outcomes["analytics"].reasons if r.key in CONFLICT_KEYS] == ["preference_none"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_reason_a_preferred_option_was_left_out_is_brief_in_the_main_text_and_whole_elsewhere(lang):
    """The conflict quotes the exclusion without the catalog's English (wording.BRIEF_PLACEHOLDERS); the
    exclusion itself, listed in the details, keeps it."""
    from sovstack.recommend.messages import say

    why = say("too_hard", difficulty=4, why="Needs Kubernetes and three databases.")
    assert "Kubernetes" in why.render(lang)
    text = say("preference_excluded", where=say("where_own"), runner_up="Zulip", why=why).render(lang)
    assert "4/5" in text and "Kubernetes" not in text, text
