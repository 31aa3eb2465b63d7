"""Taking a tool out of the stack file keeps everything else, comments included."""

from __future__ import annotations

import pytest

from sovstack.engines.remove import without_tool

STACK = """# my stack
organisation: X
tools:
  # documents
  etherpad: {server: main}
  goaccess:
    server: main
    subdomain: stats
  openldap: {server: main}  # members
hosted:
  files: framaspace
"""

CASES = [
    ("flow mapping", "etherpad", STACK.replace("  etherpad: {server: main}\n", "")),
    ("block mapping", "goaccess", STACK.replace("  goaccess:\n    server: main\n    subdomain: stats\n", "")),
    ("last tool, with a comment", "openldap", STACK.replace("  openldap: {server: main}  # members\n", "")),
    ("a name under another key is left alone", "files", STACK),
    ("a prefix of another tool is left alone", "ether", STACK),
]


@pytest.mark.parametrize("name,tool,expected", CASES, ids=[c[0] for c in CASES])
def test_without_tool_removes_only_that_entry(name, tool, expected):
    assert without_tool(STACK, tool) == expected
