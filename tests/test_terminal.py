"""The interactive questionnaire in a real pseudo-terminal (pexpect drives questionary)."""

import sys

import pexpect
import yaml

from tests.conftest import REPO

STEPS = [
    # (text the prompt shows, keys to send)
    ("association called", "Chorale\r"),
    ("How many people", "12\r"),
    ("coordinate partner groups", "\r"),  # the default: 0, a single group
    ("mainly in French", "n"),
    ("run and update a server", "\r"),  # first choice: no one
    ("spend per month", "0\r"),
    ("What do you need", " \r"),  # tick the first need (email)
    ("already do with free software", "\r"),
    ("Which suite", "\r"),
    ("unreadable even by whoever", "\r"),
    ("matters most", "\r"),
]


def test_interactive_questionnaire_writes_the_answers(tmp_path):
    out = tmp_path / "out"
    child = pexpect.spawn(sys.executable, ["-m", "sovstack", "ask", "--out", str(out)], cwd=str(REPO),
                          encoding="utf-8", timeout=20, dimensions=(40, 160), env={"TERM": "xterm", "PATH": "/usr/bin:/bin"})
    for text, keys in STEPS:
        child.expect(text)
        child.send(keys)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    answers = yaml.safe_load((out / "answers.yml").read_text())
    assert answers["organisation"] == "Chorale" and answers["members"] == 12
    assert answers["techie"] == "none" and answers["needs"] == ["email"] and answers["budget_eur_month"] == 0
    assert (out / "report.html").exists()
