"""Hostile YAML is refused by every command that reads a file, with a short message naming the file,
the line, what was refused and the fix (sovstack/yamlio.py): anchors and aliases ("billion laughs"),
merge keys, deep nesting, duplicate keys at any depth, huge files."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from sovstack.cli.main import main
from sovstack.yamlio import MAX_BYTES, MAX_DEPTH
from tests.conftest import REPO

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefgh", "bcdefghi"))

# (id, file text, line named, words the message must hold)
HOSTILE = [
    ("anchor and alias", "x: &v 1\ny: *v\n", 1, ["anchor '&v' refused", "anchors and aliases"]),
    ("alias alone", "x: 1\ny: *v\n", 2, ["alias '*v' refused"]),
    ("billion laughs", LAUGHS, 1, ["anchor '&a' refused"]),
    ("merge key", "x: 1\ny:\n  <<: {a: 1}\n  b: 2\n", 3, ["merge key '<<' refused"]),
    ("deep flow nesting", "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", 1,
     [f"nesting deeper than {MAX_DEPTH} levels"]),
    ("deep block nesting", "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 60 + "v\n",
     MAX_DEPTH + 1, ["nesting deeper than"]),
    ("very deep flow nesting", "x: " + "[" * 100_000, 1, ["not valid YAML"]),
    ("duplicate key at the top", "x: 1\ny: 2\nx: 3\n", 3, ["duplicate key 'x'"]),
    ("duplicate key at depth 3", "x:\n  y:\n    z: 1\n    w: 2\n    z: 3\n", 5, ["duplicate key 'z'"]),
    ("duplicate key in a list item", "x:\n  - a: 1\n  - b: 1\n    b: 2\n", 4, ["duplicate key 'b'"]),
    ("duplicate flow key", "x: {a: 1, a: 2}\n", 1, ["duplicate key 'a'"]),
    ("huge scalar", "x: " + "A" * (MAX_BYTES + 10) + "\n", None, ["too large"]),
]


def _says(result, path, line, words):
    assert result.exit_code == 2, (result.exit_code, result.output[:500])
    err = result.stderr
    assert str(path) in err and "fix:" in err, err[:500]
    if line is not None:
        assert f"line {line}" in err, err[:500]
    for word in words:
        assert word in err, err[:500]
    assert len(err) < 400 + len(str(path)), err[:500]  # never echoes the file
    assert "Traceback" not in err


@pytest.mark.parametrize("case, text, line, words", HOSTILE, ids=[c[0] for c in HOSTILE])
@pytest.mark.parametrize("command", ["ask", "render", "check", "secrets"])
def test_hostile_yaml_is_refused_with_file_line_and_fix(tmp_path, monkeypatch, command, case, text, line, words):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / ("secrets.yml" if command == "secrets" else "bad.yml")
    bad.write_text(text)
    args = {"ask": ["ask", "--answers", str(bad), "--out", str(tmp_path / "out")],
            "render": ["render", "--stack", str(bad)],
            "check": ["check", "--stack", str(bad)],
            # a good stack file whose secrets.yml, next to it, is the hostile one
            "secrets": ["render", "--stack", str(tmp_path / "sovstack.yml")]}[command]
    if command == "secrets":
        shutil.copy(REPO / "examples" / "stacks" / "single.yml", tmp_path / "sovstack.yml")
    _says(CliRunner().invoke(main, args), bad, line, words)
    assert not (tmp_path / "build").exists() and not (tmp_path / "out").exists()


def test_a_duplicate_key_in_a_real_stack_file_is_no_longer_silently_the_last(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stack = tmp_path / "sovstack.yml"
    text = (REPO / "examples" / "stacks" / "single.yml").read_text()
    stack.write_text(text + "domain: other.example.org\n")
    _says(CliRunner().invoke(main, ["render", "--stack", str(stack)]), stack, text.count("\n") + 1,
          ["duplicate key 'domain'"])


@pytest.mark.parametrize("case, text, line, words", HOSTILE[:5] + HOSTILE[7:9],
                         ids=[c[0] for c in HOSTILE[:5] + HOSTILE[7:9]])
def test_hostile_yaml_in_the_bundled_tree_is_a_catalog_error(tree_copy, tmp_path, monkeypatch, case, text, line,
                                                                words):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    tool = tree_copy / "tools" / "etherpad.yml"
    tool.write_text(text)
    result = CliRunner().invoke(main, ["catalog", "check"])
    assert result.exit_code == 3, result.output[:500]
    assert str(tool) in result.stderr and f"line {line}" in result.stderr and "fix:" in result.stderr
    for word in words:
        assert word in result.stderr
