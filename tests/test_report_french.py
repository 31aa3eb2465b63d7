"""The report is written for the group: it leads with the recommendation, and in French it is French.

The main text (everything before the details section) must hold none of the English the report
could leak: the English wording of the report and of the reasons, the criteria's English names, and
every English sentence of the catalog (score reasons, hoster notes, source-checking notes). Money is
written as French writes it ("8,03 €"). The details section may quote the catalog, labelled as English.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from sovstack.catalog import CRITERIA, load_catalog
from sovstack.recommend import wording
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import render_html, render_markdown
from sovstack.recommend.service import recommend
from tests.conftest import REPO
from tests.test_properties import answers as random_answers

EXAMPLES = sorted((REPO / "examples" / "answers").glob("*.yml"))
FR = wording.REPORT_TEXT["fr"]
EN = wording.REPORT_TEXT["en"]


def _leaves(group):
    for value in group.values():
        if set(value) == set(wording.LANGS):
            yield value
        else:
            yield from _leaves(value)


def _fragments(text: str) -> list[str]:
    """The fixed parts of a sentence, between its blanks and code spans, that are at least two words."""
    parts = re.split(r"\{[^}]*\}|`[^`]*`", text)
    found = []
    for part in parts:
        part = part.strip(" .,;:()+-–—“”«»'\"/")
        if len(re.findall(r"[A-Za-z]{2,}", part)) >= 2:
            found.append(part)
    return found


def _catalog_english(catalog) -> set[str]:
    """Every English sentence of the catalog a report could show: reasons, notes, descriptions."""
    found: set[str] = set()

    def walk(value, depth=0):
        if depth > 8 or value is None:
            return
        if isinstance(value, str):
            return
        if isinstance(value, (list, tuple)):
            for v in value:
                walk(v, depth + 1)
            return
        if isinstance(value, dict):
            for v in value.values():
                walk(v, depth + 1)
            return
        if type(value).__name__ == "Text":
            found.add(value.en)
            return
        for name in ("reason", "note", "not_wired"):
            text = getattr(value, name, None)
            if isinstance(text, str):
                found.add(text)
        if hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                walk(getattr(value, name), depth + 1)

    for tool in catalog.tools.values():
        walk(tool)
    for hoster in catalog.hosters.values():
        walk(hoster)
    walk(catalog.criteria.criteria)
    walk(catalog.criteria.needs)
    # a sentence is looked for by its first words, so a quote cut short is caught too
    return {" ".join(s.split()[:6]) for s in found if len(s.split()) >= 3}


@lru_cache(maxsize=1)
def english_table() -> tuple[tuple[str, str], ...]:
    """(English phrase, where it comes from), built from the English wording and the catalog."""
    catalog = load_catalog()
    french = " ".join(s["fr"] for g in (wording.REPORT, wording.REASONS) for s in _leaves(g))
    table = {}
    for group_name in ("REPORT", "REASONS"):
        for sentence in _leaves(getattr(wording, group_name)):
            for fragment in _fragments(sentence["en"]):
                if fragment not in french:  # the same words in both languages are not a leak
                    table[fragment] = f"wording.{group_name}"
    for label in catalog.criteria.criteria.values():
        table[label.en.split(" — ")[0]] = "criteria name"
    for text in _catalog_english(catalog):
        table[text] = "catalog"
    return tuple(sorted(table.items()))


CRITERION_IDS = re.compile(r"\b(" + "|".join(CRITERIA) + r")\b")
MONEY_FR = re.compile(r"\d+(,\d{2})? €")


def main_markdown(markdown: str) -> str:
    heading = f"\n## {FR['details']}\n"
    assert heading in markdown
    return markdown.split(heading)[0]


def main_html(html: str) -> str:
    assert '<section id="details">' in html
    main = html.split('<section id="details">')[0]
    return re.sub(r"<[^>]+>", " ", main).replace("&#39;", "'").replace("&amp;", "&")


def english_in(text: str) -> list[str]:
    """What in `text` is English, or money not written the French way."""
    flat = " ".join(text.split())
    found = [f"{phrase!r} ({origin})" for phrase, origin in english_table() if phrase in flat]
    found += [f"criterion id {m.group(0)!r}" for m in CRITERION_IDS.finditer(flat)]
    found += [f"money {m.group(0)!r}" for m in re.finditer(r"€\s?\d[\d.,]*|\d+\.\d+ ?€", flat)]
    euros = flat.count("€")
    written = len(MONEY_FR.findall(flat))  # "9 €/mois" is one sum, written the French way
    if euros != written:
        found.append(f"{euros - written} sums in euros not written as '8,03 €'")
    return found


def test_the_table_is_made_of_the_english_wording_and_the_catalog():
    table = dict(english_table())
    # a few phrases the issue found in French reports, each in the table
    assert "ahead of" in table and "best overall score for your answers" in table
    assert "Sovereignty" in table  # a criterion's English name
    assert any(origin == "catalog" for origin in table.values())
    assert english_in("devant disroot (19) : features: x") == ["criterion id 'features'"]
    assert english_in("Coût : €0.0")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_french_report_of_every_example_is_french(path: Path):
    result = recommend(_load(path), source=str(path), lang="fr")
    assert english_in(main_markdown(result.markdown)) == []
    assert english_in(main_html(result.html)) == []


def _load(path: Path):
    import yaml

    return yaml.safe_load(path.read_text())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=random_answers())
def test_the_french_report_of_any_answers_is_french(catalog, questionnaire, raw):
    rec = decide(resolve(questionnaire, raw, source="hypothesis").answers, catalog)
    assert english_in(main_markdown(render_markdown(rec, catalog, "fr"))) == []
    assert english_in(main_html(render_html(rec, catalog, "fr"))) == []


# --- the report leads with the recommendation --------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_report_md_starts_with_the_recommendation(path: Path, lang: str):
    result = recommend(_load(path), source=str(path), lang=lang)
    t = wording.REPORT_TEXT[lang]
    md = result.markdown
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings[0] == t["lead"]
    assert headings.index(t["lead"]) < headings.index(t["techie"]) < headings.index(t["details"])
    first_techie = min(md.index(x) for x in ("sovstack init", f"## {t['techie']}") if x in md)
    for need, entry in result.data["categories"].items():
        label = result.catalog.criteria.needs[need].label.get(lang)
        assert md.index(f"### {label}{t['colon']}") < first_techie, need
    lead = md.split(f"\n## {t['details']}\n")[0]
    # no score arithmetic before the details: no bonus "(+1)", no "total 16", no "(12)" after a name
    assert not re.search(r"\([+-]\d|\btotal \d|\(\d+(\.\d+)?\)|\b(" + "|".join(CRITERIA) + r") \d", lead), lead
    # no internal ids: an id is only shown where it is also the name (e.g. "mailcow")
    names = {x.name.lower() for x in [*result.catalog.tools.values(), *result.catalog.hosters.values()]}
    for entry in result.data["categories"].values():
        for ident in filter(None, (entry["tool"], entry["hoster"])):
            if "-" in ident and ident not in names:
                assert not re.search(rf"(?<![\w./]){re.escape(ident)}(?![\w.])", lead), ident


def test_no_internal_note_or_hoster_wide_reason_reaches_the_main_text(catalog, questionnaire):
    """Item 6 of the issue: Disroot's source-checking note, Framasoft's pads reason under chat/forms."""
    raw = {"members": 25, "techie": "none", "budget_eur_month": 0, "needs": ["chat", "forms", "email"],
           "francophone": True}
    rec = decide(resolve(questionnaire, raw, source="test").answers, catalog)
    for lang in ("en", "fr"):
        md = render_markdown(rec, catalog, lang)
        notes = [h.eligibility.note for h in catalog.hosters.values()] + [h.price.note for h in catalog.hosters.values()]
        for note in filter(None, notes):
            assert " ".join(note.split()[:6]) not in " ".join(md.split()), note
        assert "Pads and video rooms" not in md
        assert "one subscription" not in md and "un seul abonnement" not in md
    framasoft = [o for o in rec.outcomes.values() if o.pick and o.pick.hoster == "framasoft"]
    for outcome in framasoft:
        onboarding = outcome.pick.score_reasons["onboarding"]
        other_services = {"pad", "video room"} - ({"pad"} if outcome.need == "documents" else set()) \
            - ({"video room"} if outcome.need == "video" else set())
        assert not any(s in onboarding for s in other_services), (outcome.need, onboarding)


@pytest.mark.parametrize("hoster,need,expected,francophone", [
    # Framaforms runs end-of-life Yakforms (Drupal 7): taken only where Framaspace (francophone only) is out.
    ("framasoft", "forms", "Framaforms, by Framasoft", False),
    ("framasoft", "chat", "Framateam, by Framasoft", True),
    ("framaspace", "files", "Nextcloud, by Framaspace", True),
    ("framasoft", "lists", "Framalistes, by Framasoft", True),
    ("framaspace", "calendar", "Nextcloud Calendar, by Framaspace", True),
    ("framasoft", "events", "Mobilizon.fr, by Framasoft", False),
])
def test_hosted_names_are_short(catalog, questionnaire, hoster, need, expected, francophone):
    raw = {"members": 10, "techie": "none", "budget_eur_month": 0, "needs": [need], "francophone": francophone}
    rec = decide(resolve(questionnaire, raw, source="test").answers, catalog)
    pick = rec.outcomes[need].pick
    assert (pick.hoster, pick.tool and need) == (hoster, need)
    md = render_markdown(rec, catalog, "en")
    assert f"### {catalog.criteria.needs[need].label.en}: {expected}\n" in md


def test_money_is_written_as_each_language_writes_it():
    assert [wording.money(v, "fr") for v in (8.03, 0, 0.0, 4.1, 15)] == ["8,03 €", "0 €", "0 €", "4,10 €", "15 €"]
    assert [wording.money(v, "en") for v in (8.03, 0, 0.0, 4.1, 15)] == ["€8.03", "€0", "€0", "€4.10", "€15"]


# --- the needs whose picks are hosted only (lists, calendar, wiki, events, polls) --------------------

NEW_NEEDS = ["lists", "calendar", "knowledge", "events", "polls"]


@pytest.mark.parametrize("techie", ["none", "confident"])
def test_the_hosted_only_needs_are_reported_in_both_languages(catalog, questionnaire, techie):
    raw = {"members": 15, "techie": techie, "budget_eur_month": 0, "francophone": True, "needs": NEW_NEEDS}
    rec = decide(resolve(questionnaire, raw, source="test").answers, catalog)
    assert {n: rec.outcomes[n].pick.hoster for n in NEW_NEEDS} == {
        "lists": "framasoft", "calendar": "framaspace", "knowledge": "framaspace", "events": "framasoft",
        "polls": "entraide-chatons"}
    md_en, md_fr = render_markdown(rec, catalog, "en"), render_markdown(rec, catalog, "fr")
    for need in NEW_NEEDS:
        assert f"### {catalog.criteria.needs[need].label.en}: " in md_en, need
        assert f"### {catalog.criteria.needs[need].label.fr}{FR['colon']}" in md_fr, need
    assert "### Lists and newsletters: Framalistes, by Framasoft\n" in md_en
    assert "Mobilizon.fr" in md_en and "Mobilizon.fr" in md_fr
    assert english_in(main_markdown(md_fr)) == []
    assert english_in(main_html(render_html(rec, catalog, "fr"))) == []
