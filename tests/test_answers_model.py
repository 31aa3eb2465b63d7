"""The typed answers model: in step with questions.yml, and a lossless carrier of every answers file."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import get_type_hints

import pytest
import yaml

from sovstack.catalog import NEEDS, Need
from sovstack.errors import CatalogError
from sovstack.recommend.answers import Answers
from sovstack.recommend.questionnaire import load_questionnaire, resolve
from sovstack.recommend.service import answers_document, recommend
from tests.conftest import REPO, base_answers

EXAMPLES = sorted((REPO / "examples" / "answers").glob("*.yml"))

# The Python type each kind of question is read as (an optional question may also be None).
TYPES = {"int": int, "number": int | float, "bool": bool, "text": str, "choice": str, "multi": list[Need]}


FIELDS = {f.name: f for f in fields(Answers)}


def test_the_model_has_one_field_per_question_in_the_same_order(questionnaire):
    assert list(FIELDS) == [q.id for q in questionnaire.questions]


@pytest.mark.parametrize("qid", [q.id for q in load_questionnaire().questions])
def test_each_field_has_its_questions_type_and_default(questionnaire, qid):
    question, field = questionnaire.by_id[qid], FIELDS[qid]
    expected = TYPES[question.type] | None if question.optional else TYPES[question.type]
    assert get_type_hints(Answers)[qid] == expected
    required = field.default is MISSING and field.default_factory is MISSING
    assert required is not question.has_default
    if question.has_default:
        default = field.default if field.default is not MISSING else field.default_factory()
        assert default == question.default


@pytest.mark.parametrize("qid", ["needs", "already_covered"])
def test_the_needs_offered_are_the_catalogs(questionnaire, qid):
    assert questionnaire.by_id[qid].choice_values == list(NEEDS)


def test_every_need_is_described_in_the_criteria(catalog):
    assert list(catalog.criteria.needs) == list(NEEDS)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_round_trips_through_the_model(questionnaire, example):
    given = yaml.safe_load(example.read_text())
    answers = resolve(questionnaire, given, source=example.name).answers
    assert isinstance(answers, Answers)
    # every answer given is in the model, as given (the examples are already in canonical form)
    assert {k: v for k, v in answers.as_dict().items() if k in given} == given
    assert Answers.of(answers.as_dict()) == answers
    # the answers.yml written for it reads back to the same answers and the same recommendation
    written = yaml.safe_load(answers_document(answers))
    assert resolve(questionnaire, written, source="answers.yml").answers == answers
    first = recommend(given, source=example.name)
    assert recommend(written, source="answers.yml").data == first.data
    assert first.data["answers"] == answers.as_dict()


def test_a_question_that_does_not_apply_holds_its_default_and_is_not_written(questionnaire):
    answers = resolve(questionnaire, base_answers(techie="none", needs=["chat"], office_formats=True),
                      source="a.yml").answers
    assert answers.office_formats is False and answers.server_ram_mb is None
    assert answers.hosting_preference == "no-preference" and answers.sso_required is False
    assert not {"office_formats", "server_ram_mb", "hosting_preference", "sso_required"} & set(answers.as_dict())
    assert "office_formats" not in answers_document(answers)


def test_an_optional_question_left_empty_is_kept_as_none_but_not_written(questionnaire):
    answers = resolve(questionnaire, base_answers(organisation=""), source="a.yml").answers
    assert answers.as_dict()["organisation"] is None and answers.server_ram_mb is None
    assert "organisation" not in answers_document(answers)


def test_whole_euros_stay_whole(questionnaire):
    answers = resolve(questionnaire, base_answers(budget_eur_month="15"), source="a.yml").answers
    assert answers.budget_eur_month == 15 and isinstance(answers.budget_eur_month, int)
    assert "budget_eur_month: 15\n" in answers_document(answers)


def test_a_question_the_model_lacks_is_a_catalog_error(tree_copy):
    path = tree_copy / "questions.yml"
    data = yaml.safe_load(path.read_text())
    data["questions"].append({"id": "newsletter", "type": "bool", "default": False,
                              "label": {"en": "Newsletter?", "fr": "Lettre d'information ?"},
                              "help": {"en": "Whether you send one.", "fr": "Si vous en envoyez une."}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(CatalogError, match="'newsletter'"):
        resolve(load_questionnaire(tree_copy), base_answers(), source="a.yml")
