"""End-of-life software: a sourced catalog fact, never picked while another option for the need is eligible."""

import datetime

import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.errors import CatalogError
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve

from tests.test_profiles import PROFILES

# Forms and nothing else, so nothing but the forms options decides the pick.
ONLY_EOL_LEFT = dict(members=12, techie="none", budget_eur_month=0, needs=["forms"])  # not francophone, no techie
ANOTHER_ELIGIBLE = dict(members=12, techie="none", budget_eur_month=0, francophone=True, needs=["forms"])


def test_yakforms_end_of_life_is_a_sourced_fact(catalog):
    eol = catalog.tools["yakforms"].end_of_life
    assert eol is not None and eol.since == datetime.date(2025, 1, 5)
    assert eol.source.startswith("https://www.drupal.org/") and "Drupal 7" in eol.note


@pytest.mark.parametrize("mutate,words", [
    (lambda d: d.pop("end_of_life"), ["yakforms.yml", "end_of_life", "end-of-life"]),
    (lambda d: d["end_of_life"].update(since="soon"), ["yakforms.yml", "end_of_life.since", "'soon'"]),
    (lambda d: d["end_of_life"].pop("source"), ["yakforms.yml", "end_of_life.source"]),
])
def test_end_of_life_fact_is_validated(tree_copy, mutate, words):
    path = tree_copy / "tools" / "yakforms.yml"
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    for word in words:
        assert word in err.value.message, (word, err.value.message)


def test_end_of_life_offer_is_excluded_when_another_is_eligible(catalog, questionnaire):
    # Framaspace (francophone, <= 50 accounts) offers Nextcloud Forms: Framaforms (Drupal 7) is out, with why.
    outcome = decide(resolve(questionnaire, ANOTHER_ELIGIBLE, source="t").answers, catalog).outcomes["forms"]
    assert (outcome.pick.hoster, outcome.pick.tool) == ("framaspace", "nextcloud-forms")
    why = {e.hoster: e.why for e in outcome.excluded if e.hoster}["framasoft"]
    assert why.key == "end_of_life_other"
    assert "2025-01-05" in why.render("en") and "2025-01-05" in why.render("fr")
    assert all(c.end_of_life is None for c in outcome.ranked)


def test_end_of_life_offer_is_taken_only_when_nothing_else_is_left_and_says_so(catalog, questionnaire):
    outcome = decide(resolve(questionnaire, ONLY_EOL_LEFT, source="t").answers, catalog).outcomes["forms"]
    assert (outcome.pick.hoster, outcome.pick.tool) == ("framasoft", "yakforms")
    notes = [r for r in outcome.reasons if r.key == "end_of_life_only"]
    assert notes and "Yakforms" in notes[0].render("en") and "fin de vie" in notes[0].render("fr")


@pytest.mark.parametrize("name,answers", [(p[0], p[1]) for p in PROFILES], ids=[p[0] for p in PROFILES])
def test_no_end_of_life_pick_while_another_option_is_eligible(catalog, questionnaire, name, answers):
    rec = decide(resolve(questionnaire, answers, source=name).answers, catalog)
    for need, o in rec.outcomes.items():
        if o.pick is None:
            continue
        if o.pick.end_of_life is not None:
            assert all(c.end_of_life is not None for c in o.ranked), (need, "an eligible option was passed over")
            assert any(r.key == "end_of_life_only" for r in o.reasons), need
        else:
            assert all(c.end_of_life is None for c in o.ranked), need
