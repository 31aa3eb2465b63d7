"""One error hierarchy; cli/main.py is the only place that turns these into messages and exit codes."""

from __future__ import annotations


class SovstackError(Exception):
    """Anything sovstack expects to go wrong and can explain."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UserError(SovstackError):
    """Bad input from a person: names the file, key or question, the bad value and the fix."""

    exit_code = 2


class CatalogError(SovstackError):
    """The bundled decision tree data is broken (a developer's mistake, not a user's)."""

    exit_code = 3


class InteractiveSessionRequired(UserError):
    """A prompt was needed but there is no terminal to ask in."""
