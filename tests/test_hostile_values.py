"""Hostile but valid stack values reach every script and config as one correctly quoted literal.

Each deployable tool is rendered twice with the same secrets: once with plain marker values, once with
hostile ones (quotes, `$()`, backticks, semicolons, backslashes, braces, unicode). Each rendered file is
then parsed in its own language, and the hostile parse must equal the marker parse with the marker
replaced by the hostile value: so the value is one literal, at the same place, as often, and nothing of
it is run or expanded. Values a stack file must not hold are refused by parse_stack with a clear message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from sovstack.errors import UserError
from sovstack.render.bundle import render
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire
from tests.test_stack_render import BASE, DEPLOYABLE

MARKS = {"organisation": "SovOrgMark", "admin_email": "sovmailmark@example.org", "relay_user": "sovrelaymark"}
HOSTILE = [
    {"organisation": "O'Brien & \"Sons\" $(touch /tmp/sovstack-pwned) `id`; rm -rf / # 100% \\ {env.HOME} ${HOME}",
     "admin_email": "o'brien@example.org", "relay_user": "relay'user$(id)`id`;\"x\"\\"},
    {"organisation": "Café L'Œuvre — Ünïcödé 日本 ' \" ; | & > < * ? ~ ! %h $$ \\'",
     "admin_email": "first.o'neil+tag@Example.ORG", "relay_user": "user@relay.example.net"},
]
# Tools rendered together, so that steps that only exist with a partner (OpenID clients) render too.
TOOL_SETS = [[t] for t in DEPLOYABLE] + [["keycloak", "hedgedoc"]]
# Where each value must be found, so the test cannot pass by finding no value at all: (tool, file kind).
MUST_REACH = {("goatcounter", "sh"), ("hedgedoc", "sh"), ("keycloak", "sh"), ("limesurvey", "sh"),
              ("limesurvey", "php"), ("roundcube", "php"), ("goaccess", "systemd")}
EXPANDS = "\x00"  # marks a character the language would expand ($, backtick, %) instead of keeping


def sh_words(text: str) -> list[str]:
    """POSIX sh words as the shell would see them before expansion; an unquoted or double-quoted $ or `
    is marked (EXPANDS), operators ; & | ( ) < > are words of their own, comments are dropped."""
    words, word, i, quoted, started = [], [], 0, False, False

    def end():
        nonlocal word, started
        if started:
            words.append("".join(word))
        word, started = [], False

    while i < len(text):
        c = text[i]
        if c == "'" and not quoted:
            j = text.index("'", i + 1)
            word.append(text[i + 1:j])
            started, i = True, j + 1
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == "\\":
            nxt = text[i + 1:i + 2]
            if nxt == "\n":
                pass
            elif not quoted or nxt in '$`"\\':
                word.append(nxt)
            else:
                word.append(c + nxt)
            started, i = True, i + 2
            continue
        elif c in "$`":
            word.append(EXPANDS + c)
            started = True
        elif quoted:
            word.append(c)
        elif c.isspace():
            end()
        elif c in ";&|()<>":
            end()
            words.append(c)
        elif c == "#" and not started:
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        else:
            word.append(c)
            started = True
        i += 1
    assert not quoted, "unterminated double quote"
    end()
    return words


def inner_scripts(words: list[str]) -> list[tuple[str, str]]:
    """The scripts of `sh -c SCRIPT` / `bash -c SCRIPT` in a word list: (shell, script)."""
    return [(words[i - 1], words[i + 1]) for i, w in enumerate(words[:-1])
            if w == "-c" and i > 0 and words[i - 1] in ("sh", "bash")]


def systemd_words(text: str) -> list[str]:
    """A unit file's words as systemd reads them: "..." with C escapes, %% and $$ literal, a lone % or $
    marked (EXPANDS), backslash-newline joining lines."""
    text = text.replace("\\\n", " ")
    words, word, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted:
            word.append(text[i + 1])
            i += 1
        elif c in "%$":
            if text[i + 1:i + 2] == c:
                word.append(c)
                i += 1
            else:
                word.append(EXPANDS + c)
        elif c.isspace() and not quoted:
            if word:
                words.append("".join(word))
            word = []
        else:
            word.append(c)
        i += 1
    return words + (["".join(word)] if word else [])


def php_literals(text: str) -> list[str]:
    """The string literals of a PHP file, in order ('...' with \\\\ and \\'; "..." with $ marked); comments dropped."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if text.startswith("//", i) or c == "#":
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif c in "'\"":
            lit, i = [], i + 1
            while text[i] != c:
                if text[i] == "\\" and text[i + 1] in (c, "\\", "$" if c == '"' else c):
                    lit.append(text[i + 1])
                    i += 2
                    continue
                lit.append(EXPANDS + "$" if c == '"' and text[i] == "$" else text[i])
                i += 1
            out.append("".join(lit))
            i += 1
        else:
            i += 1
    return out


def php_values(path) -> object:
    """What PHP itself reads from a config file: the array it returns and the $config it sets. The files
    the configs include from the application (LimeSurvey's routes, Debian's roundcube database settings)
    are absent here: they are read as empty."""
    (path.parent / "routes.php").write_text("<?php return array();\n")
    code = ("define('BASEPATH', 1); $r = include $argv[1]; "
            "echo json_encode(['return' => $r, 'config' => isset($config) ? $config : null]);")
    lint = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    run = subprocess.run(["php", "-r", code, str(path)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def substitute(data: object, values: dict[str, str], escape=lambda s: s) -> object:
    """`data` with every marker string replaced by its hostile value (through `escape`)."""
    if isinstance(data, str):
        for key, mark in MARKS.items():
            data = data.replace(mark, escape(values[key]))
        return data
    if isinstance(data, list):
        return [substitute(v, values, escape) for v in data]
    if isinstance(data, dict):
        return {substitute(k, values, escape): substitute(v, values, escape) for k, v in data.items()}
    return data


def render_files(catalog, tmp_path, tools, values):
    data = {**BASE, "organisation": values["organisation"], "admin_email": values["admin_email"],
            "tools": {t: {"server": "main"} for t in tools},
            "mail_relay": {"host": "smtp.example.net", "username": values["relay_user"]}}
    for tool in tools:
        for base in catalog.tools[tool].addon_for[:1] + catalog.tools[tool].requires_tools:
            data["tools"].setdefault(base, {"server": "main"})
    stack = parse_stack(data, "sovstack.yml", catalog)
    secrets_file = tmp_path / "secrets.yml"  # shared by both renders: only the stack values differ
    if not secrets_file.exists():
        secrets_file.write_text("mail_relay:\n  password: relay-password-123456\n")
    secrets = ensure_secrets(stack, secrets_file, wire(stack, catalog).wanted_secrets())
    [bundle] = render(wire(stack, catalog), secrets, tmp_path / "build")
    return {dest: content.decode() for dest, content in bundle.files.items()}


def sh_expected(words: list[str], values: dict[str, str]) -> list[str]:
    """The marker's words with each marker replaced by its value; a marker in a SQL literal ('...', inside
    a shell word) by the value as a SQL literal (quotes doubled)."""
    out = []
    for word in words:
        for key, mark in MARKS.items():
            sql = "'" + values[key].replace("'", "''") + "'"
            word = word.replace(f"'{mark}'", sql).replace(mark, values[key])
        out.append(word)
    return out


def check_shell(text: str, plain: str, values: dict[str, str], where: str, shell: str = "sh") -> None:
    syntax = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, f"{where}: {shell} -n: {syntax.stderr}"
    got, want = sh_words(text), sh_expected(sh_words(plain), values)
    assert got == want, f"{where}: a value is not one quoted shell word"
    for (inner_shell, script), (_, plain_script) in zip(inner_scripts(got), inner_scripts(sh_words(plain))):
        check_shell(script.replace(EXPANDS, ""), plain_script.replace(EXPANDS, ""), values,
                    f"{where} ({inner_shell} -c)", inner_shell)


def kind_of(dest: str) -> str | None:
    if dest.startswith("/srv/sovstack/steps/") or dest.endswith(".sh"):
        return "sh"
    if dest.endswith(".php"):
        return "php"
    if dest.endswith((".service", ".timer")):
        return "systemd"
    if dest.endswith(".lua"):
        return "lua"
    if dest.endswith((".yml", ".yaml", ".json")):
        return "yaml"
    return None


@pytest.mark.parametrize("tools", TOOL_SETS, ids=["+".join(t) for t in TOOL_SETS])
def test_hostile_values_stay_one_quoted_literal(catalog, tmp_path, tools):
    plain = render_files(catalog, tmp_path, tools, MARKS)
    reached = set()
    for n, values in enumerate(HOSTILE):
        hostile = render_files(catalog, tmp_path, tools, values)
        assert sorted(hostile) == sorted(plain)
        for dest, text in hostile.items():
            before, kind = plain[dest], kind_of(dest)
            where = f"{'+'.join(tools)}: {dest} with values #{n}"
            # No value adds a line: env files, debconf, /etc/issue and postfix tables are line based.
            assert text.count("\n") == before.count("\n"), where
            if not any(mark in before for mark in MARKS.values()):
                assert text == before, where  # the values reach no other file
                continue
            reached |= {(t, kind) for t in tools if t in dest}
            if kind == "sh":
                check_shell(text, before, values, where)
            elif kind == "php":
                assert php_literals(text) == substitute(php_literals(before), values), where
                if _tool("php") and text.startswith("<?php"):
                    (tmp_path / "a.php").write_text(text)
                    (tmp_path / "b.php").write_text(before)
                    assert php_values(tmp_path / "a.php") == substitute(php_values(tmp_path / "b.php"), values), where
            elif kind == "systemd":
                assert systemd_words(text) == substitute(systemd_words(before), values), where
            elif kind == "lua" and _tool("luac"):
                (tmp_path / "a.lua").write_text(text)
                lua = subprocess.run(["luac", "-p", str(tmp_path / "a.lua")], capture_output=True, text=True, timeout=30)
                assert lua.returncode == 0, f"{where}: {lua.stderr}"
            elif kind == "yaml":
                # Compose reads $ as interpolation: there a literal $ must be written $$.
                dollar = (lambda s: s.replace("$", "$$")) if dest.endswith("/compose.yml") else (lambda s: s)
                assert yaml.safe_load(text) == substitute(yaml.safe_load(before), values, dollar), where
    for tool, kind in MUST_REACH:
        if tool in tools:
            assert (tool, kind) in reached, f"{tool}: no stack value reached its {kind} files: the test saw nothing"


def _tool(name: str) -> bool:
    """Whether PHP or Lua can read a file back here; in CI they must (scripts/test-packages.txt)."""
    if shutil.which(name):
        return True
    assert not os.environ.get("CI"), f"{name} is missing: scripts/setup.sh --tests installs it"
    return False


REFUSED = [
    # (key, value, words in the message)
    ("organisation", "Les Voisins\nEvil: yes", ["key 'organisation'", "one line"]),
    ("organisation", "Les\tVoisins", ["key 'organisation'", "control character"]),
    ("organisation", "Les Voisins\x1b[2J", ["key 'organisation'", "printable"]),
    ("organisation", " Les Voisins", ["key 'organisation'", "space"]),
    ("organisation", "V" * 101, ["key 'organisation'", "at most 100"]),
    ("admin_email", "x$(id)@example.org", ["key 'admin_email'", "x$(id)@example.org", "name@example.org"]),
    ("admin_email", "x`id`@example.org", ["key 'admin_email'"]),
    ("admin_email", "a;b@example.org", ["key 'admin_email'"]),
    ("admin_email", "a b@example.org", ["key 'admin_email'"]),
    ("admin_email", "a\"b@example.org", ["key 'admin_email'"]),
    ("admin_email", "a..b@example.org", ["key 'admin_email'"]),
    ("admin_email", "admin@example.org\nBcc: x@example.net", ["key 'admin_email'"]),
    ("admin_email", "admin@exa$mple.org", ["key 'admin_email'"]),
    ("admin_email", "x" * 65 + "@example.org", ["key 'admin_email'"]),
    ("mail_relay", {"host": "smtp.example.net", "username": "u\nv"}, ["mail_relay.username"]),
    ("mail_relay", {"host": "smtp.example.net", "username": "u", "from_domain": "x;id"}, ["mail_relay.from_domain"]),
]


@pytest.mark.parametrize("key,value,words", REFUSED, ids=[f"{k}={v!r}"[:60] for k, v, _ in REFUSED])
def test_values_that_cannot_be_quoted_safely_are_refused(catalog, key, value, words):
    with pytest.raises(UserError) as caught:
        parse_stack({**BASE, key: value}, "sovstack.yml", catalog)
    text = str(caught.value)
    assert "sovstack.yml" in text and "fix" in text
    for word in words:
        assert word in text


ACCEPTED = [("admin_email", "o'brien@example.org"), ("admin_email", "First.Last+tag@Sub.Example.ORG"),
            ("organisation", "Café « L'Œuvre » & Co. — 100 % $HOME `x`; {y}"), ("organisation", "V" * 100)]


@pytest.mark.parametrize("key,value", ACCEPTED, ids=[f"{k}={v!r}"[:60] for k, v in ACCEPTED])
def test_legitimate_unusual_values_are_accepted(catalog, key, value):
    assert getattr(parse_stack({**BASE, key: value}, "sovstack.yml", catalog), key) == value
