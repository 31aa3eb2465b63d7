"""Asking the questionnaire in a terminal (questionary). The only module that knows the TUI."""

from __future__ import annotations

from typing import Any

import questionary

from sovstack.recommend.questionnaire import Question


class TerminalPrompter:
    def __init__(self, lang: str = "en"):
        self.lang = lang

    def ask(self, question: Question, default: Any, error: str | None) -> Any:
        label = question.label.get(self.lang)
        instruction = question.help.get(self.lang)
        if error:
            questionary.print(f"  ✗ {error}", style="fg:ansired")
        if question.type == "bool":
            answer = questionary.confirm(label, default=bool(default), instruction=f"({instruction}) ").ask()
        elif question.type == "choice":
            choices = [questionary.Choice(c.label.get(self.lang), value=c.value) for c in question.choices]
            answer = questionary.select(label, choices=choices, default=_choice_default(question, default),
                                        instruction=instruction).ask()
        elif question.type == "multi":
            chosen = set(default or [])
            choices = [questionary.Choice(c.label.get(self.lang), value=c.value, checked=c.value in chosen)
                       for c in question.choices]
            answer = questionary.checkbox(label, choices=choices, instruction=instruction).ask()
        else:
            shown = "" if default is None else str(default)
            answer = questionary.text(f"{label} ({instruction})", default=shown).ask()
        if answer is None:  # Ctrl-C or Ctrl-D inside questionary
            raise KeyboardInterrupt
        return answer


def _choice_default(question: Question, default: Any) -> Any:
    return default if default in question.choice_values else None
