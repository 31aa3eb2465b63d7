"""The reasons the decision engine explains itself with (their English and French are in wording.py).

The engine records `Reason(key, values)`; the report and `--json` render them in the chosen language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sovstack.recommend.wording import REASONS


@dataclass(frozen=True)
class Reason:
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        values = {k: _render(v, lang) for k, v in self.values.items()}
        return REASONS[self.key][lang].format(**values)


def _render(value: Any, lang: str) -> Any:
    if isinstance(value, Reason):
        return value.render(lang)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Reason) for v in value):
        return "; ".join(v.render(lang) for v in value)  # a list of reasons, e.g. every exclusion
    return value


def say(key: str, **values: Any) -> Reason:
    if key not in REASONS:  # a programming error, caught by the tests
        raise KeyError(key)
    return Reason(key, values)


def join(items: list[str], lang: str = "en") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + REASONS["and"][lang] + items[-1]
