"""The report's "Moving in" section (issue 19, items 7 and 9): the needs that move, in the catalog's
order (mail last), each with its steps and what members notice, what to ask a hoster, each member's
checklist and what stays behind; in English and French; absent when nothing moves."""

from __future__ import annotations

import html
import re
import string

import pytest
import yaml

from sovstack.catalog import NEEDS, load_catalog
from sovstack.errors import CatalogError
from sovstack.recommend.decide import decide
from sovstack.recommend.questionnaire import resolve
from sovstack.recommend.report import render_html, render_markdown
from sovstack.recommend.wording import REPORT_TEXT

# (answers, the needs that move in the order the section must list them, the needs kept), written out
# by hand: the order is the catalog's moving_in_order, restricted to the needs chosen and not kept.
CONFIDENT = {"members": 20, "techie": "confident", "budget_eur_month": 30}
HOSTED_ONLY = {"members": 15, "techie": "none", "budget_eur_month": 0, "francophone": True}
PROFILES = [
    pytest.param({**CONFIDENT, "needs": ["email", "files", "forms", "analytics"]},
                 ["files", "forms", "analytics", "email"], [], id="mail-last"),
    pytest.param({**CONFIDENT, "needs": ["email", "lists", "calendar", "chat"], "already_covered": ["chat"]},
                 ["calendar", "lists", "email"], ["chat"], id="one-kept"),
    pytest.param({**HOSTED_ONLY, "needs": ["polls", "events", "knowledge", "calendar", "lists"]},
                 ["calendar", "knowledge", "lists", "polls", "events"], [], id="all-hosted"),
    pytest.param({**CONFIDENT, "needs": list(NEEDS)},
                 ["files", "documents", "calendar", "knowledge", "forms", "lists", "chat", "polls", "events", "video",
                  "analytics", "email"], [], id="every-need"),
    pytest.param({**CONFIDENT, "needs": ["video"]}, ["video"], [], id="one-need"),
    pytest.param({**CONFIDENT, "needs": ["email", "files"], "already_covered": ["email", "files"]}, [], ["email", "files"],
                 id="every-need-kept"),
]


def recommendation(catalog, questionnaire, raw):
    return decide(resolve(questionnaire, raw, source="test").answers, catalog)


def section_md(md: str, lang: str) -> str | None:
    heading = f"\n## {REPORT_TEXT[lang]['move']}\n"
    if heading not in md:
        return None
    return md.split(heading, 1)[1].split("\n## ", 1)[0]


def section_html(page: str) -> str | None:
    if '<section id="moving-in">' not in page:
        return None
    return page.split('<section id="moving-in">', 1)[1].split('\n</section>\n', 1)[0]


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("raw, moving, kept", PROFILES)
def test_the_section_lists_exactly_the_needs_that_move_in_order(catalog, questionnaire, raw, moving, kept, lang):
    rec = recommendation(catalog, questionnaire, raw)
    assert [n for n, o in rec.outcomes.items() if o.mode == "keep"] == kept  # the profile is what it says
    t = REPORT_TEXT[lang]
    labels = [catalog.criteria.needs[n].label.get(lang) for n in moving]
    md, page = render_markdown(rec, catalog, lang), render_html(rec, catalog, lang)
    text, body = section_md(md, lang), section_html(page)
    if not moving:  # nothing moves: no section at all, in either format
        assert text is None and body is None
        return
    found = re.findall(rf"^### (\d+)\. (.+?){re.escape(t['colon'])}", text, flags=re.M)
    assert found == [(str(i), label) for i, label in enumerate(labels, start=1)]
    found_html = re.findall(rf"<h3>(\d+)\. (.+?){re.escape(t['colon'])}", body)
    assert [(i, html.unescape(label)) for i, label in found_html] == found
    if kept:
        line = f"{t['move_kept']}{t['colon']}" + ", ".join(catalog.criteria.needs[n].label.get(lang) for n in kept)
        assert line in text
    else:
        assert t["move_kept"] not in text
    # the section sits before the techie's part, and every placeholder of the catalog's texts is filled
    assert md.index(f"## {t['move']}") < md.index(f"## {t['techie']}")
    assert "{" not in text and "}" not in text


def test_hosted_needs_say_what_to_ask_and_the_mail_switch_follows_the_mode(catalog, questionnaire):
    for raw in (dict(CONFIDENT, needs=list(NEEDS)), dict(HOSTED_ONLY, needs=list(NEEDS))):
        rec = recommendation(catalog, questionnaire, raw)
        for lang in ("en", "fr"):
            text = section_md(render_markdown(rec, catalog, lang), lang)
            blocks = dict(re.findall(r"^### \d+\. (.+?)(?::| :) .*?\n(.*?)(?=^### |\Z)", text, flags=re.M | re.S))
            for need, outcome in rec.outcomes.items():
                if outcome.mode == "keep":
                    assert catalog.criteria.needs[need].label.get(lang) not in blocks
                    continue
                block = blocks[catalog.criteria.needs[need].label.get(lang)]
                hoster = catalog.hosters[outcome.pick.hoster] if outcome.mode == "hosted" else None
                asks = REPORT_TEXT[lang]["move_ask"].split(" {")[0]
                assert (asks in block) == (hoster is not None), (need, outcome.mode, lang)
                if need == "email":  # the switch of MX: `sovstack dns` on one's own server, the hoster's records
                    assert ("`sovstack dns`" in block) == (outcome.mode == "self-host"), lang
            assert "TTL" in blocks[catalog.criteria.needs["email"].label.get(lang)]


@pytest.mark.parametrize("lang, words", [
    ("en", ["Google Forms themselves cannot be moved", "Visits counted by Google Analytics cannot be moved",
            "remove the app passwords"]),
    ("fr", ["Les formulaires Google eux-mêmes ne se déménagent pas",
            "les visites comptées par Google Analytics ne se déménagent pas", "supprimer les mots de passe d'application"]),
])
def test_what_cannot_move_is_said_plainly_and_kept_as_files(catalog, questionnaire, lang, words):
    with_files = recommendation(catalog, questionnaire, dict(CONFIDENT, needs=["forms", "analytics", "files", "email"]))
    text = section_md(render_markdown(with_files, catalog, lang), lang)
    for phrase in words:
        assert phrase.lower() in text.lower(), phrase
    files = with_files.outcomes["files"].pick.tool
    assert f"spreadsheet files in {catalog.tools[files].name}" in text if lang == "en" else \
        f"fichiers tableur dans {catalog.tools[files].name}" in text
    # without a file tool in the plan, the responses and reports go to "your file storage"
    alone = recommendation(catalog, questionnaire, dict(CONFIDENT, needs=["forms", "analytics"]))
    text = section_md(render_markdown(alone, catalog, lang), lang)
    assert REPORT_TEXT[lang]["move_files"] in text
    # nothing that needs an access at the source: no reminder to revoke one
    assert REPORT_TEXT[lang]["move_revoke"] not in text


def test_every_need_says_how_it_moves_in_both_languages_with_known_blanks(catalog):
    blanks = {"service", "files"}
    for need in NEEDS:
        info = catalog.criteria.needs[need].moving_in
        texts = [t for s in info.steps for t in (s.do, s.notice)] + info.member + info.stays + [info.ask_hoster]
        for text in texts:
            for lang in ("en", "fr"):
                used = {name for _, name, _, _ in string.Formatter().parse(text.get(lang)) if name}
                assert used <= blanks, (need, lang, used)
        modes = {m for s in info.steps for m in s.modes}
        assert modes == {"self-host", "hosted"}, need  # a step for each way of getting it


@pytest.mark.parametrize("order, words", [
    (["files"] * 12, "missing: analytics"),
    ([n for n in NEEDS if n != "email"], "missing: email"),
])
def test_a_moving_in_order_without_every_need_once_is_refused(tree_copy, order, words):
    path = tree_copy / "criteria.yml"
    data = yaml.safe_load(path.read_text())
    data["moving_in_order"] = order
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "criteria.yml" in err.value.message and "moving_in_order" in err.value.message and words in err.value.message
