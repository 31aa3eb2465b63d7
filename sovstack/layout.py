"""Fixed facts of sovstack's layout, spelled once: the command's exit codes and where things are on a
server. Imports nothing from sovstack (the bottom layer)."""

from __future__ import annotations

from enum import IntEnum, unique

# --- Exit codes ------------------------------------------------------------------------------------
# The one table of the command's exit codes. Only cli/ exits (main.py's error boundary, and `check`
# when it finds a problem); the error classes in errors.py carry their code from here. README.md
# "Exit codes" shows this table, code and name (tests/test_errors.py keeps the two equal).


@unique  # one code, one meaning
class ExitCode(IntEnum):
    OK = 0
    FAILED = 1       # a check found something wrong (`sovstack check`), or another expected failure
    USER = 2         # bad input or a refused step the user must fix (UserError): the message says how
    CATALOG = 3      # the bundled decision tree, templates or server scripts are broken (CatalogError)
    # Click's own default for usage errors is 2, which UserError has held since the start; the two
    # get the BSD sysexits.h codes instead (EX_USAGE, EX_SOFTWARE), so no code means two things.
    USAGE = 64       # the command line itself: an unknown option, a bad value, a missing argument
    BUG = 70         # an unexpected exception: one line on the terminal, the traceback in a debug log
    INTERRUPTED = 130  # stopped with Ctrl-C (128 + SIGINT, as shells do)


# --- end of exit codes -----------------------------------------------------------------------------

# --- Server layout -------------------------------------------------------------------------------
# Where the deploy puts things on each server. The templates receive ROOT as `root`.
ROOT = "/srv/sovstack"
BIN = f"{ROOT}/bin"  # sovstack's own scripts (compose, pending, diagnose, backup, update)
# The diagnosis (check/servers.py runs the script; render/diagnose.py writes its configuration).
DIAGNOSE_SCRIPT = f"{BIN}/sovstack-diagnose"
DIAGNOSE_CONFIG = f"{ROOT}/diagnose.json"
DIAGNOSE_TIMER = "sovstack-diagnose.timer"
# The ports every server opens, and who may already hold each on a converged server.
HTTPS_PORT = 443
BASE_PORTS = {22: ("sshd",), 80: ("caddy",), HTTPS_PORT: ("caddy",)}
