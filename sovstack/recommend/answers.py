"""The answers to the questionnaire, typed: what the decision, the report and the CLI read.

`questionnaire.resolve()` validates raw answers (with the messages people see) and then builds an
`Answers`. The fields are the question ids of `decision_tree/questions.yml`, in the same order, with
the same defaults (tests/test_answers_model.py keeps the two in step). A question whose `when` was
false was not asked: its field holds the default, and `as_dict()` leaves it out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from sovstack.catalog import Need


class Answers(BaseModel):
    # Choice answers are plain strings: questions.yml lists the choices and the questionnaire checks
    # them, so they are not spelled again here. Needs are the catalog's.
    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str | None = None
    members: int
    francophone: bool = False
    techie: str
    hosting_preference: str = "no-preference"
    budget_eur_month: int | float  # an int stays an int, so answers.yml and --json show 15, not 15.0
    server_ram_mb: int | None = None  # None: no server of their own yet (or nobody to run one)
    needs: list[Need]
    already_covered: list[Need] = []
    existing_suite: str = "none"
    office_formats: bool = False
    e2ee_required: bool = False
    sso_required: bool = False
    priority: str = "balanced"

    def as_dict(self) -> dict[str, Any]:
        """The questions that applied and their answers, in questionnaire order (answers.yml, --json)."""
        return self.model_dump(exclude_unset=True)
