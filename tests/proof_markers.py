"""A pytest plugin for tests/test_proof_levels.py: after collection, writes every test's `proves` markers as
JSON to $SOVSTACK_PROOF_MARKERS (run with --collect-only, so nothing runs).

    @pytest.mark.proves("prosody", "login")                      # one tool
    @pytest.mark.proves(REAL_TOOLS, "backup", "restore")          # several
    @pytest.mark.proves("etherpad", "health", standin=True)       # with a stand-in in the tool's place
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def pytest_collection_modifyitems(session, config, items) -> None:
    found = []
    for item in items:
        for mark in item.iter_markers("proves"):
            tools, *aspects = mark.args
            found.append({"test": item.nodeid, "name": item.name, "tools": [tools] if isinstance(tools, str) else list(tools),
                          "aspects": aspects, "standin": bool(mark.kwargs.get("standin", False)),
                          "unknown_options": sorted(set(mark.kwargs) - {"standin"}),
                          "sandbox": item.get_closest_marker("sandbox") is not None})
    Path(os.environ["SOVSTACK_PROOF_MARKERS"]).write_text(json.dumps(found))
