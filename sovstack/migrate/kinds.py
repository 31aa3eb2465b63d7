"""The movers, one module per kind under movers/; each exposes MOVER (model.Mover). Listed here by
kind so the CLI imports only the one it runs."""

from __future__ import annotations

import importlib

from sovstack.migrate.model import Mover

# kind -> module; a kind appears here once its mover exists.
MODULES: dict[str, str] = {
    "files": "sovstack.migrate.movers.files",
    "lists": "sovstack.migrate.movers.lists",
    "calendars": "sovstack.migrate.movers.calendars",
    "contacts": "sovstack.migrate.movers.contacts",
    "mail": "sovstack.migrate.movers.mail",
}


def mover(kind: str) -> Mover:
    return importlib.import_module(MODULES[kind]).MOVER
