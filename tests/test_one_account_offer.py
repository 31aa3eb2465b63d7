"""A free hoster whose one account already holds several of the group's needs is preferred for one more
need over a comparable free service that needs a separate sign-up (criteria.yml one_account_bonus)."""

import pytest

from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import names_for

NO_TECHIE = dict(members=30, techie="none", budget_eur_month=0)

# (needs, chat's pick, the note on Disroot's chat offer, the needs that note names)
CASES = [
    # Disroot's one account holds documents and files: its XMPP chat (16 + 2.5) leads Framateam (18).
    (["documents", "files", "chat"], "disroot", "together_one_account", "documents, files"),
    (["email", "documents", "files", "chat"], "disroot", "together_one_account", "email, documents, files"),
    # One other need only: the plain same-hoster bonus (+1) leaves Framateam ahead.
    (["files", "chat"], "framasoft", "together_hoster", None),
]


@pytest.mark.parametrize("needs,pick,key,served", CASES)
def test_a_free_one_account_hoster_holding_several_needs_takes_one_more(catalog, questionnaire, needs, pick, key,
                                                                         served):
    rec = decide(resolve(questionnaire, dict(NO_TECHIE, needs=needs), source="test").answers, catalog)
    chat = rec.outcomes["chat"]
    assert chat.pick.hoster == pick
    disroot = next(c for c in chat.ranked if c.hoster == "disroot")
    [note] = [n for n in disroot.notes if n.key.startswith("together_")]
    assert note.key == key
    if served:
        assert note.values["needs"] == served
        assert "the one account members already use there for" in note.render("en", names_for(catalog))
        assert "le compte unique" in note.render("fr", names_for(catalog))
