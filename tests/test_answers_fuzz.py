"""Hostile answers files (hypothesis), through what `sovstack ask --answers` runs: each one either
gives a recommendation and its three files, or fails with a clear UserError naming the file (and
the question when one is wrong) with a fix; never a traceback, and nothing written when it fails."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields

import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sovstack.catalog import NEEDS
from sovstack.errors import UserError
from sovstack.recommend.answers import Answers
from sovstack.recommend.service import load_answers_file, recommend, write_outputs

QUESTIONS = [f.name for f in fields(Answers)]  # the question ids (tests/test_answers_model.py)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**7), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=25), st.sampled_from(["none", "some", "confident", "google", "balanced", "yes",
                                                           "own-server", "0", "-1", "1e9", "email"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


# Right values per question, so that changed answers also reach the decision, not only the checks.
VALID = {"members": st.integers(1, 5000), "techie": st.sampled_from(["none", "some", "confident"]),
         "budget_eur_month": st.one_of(st.integers(0, 500), st.floats(0, 500)),
         "needs": st.lists(st.sampled_from(NEEDS), min_size=1, max_size=7, unique=True),
         "existing_suite": st.sampled_from(["google", "microsoft", "other", "none"]),
         "priority": st.sampled_from(["balanced", "sovereignty", "cost", "onboarding", "features"]),
         "hosting_preference": st.sampled_from(["own-server", "trusted-hoster", "no-preference"]),
         "server_ram_mb": st.one_of(st.none(), st.integers(256, 65536)), "organisation": st.text(max_size=40)}


REQUIRED = ["members", "techie", "budget_eur_month", "needs"]  # the fields Answers has no default for
RIGHT = {**VALID, **{q: st.booleans() for q in QUESTIONS if q not in VALID and q != "already_covered"}}


@st.composite
def answers(draw):
    """Right answers, changed with other right values so the decision varies, then half of them given
    one or two hostile changes (a wrong value, an unknown question, a required answer left out), so the
    search reaches the deep checks and the success branch both."""
    given = {"members": 12, "techie": "some", "budget_eur_month": 10, "needs": ["email", "documents"],
             "francophone": True, "existing_suite": "google", "e2ee_required": False, "priority": "balanced",
             "hosting_preference": "own-server", "office_formats": True, "sso_required": True}
    for question in draw(st.lists(st.sampled_from(sorted(RIGHT)), max_size=5, unique=True)):
        given[question] = draw(RIGHT[question])
    for question in draw(st.lists(st.sampled_from([q for q in QUESTIONS if q not in REQUIRED]), max_size=2, unique=True)):
        given.pop(question, None)
    if draw(st.booleans()):  # some needs already covered: a subset of the needs (questions.yml: subset_of)
        given["already_covered"] = draw(st.lists(st.sampled_from(given["needs"]), max_size=2, unique=True))
    hostile = draw(st.sampled_from([0, 0, 1, 2]))
    for question in draw(st.lists(st.sampled_from([*QUESTIONS, "unknown_question", ""]), min_size=hostile,
                                  max_size=hostile, unique=True)):
        if question in REQUIRED and draw(st.booleans()):
            given.pop(question, None)
        else:
            given[question] = draw(st.one_of(VALUES, st.lists(st.sampled_from([*NEEDS, "fax", ""]), max_size=4)))
    return given


def raw_files():
    """Text that may not even be YAML (tabs, unclosed quotes, anchors, binary)."""
    return st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                     st.sampled_from(["[", "needs: [email", "a: &x [*x]", "\t- x", "members: !!python/object:os.system x",
                                      "---\n...\n---\nmembers: 3", "\ufeffmembers: 3", "needs: {email: 1}"]))


def recommend_or_fail(catalog, questionnaire, where, content) -> str:
    """Run one answers file through what `ask --answers` runs; 'recommended' or 'refused'."""
    path, out = where / "answers.yml", where / "out"
    path.write_text(content, encoding="utf-8")
    try:
        result = recommend(load_answers_file(path), source=str(path), catalog=catalog, questionnaire=questionnaire)
    except UserError as exc:
        assert str(path) in exc.message, exc.message
        assert exc.hint
        assert not out.exists()
        return "refused"
    written = write_outputs(result, out)
    assert sorted(p.name for p in written) == ["answers.yml", "report.html", "report.md"]
    assert sorted(p.name for p in out.iterdir()) == ["answers.yml", "report.html", "report.md"]
    report = (out / "report.md").read_text()
    # One decision per need asked, each naming what to use (a tool, a hoster, or the suite kept).
    understood = yaml.safe_load((out / "answers.yml").read_text())
    assert set(result.data["categories"]) == set(understood["needs"])
    for need, entry in result.data["categories"].items():
        assert entry["mode"] in ("self-host", "hosted", "keep"), (need, entry["mode"])
        if need in (understood.get("already_covered") or []):  # what the association already has, it keeps
            assert entry["mode"] == "keep", (need, entry)
        if entry["mode"] == "self-host":
            assert entry["tool"] in result.catalog.tools and result.catalog.tools[entry["tool"]].name in report
        elif entry["mode"] == "hosted":
            assert entry["hoster"] in result.catalog.hosters and result.catalog.hosters[entry["hoster"]].name in report
        for companion in entry.get("companions") or []:
            assert result.catalog.tools[companion].name in report
    # The answers written back give the same recommendation (they are what was understood).
    again = recommend(load_answers_file(out / "answers.yml"), source="again", catalog=catalog,
                      questionnaire=questionnaire)
    assert again.data == result.data
    return "recommended"


RECOMMENDED_SHARE = 1 / 3


def test_any_answers_file_recommends_or_fails_clearly_and_writes_nothing(catalog, questionnaire, tmp_path_factory):
    """Both branches run: the share of drawn files that get a recommendation is measured, and must stay
    at a third or more (a strategy where every file is refused would never test the success branch)."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(content=st.one_of(answers().map(lambda a: yaml.safe_dump(a, allow_unicode=True)),
                             answers().map(lambda a: yaml.safe_dump(a, allow_unicode=True)),
                             answers().map(lambda a: yaml.safe_dump(a, allow_unicode=True)),
                             VALUES.map(lambda v: yaml.safe_dump(v, allow_unicode=True)), raw_files()))
    # Found by this test: a report listing hosters without a public price failed to render; so did one
    # with a companion tool (Roundcube next to Postfix + Dovecot on a 2 GB server).
    @example(content="members: 20\ntechie: confident\nhosting_preference: own-server\nbudget_eur_month: 20\n"
                     "needs: [email]\nfrancophone: false\nexisting_suite: google\ne2ee_required: false\n"
                     "priority: balanced\nserver_ram_mb: 2048\n")
    @example(content="budget_eur_month: 10\ne2ee_required: true\nexisting_suite: google\nfrancophone: true\n"
                     "hosting_preference: own-server\nmembers: 12\nneeds: [email, documents]\noffice_formats: true\n"
                     "priority: balanced\nsso_required: true\ntechie: some\n")
    def check(content):
        outcome = recommend_or_fail(catalog, questionnaire, tmp_path_factory.mktemp("answers"), content)
        event(outcome)
        outcomes[outcome] += 1

    check()
    total = sum(outcomes.values())
    assert outcomes["recommended"] >= RECOMMENDED_SHARE * total, \
        f"only {outcomes['recommended']} of {total} drawn answers files get a recommendation"
    assert outcomes["refused"] >= 0.1 * total, f"only {outcomes['refused']} of {total} drawn answers files are refused"
