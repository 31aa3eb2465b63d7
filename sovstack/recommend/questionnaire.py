"""The questionnaire: questions from `decision_tree/questions.yml`, answer parsing and validation.

This module knows nothing about terminals or web pages: `resolve()` walks the questions in order
and asks a `Prompter` (passed in) only for what the given answers do not settle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from sovstack.catalog import (
    SCHEMA,
    Strict,
    Text,
    cached_load,
    empty_list,
    strict,
    validate,
)
from sovstack.errors import CatalogError, UserError
from sovstack.paths import decision_tree_dir
from sovstack.recommend.answers import Answers
from sovstack.recommend.wording import ALLOWED_TEXT
from sovstack.yamlio import load_yaml

LANGS = ("en", "fr")


if TYPE_CHECKING:
    from pydantic import Field


# Frozen dataclasses validated by pydantic when questions.yml is read, as in sovstack/catalog.py.
@strict
class Choice(Strict):
    value: str
    label: Text


@strict
class Question(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    type: Literal["int", "number", "bool", "choice", "multi", "text"]
    label: Text
    help: Text
    default: Any = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    choices: list[Choice] = empty_list()
    subset_of: str | None = None
    when: str | None = None

    def __post_init__(self) -> None:
        if self.type in ("choice", "multi") and not self.choices:
            raise ValueError(f"a '{self.type}' question needs 'choices'")
        if self.type not in ("choice", "multi") and self.choices:
            raise ValueError(f"a '{self.type}' question takes no 'choices'")

    @property
    def has_default(self) -> bool:
        return self.default is not None or self.optional

    @cached_property
    def choice_values(self) -> list[str]:
        return [c.value for c in self.choices]

    def choice_label(self, value: str, lang: str) -> str:
        for c in self.choices:
            if c.value == value:
                return c.label.get(lang)
        return value

    def allowed(self, lang: str = "en") -> str:
        """What is allowed, said plainly, for error messages (English or French)."""
        w = ALLOWED_TEXT["fr" if lang == "fr" else "en"]
        if self.type in ("int", "number"):
            kind = w["int"] if self.type == "int" else w["number"]
            bounds = []
            if self.min is not None:
                bounds.append(w["min"].format(_fmt(self.min)))
            if self.max is not None:
                bounds.append(w["max"].format(_fmt(self.max)))
            text = f"{kind} ({', '.join(bounds)})" if bounds else kind
        elif self.type == "bool":
            text = w["bool"]
        elif self.type == "choice":
            text = w["choice"] + ", ".join(self.choice_values)
        elif self.type == "multi":
            text = w["multi"] + ", ".join(self.choice_values)
        else:
            text = w["text"]
        return text + (w["optional"] if self.optional else "")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


@strict
class Questionnaire(Strict):
    questions: list[Question]

    def __post_init__(self) -> None:
        ids = [q.id for q in self.questions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"question ids listed twice: {', '.join(duplicates)}")
        for q in self.questions:
            if q.subset_of and q.subset_of not in ids[: ids.index(q.id)]:
                raise ValueError(f"question '{q.id}': subset_of '{q.subset_of}' must name an earlier question")

    @cached_property
    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}


def load_questionnaire(root: Path | None = None) -> Questionnaire:
    root = root or decision_tree_dir()
    path = root / "questions.yml"
    return cached_load("questionnaire", root, [path], [Path(__file__), SCHEMA],
                       Questionnaire, lambda: validate(Questionnaire, load_yaml(path, error=CatalogError), path))


# ---------------------------------------------------------------------------------------------
# Parsing and validating one answer.

class AnswerError(ValueError):
    """An answer that is not allowed; the message says what is."""


_TRUE = {"true", "yes", "y", "oui", "o", "1", "on"}
_FALSE = {"false", "no", "n", "non", "0", "off"}


def coerce(question: Question, value: Any, answers: dict[str, Any] | None = None) -> Any:
    """Turn a raw answer (from YAML, a prompt or a web form) into its typed value, or raise AnswerError."""
    if value is None or (isinstance(value, str) and not value.strip() and question.type != "multi"):
        if question.optional:
            return None
        raise AnswerError(f"an answer is required: {question.allowed()}")
    kind = question.type
    if kind in ("int", "number"):
        number = _number(question, value)
        if question.min is not None and number < question.min:
            raise AnswerError(f"must be at least {_fmt(question.min)}")
        if question.max is not None and number > question.max:
            raise AnswerError(f"must be at most {_fmt(question.max)}")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise AnswerError("must be true or false")
    if kind == "choice":
        if not isinstance(value, str) or value not in question.choice_values:
            raise AnswerError(f"is not one of: {', '.join(question.choice_values)}")
        return value
    if kind == "multi":
        return _multi(question, value, answers or {})
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise AnswerError("must be a line of text")
    text = str(value).strip()
    if "\n" in text or len(text) > 200:
        raise AnswerError("must be one line of at most 200 characters")
    return text


def _number(question: Question, value: Any) -> int | float:
    if isinstance(value, bool):
        raise AnswerError(f"must be {question.allowed()}, not true/false")
    if isinstance(value, str):
        text = value.strip().replace(",", ".") if question.type == "number" else value.strip()
        try:
            value = int(text) if question.type == "int" else float(text)
        except ValueError:
            raise AnswerError(f"must be {question.allowed()}") from None
    if question.type == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise AnswerError(f"must be {question.allowed()}")
        return value
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnswerError(f"must be {question.allowed()}")
    return int(value) if float(value).is_integer() else float(value)


def _multi(question: Question, value: Any, answers: dict[str, Any]) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise AnswerError(f"must be {question.allowed()}")
    unknown = [v for v in value if v not in question.choice_values]
    if unknown:
        raise AnswerError(f"{', '.join(map(repr, unknown))} is not allowed; use {question.allowed()}")
    if question.subset_of:
        outside = [v for v in value if v not in (answers.get(question.subset_of) or [])]
        if outside:
            raise AnswerError(f"{', '.join(map(repr, outside))} is not among your answers to "
                              f"'{question.subset_of}'")
    if question.min is not None and len(set(value)) < question.min:
        raise AnswerError(f"choose at least {_fmt(question.min)}: {', '.join(question.choice_values)}")
    # Keep the catalog's order so that the same choices always give the same answers.
    return [v for v in question.choice_values if v in value]


# ---------------------------------------------------------------------------------------------
# Walking the questionnaire.

class Prompter(Protocol):
    def ask(self, question: Question, default: Any, error: str | None) -> Any:
        """Ask one question; return the raw answer. `error` is why the last answer was refused."""


@dataclass
class Resolved:
    answers: Answers  # every question that mattered, typed (the others hold their default)
    asked: list[str]  # ids that were put to the person


def when_applies(question: Question, answers: dict[str, Any]) -> bool:
    if not question.when:
        return True
    return _condition(question.when).render(answers) == "1"


_CONDITIONS: dict[str, Any] = {}
_ENVIRONMENT: list[Any] = []


def _condition(expression: str):
    """The `when` expression as a template that renders "1" when it holds.

    Compiled on first use and kept in the Jinja bytecode cache between runs (compiling them cost
    `ask` more at start than deciding). jinja2 is imported here so `--help` does not pay for it.
    """
    if expression not in _CONDITIONS:
        if not _ENVIRONMENT:
            from jinja2 import FunctionLoader
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            from sovstack.paths import jinja_bytecode_cache

            # The template's name is the expression itself: the cache is keyed by it and its source.
            _ENVIRONMENT.append(ImmutableSandboxedEnvironment(
                loader=FunctionLoader(lambda source: "{% if " + source + " %}1{% endif %}"),
                bytecode_cache=jinja_bytecode_cache(), cache_size=-1))
        _CONDITIONS[expression] = _ENVIRONMENT[0].get_template(expression)
    return _CONDITIONS[expression]


def resolve(questionnaire: Questionnaire, given: dict[str, Any], *, source: str,
            prompter: Prompter | None = None) -> Resolved:
    """Validate given answers and complete them (defaults, or the prompter when there is one).

    Raises UserError naming `source`, the question, the value and what is allowed.
    """
    if not isinstance(given, dict):
        raise UserError(f"{source}: the answers must be a mapping of question id to answer, "
                        f"got {type(given).__name__}",
                        "write one 'question_id: answer' per line")
    unknown = sorted(k for k in given if k not in questionnaire.by_id)
    if unknown:
        raise UserError(f"{source}: unknown question {', '.join(map(repr, unknown))}",
                        "the questions are: " + ", ".join(questionnaire.by_id))
    answers: dict[str, Any] = {}
    asked: list[str] = []
    for question in questionnaire.questions:
        if not when_applies(question, answers):
            continue
        if question.id in given:
            try:
                answers[question.id] = coerce(question, given[question.id], answers)
            except AnswerError as exc:
                raise UserError(f"{source}: question '{question.id}' = {given[question.id]!r}: {exc}",
                                f"answer {question.allowed()}") from None
            continue
        default = question.default
        if prompter is None:
            if not question.has_default:
                raise UserError(f"{source}: question '{question.id}' is not answered",
                                f"add '{question.id}:' with {question.allowed()}")
            answers[question.id] = default
            continue
        answers[question.id] = _ask_until_valid(prompter, question, default, answers)
        asked.append(question.id)
    return Resolved(answers=_typed(answers), asked=asked)


def _typed(answers: dict[str, Any]) -> Answers:
    try:
        return Answers.of(answers)
    except KeyError as exc:  # answers passed the questionnaire's checks: the two disagree
        raise CatalogError(f"questions.yml and the Answers model disagree: {exc.args[0]}",
                           "give every question a field of sovstack/recommend/answers.py, with its type "
                           "and default") from None


def _ask_until_valid(prompter: Prompter, question: Question, default: Any, answers: dict[str, Any]) -> Any:
    error = None
    while True:
        raw = prompter.ask(question, default, error)
        if raw is None and not question.optional and default is not None:
            raw = default
        try:
            return coerce(question, raw, answers)
        except AnswerError as exc:
            error = str(exc)

