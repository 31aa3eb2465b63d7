"""The reasons the decision engine explains itself with (their English and French are in wording.py).

The engine records `Reason(key, values)`; the report and `--json` render them in the chosen language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sovstack.recommend.wording import BRIEF_PLACEHOLDERS, REASONS, money

# Values that are sums in euros: written as each language writes money ("€8.03", "8,03 €").
MONEY = frozenset({"price", "budget", "cost"})

# names(key, value, lang) -> the value as the reader should see it (a catalog id as a name), or the value.
Names = Callable[[str, Any, str], Any]


@dataclass(frozen=True)
class Reason:
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en", names: Names | None = None) -> str:
        values = {}
        brief = BRIEF_PLACEHOLDERS.get(self.key, frozenset())
        for key, value in self.values.items():
            if key in brief and isinstance(value, Reason) and f"{value.key}_brief" in REASONS:
                value = Reason(f"{value.key}_brief", value.values)
            if isinstance(value, Reason) or _reasons(value):
                value = _render(value, lang, names)
            elif key in MONEY:
                value = money(value, lang)
            elif names is not None:
                value = names(key, value, lang)
            values[key] = value
        return REASONS[self.key][lang].format(**values)


def _reasons(value: Any) -> bool:
    """A list of reasons, e.g. every exclusion of a need that is kept."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Reason) for v in value)


def _render(value: Any, lang: str, names: Names | None = None) -> Any:
    if isinstance(value, Reason):
        return value.render(lang, names)
    if _reasons(value):
        return "; ".join(v.render(lang, names) for v in value)
    return value


def say(key: str, **values: Any) -> Reason:
    if key not in REASONS:  # a programming error, caught by the tests
        raise KeyError(key)
    return Reason(key, values)


def join(items: list[str], lang: str = "en") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + REASONS["and"][lang] + items[-1]
