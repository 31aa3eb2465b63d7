"""A free hoster that runs the same software without its user cap is weighed against self-hosting it.

Mattermost's free edition stops at 250 users (tools/mattermost.yml limits.user_cap); Framateam runs
Mostlymatter, Framasoft's fork without that cap (hosters.yml framasoft, cap_lifted). Rocket.Chat's free
edition stops at 50 and no hoster in the catalog lifts it.
"""

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.errors import CatalogError
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import names_for

CHAT = dict(techie="confident", budget_eur_month=50, needs=["chat"])

# (members, tool, what the decision says about self-hosting it: a candidate's note or an exclusion's reason,
#  the values that reason carries)
CAPS = [
    (240, "mattermost", "user_cap_room_hosted", {"cap": 250, "room": 10, "service": "Framateam", "hoster": "framasoft"}),
    (250, "mattermost", "user_cap_room_hosted", {"cap": 250, "room": 0, "service": "Framateam", "hoster": "framasoft"}),
    (251, "mattermost", "user_cap_hosted", {"cap": 250, "members": 251, "service": "Framateam", "hoster": "framasoft"}),
    (40, "rocketchat", "user_cap_room", {"cap": 50, "room": 10}),
    (51, "rocketchat", "user_cap", {"cap": 50, "members": 51}),
]


def _chat(catalog, questionnaire, members, **more):
    answers = resolve(questionnaire, dict(CHAT, members=members, **more), source="test").answers
    return decide(answers, catalog).outcomes["chat"]


@pytest.mark.parametrize("members,tool,key,values", CAPS)
def test_a_capped_tool_says_its_room_or_where_the_same_software_runs_without_the_cap(
        catalog, questionnaire, members, tool, key, values):
    outcome = _chat(catalog, questionnaire, members)
    said = [n for c in outcome.ranked if c.mode == "self-host" and c.tool == tool for n in c.notes] + \
        [e.why for e in outcome.excluded if e.mode == "self-host" and e.tool == tool]
    found = [r for r in said if r.key.startswith("user_cap")]
    assert [(r.key, r.values) for r in found] == [(key, values)]


@pytest.mark.parametrize("members", [100, 251, 2000])
def test_the_uncapped_hosted_offer_says_it_runs_the_same_software(catalog, questionnaire, members):
    outcome = _chat(catalog, questionnaire, members)
    framateam = next(c for c in outcome.ranked if c.hoster == "framasoft")
    note = next(n for n in framateam.notes if n.key == "cap_lifted")
    assert note.values == {"tool": "mattermost", "cap": 250}
    for lang, words in (("en", "without its free edition's 250-user cap"), ("fr", "sans la limite de 250")):
        assert words in note.render(lang, names_for(catalog))


def test_past_the_cap_the_group_still_gets_that_software_from_the_hoster(catalog, questionnaire):
    # 300 members, no hosting preference: Mattermost on their own server is out (250), Framateam is free
    # and runs the same software, and it is the pick; the report can say why Mattermost is not theirs.
    outcome = _chat(catalog, questionnaire, 300)
    assert (outcome.mode, outcome.pick.hoster, outcome.pick.tool) == ("hosted", "framasoft", "mattermost")
    text = "; ".join(e.why.render("en", names_for(catalog)) for e in outcome.excluded if e.tool == "mattermost")
    assert "stops at 250 users and you have 300; Framateam, by Framasoft, runs the same software" in text


def test_cap_lifted_on_an_offer_whose_tool_has_no_cap_is_a_catalog_error(tree_copy):
    path = tree_copy / "hosters.yml"
    data = yaml.safe_load(path.read_text())
    disroot = next(h for h in data["hosters"] if h["id"] == "disroot")
    offer = next(o for o in disroot["offers"] if o.get("tool") == "nextcloud")
    offer["cap_lifted"] = {"note": "no cap", "source": "https://disroot.org"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "hosters.yml" in err.value.message and "disroot.offers." in err.value.message
    assert "'nextcloud' has no user cap" in err.value.message and "fix: remove 'cap_lifted'" in err.value.message
