"""The answers to the questionnaire, typed: what the decision, the report and the CLI read.

`questionnaire.resolve()` validates raw answers (with the messages people see) and then builds an
`Answers`. The fields are the question ids of `decision_tree/questions.yml`, in the same order, with
the same defaults (tests/test_answers_model.py keeps the two in step). A question whose `when` was
false was not asked: its field holds the default, and `as_dict()` leaves it out.

A schema dataclass like the catalog's, not a pydantic model: `ask` builds one on every run, and a
warm start must not import pydantic (tests/test_catalog_cache.py). The values were already checked
by the questionnaire, question by question; `of` checks that the two agree on which answers exist.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from sovstack.catalog import Need, Strict, empty_list, strict


@strict
class Answers(Strict):
    # Choice answers are plain strings: questions.yml lists the choices and the questionnaire checks
    # them, so they are not spelled again here. Needs are the catalog's.
    organisation: str | None = None
    members: int
    partner_groups: int = 0  # network mode: the partner groups a hub coordinates (0: a single group)
    francophone: bool = False
    techie: str
    hosting_preference: str = "no-preference"
    budget_eur_month: int | float  # an int stays an int, so answers.yml and --json show 15, not 15.0
    server_ram_mb: int | None = None  # None: no server of their own yet (or nobody to run one)
    needs: list[Need]
    already_covered: list[Need] = empty_list()
    existing_suite: str = "none"
    office_formats: bool = False
    e2ee_required: bool = False
    sso_required: bool = False
    priority: str = "balanced"

    @classmethod
    def of(cls, answers: dict[str, Any]) -> Answers:
        """The typed answers; a KeyError names an answer the model lacks or a field left without one."""
        known = [f.name for f in fields(cls)]
        unknown = [key for key in answers if key not in known]
        if unknown:
            raise KeyError(f"'{unknown[0]}' is not a field")
        made = object.__new__(cls)
        for f in fields(cls):
            if f.name in answers:
                value = answers[f.name]
            elif f.default is not MISSING:
                value = f.default
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                raise KeyError(f"'{f.name}' has no answer and no default")
            object.__setattr__(made, f.name, value)
        # The questions that applied, in questionnaire order: what answers.yml and --json show.
        object.__setattr__(made, "_given", tuple(name for name in known if name in answers))
        return made

    def as_dict(self) -> dict[str, Any]:
        """The questions that applied and their answers, in questionnaire order (answers.yml, --json)."""
        return {name: getattr(self, name) for name in self._given}
