"""The report pages: self-contained, printable, in both languages, saying what the decision says."""

import re

import pytest

from sovstack.recommend.service import recommend
from sovstack.recommend.wording import money
from tests.conftest import base_answers


@pytest.fixture(scope="module")
def result_en():
    return recommend(base_answers(organisation="Les <Amis> & Co"), source="test", lang="en")


def test_html_is_self_contained_and_printable(result_en):
    html = result_en.html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@media print" in html
    assert '<meta name="viewport"' in html


def test_html_escapes_the_organisation_name(result_en):
    assert "Les &lt;Amis&gt; &amp; Co" in result_en.html and "<Amis>" not in result_en.html


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_report_names_every_pick_runner_up_and_exclusion(result_en, fmt):
    text = getattr(result_en, fmt)
    catalog = result_en.catalog
    for need, entry in result_en.data["categories"].items():
        assert catalog.criteria.needs[need].label.en in text
        if entry["tool"]:
            assert catalog.tools[entry["tool"]].name in text
        for reason in entry["reasons"]:
            assert (reason if fmt == "markdown" else _escaped(reason)) in text
        for excluded in entry["excluded"]:
            assert (excluded["why"] if fmt == "markdown" else _escaped(excluded["why"])) in text
    assert money(result_en.data['totals']['monthly_eur'], "en") in text


def _escaped(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;")


def test_french_report_is_in_french():
    result = recommend(base_answers(), source="test", lang="fr")
    assert '<html lang="fr">' in result.html
    assert "Coût mensuel estimé" in result.markdown and "Estimated monthly cost" not in result.markdown
    assert any("score global" in r for r in result.data["categories"]["chat"]["reasons"])


# A hoster without a known price (Proton's euro prices are not sourced in hosters.yml) is never counted
# as €0: the total says "price unknown", and the fit with the budget is not known.
UNPRICED = dict(members=10, techie="none", budget_eur_month=0, hosting_preference="trusted-hoster",
                e2ee_required=True)


@pytest.mark.parametrize("overrides, lang, wanted, unwanted", [
    (UNPRICED, "en", ["+ price unknown", "Your budget is already spent without Proton"], []),
    (UNPRICED, "fr", ["+ prix inconnu", "Votre budget est déjà dépensé sans Proton"], ["price unknown"]),
    ({**UNPRICED, "budget_eur_month": 25}, "fr", ["pas le prix de Proton", money(16, "fr")], []),
    ({**UNPRICED, "budget_eur_month": 25}, "en",
     ["+ price unknown", "not known until you have a price from Proton", money(16, "en")], []),
    ({}, "en", [], ["price unknown", "not known until"]),  # every price known: no such words
])
def test_an_unknown_price_is_never_counted_as_zero(overrides, lang, wanted, unwanted):
    result = recommend(base_answers(**overrides), source="test", lang=lang)
    totals = result.data["totals"]
    assert bool(totals["unpriced"]) == bool(wanted), totals
    assert totals["fits_known"] == (not totals["unpriced"] and totals["fits"]), totals
    for text in (result.markdown, result.html):
        for phrase in wanted:
            assert phrase in text, phrase
        for phrase in unwanted:
            assert phrase not in text, phrase
