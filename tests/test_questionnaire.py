"""Questions, answer validation and conditions."""

import pytest

from sovstack.errors import UserError
from sovstack.recommend.questionnaire import AnswerError, coerce, resolve, when_applies
from tests.conftest import base_answers

PUBLIC_IDS = ["members", "techie", "budget_eur_month", "server_ram_mb", "needs", "e2ee_required",
              "office_formats", "sso_required", "existing_suite"]


def test_public_question_ids_exist_with_their_types(questionnaire):
    q = questionnaire.by_id
    assert set(PUBLIC_IDS) <= set(q)
    assert (q["members"].type, q["members"].min) == ("int", 1)
    assert q["techie"].choice_values == ["none", "some", "confident"]
    assert (q["budget_eur_month"].type, q["budget_eur_month"].min) == ("number", 0)
    assert q["server_ram_mb"].optional and q["server_ram_mb"].type == "int"
    assert q["needs"].choice_values == ["email", "documents", "files", "chat", "video", "forms", "analytics",
                                        "lists", "calendar", "knowledge", "events", "polls"]
    assert q["existing_suite"].choice_values == ["google", "microsoft", "other", "none"]
    for qid in ("e2ee_required", "office_formats", "sso_required"):
        assert q[qid].type == "bool"


def test_every_question_speaks_english_and_french(questionnaire):
    for q in questionnaire.questions:
        assert q.label.en and q.label.fr and q.help.en and q.help.fr
        for c in q.choices:
            assert c.label.en and c.label.fr


BAD_ANSWERS = [
    # (answers, question named, value shown, what is allowed)
    ({"members": 0}, "members", "0", "at least 1"),
    ({"members": "many"}, "members", "'many'", "whole number"),
    ({"members": 2.5}, "members", "2.5", "whole number"),
    ({"members": True}, "members", "True", "whole number"),
    ({"budget_eur_month": -5}, "budget_eur_month", "-5", "at least 0"),
    ({"budget_eur_month": "cheap"}, "budget_eur_month", "'cheap'", "a number"),
    ({"techie": "guru"}, "techie", "'guru'", "none, some, confident"),
    ({"needs": ["email", "printing"]}, "needs", "'printing'", "email, documents"),
    ({"needs": []}, "needs", "[]", "at least 1"),
    ({"needs": "chat; email"}, "needs", "'chat; email'", "a list of"),
    ({"e2ee_required": "maybe"}, "e2ee_required", "'maybe'", "true or false"),
    ({"server_ram_mb": 12}, "server_ram_mb", "12", "at least 256"),
    ({"existing_suite": "apple"}, "existing_suite", "'apple'", "google, microsoft"),
    ({"already_covered": ["video"], "needs": ["chat"]}, "already_covered", "'video'", "'needs'"),
]


@pytest.mark.parametrize("change,question,value,allowed", BAD_ANSWERS)
def test_bad_answer_names_question_value_and_what_is_allowed(questionnaire, change, question, value, allowed):
    with pytest.raises(UserError) as err:
        resolve(questionnaire, base_answers(**change), source="answers.yml")
    text = str(err.value)
    assert "answers.yml" in text and f"'{question}'" in text and value in text and allowed in text, text


def test_unknown_question_is_refused_with_the_list(questionnaire):
    with pytest.raises(UserError) as err:
        resolve(questionnaire, base_answers(member=3), source="a.yml")
    assert "unknown question 'member'" in err.value.message and "members" in err.value.hint


@pytest.mark.parametrize("missing", ["members", "techie", "budget_eur_month", "needs"])
def test_required_answer_missing_is_named(questionnaire, missing):
    answers = base_answers()
    del answers[missing]
    with pytest.raises(UserError) as err:
        resolve(questionnaire, answers, source="a.yml")
    assert f"'{missing}' is not answered" in err.value.message


def test_answers_must_be_a_mapping(questionnaire):
    with pytest.raises(UserError, match="mapping"):
        resolve(questionnaire, ["members", 3], source="a.yml")


CONDITIONS = [
    # (question, answers so far, asked?)
    ("hosting_preference", {"techie": "none"}, False),
    ("hosting_preference", {"techie": "some"}, True),
    ("server_ram_mb", {"techie": "none"}, False),
    ("office_formats", {"needs": ["chat"]}, False),
    ("office_formats", {"needs": ["documents"]}, True),
    ("e2ee_required", {"needs": ["forms", "analytics"]}, False),
    ("e2ee_required", {"needs": ["forms", "chat"]}, True),
    ("sso_required", {"needs": ["chat"]}, False),
    ("sso_required", {"needs": ["chat", "files"]}, True),
]


@pytest.mark.parametrize("qid,answers,expected", CONDITIONS)
def test_question_is_asked_only_when_it_matters(questionnaire, qid, answers, expected):
    assert when_applies(questionnaire.by_id[qid], answers) is expected


def test_answers_to_questions_that_do_not_apply_are_dropped(questionnaire):
    resolved = resolve(questionnaire, base_answers(techie="none", server_ram_mb=4096, needs=["chat"],
                                                   office_formats=True), source="a")
    applied = resolved.answers.as_dict()
    assert "server_ram_mb" not in applied and "office_formats" not in applied


COERCIONS = [
    ("members", "12", 12), ("members", 12.0, 12), ("budget_eur_month", "7,5", 7.5),
    ("budget_eur_month", 0, 0), ("e2ee_required", "oui", True), ("e2ee_required", "no", False),
    ("needs", "chat, email", ["email", "chat"]), ("needs", ["video", "chat", "chat"], ["chat", "video"]),
    ("organisation", "  Les Amis  ", "Les Amis"), ("server_ram_mb", "", None),
]


@pytest.mark.parametrize("qid,raw,typed", COERCIONS)
def test_text_answers_from_prompts_and_forms_are_typed(questionnaire, qid, raw, typed):
    assert coerce(questionnaire.by_id[qid], raw, {"needs": ["chat"]}) == typed


def test_prompter_is_asked_again_after_a_bad_answer(questionnaire):
    class Scripted:
        def __init__(self, replies):
            self.replies, self.errors = dict(replies), []

        def ask(self, question, default, error):
            if error:
                self.errors.append((question.id, error))
            value = self.replies[question.id]
            if isinstance(value, list) and question.type != "multi":
                return value.pop(0)
            return value

    replies = {"organisation": "", "members": ["zero", "0", "12"], "partner_groups": "0", "francophone": False, "techie": "some",
               "hosting_preference": "no-preference", "budget_eur_month": "10", "server_ram_mb": "",
               "needs": ["chat"], "already_covered": [], "existing_suite": "none", "e2ee_required": False,
               "priority": "balanced"}
    prompter = Scripted(replies)
    resolved = resolve(questionnaire, {}, source="terminal", prompter=prompter)
    assert resolved.answers.members == 12
    assert [e[0] for e in prompter.errors] == ["members", "members"]
    assert "sso_required" not in resolved.asked  # one need: the question does not matter


def test_bad_answer_type_raises_answer_error(questionnaire):
    with pytest.raises(AnswerError):
        coerce(questionnaire.by_id["members"], {"a": 1})
