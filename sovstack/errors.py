"""One error hierarchy; cli/main.py is the only place that turns these into messages and exit codes."""

from __future__ import annotations

from sovstack.layout import ExitCode


class SovstackError(Exception):
    """Anything sovstack expects to go wrong and can explain."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UserError(SovstackError):
    """Bad input from a person: names the file, key or question, the bad value and the fix."""

    exit_code = ExitCode.USER


class CatalogError(SovstackError):
    """sovstack's own data is broken: the decision tree, a template or a server script it ships
    (a developer's mistake, not a user's; the hint asks to report it)."""

    exit_code = ExitCode.CATALOG


class InteractiveSessionRequired(UserError):
    """A prompt was needed but there is no terminal to ask in."""
