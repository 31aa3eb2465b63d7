"""Helpers for the web questionnaire tests: a server in a thread, and a plain-HTTP walk (no JavaScript)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from sovstack.recommend.questionnaire import load_questionnaire
from sovstack.recommend.web import make_server
from tests.conftest import REPO

PROFILES = {p.stem: p for p in sorted((REPO / "examples" / "answers").glob("*.yml"))}


@contextmanager
def web_server(lang: str = "en", host: str = "127.0.0.1"):
    server = make_server(host, 0, lang)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.close()
        thread.join(5)


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def current_question(page: str) -> tuple[str, str] | None:
    found = re.search(r'data-question="([a-z0-9_]+)" data-type="([a-z]+)"', page)
    return found.groups() if found else None


def form_value(question, answers: dict):
    """What a person would leave or put in the form: the profile's answer, else what is shown."""
    value = answers.get(question.id, question.default)
    if question.type == "multi":
        return list(value or [])
    if question.type == "bool":
        return "true" if value else "false"
    return "" if value is None else str(value)


def walk(client: requests.Session, base: str, answers: dict, *, on_question=None) -> requests.Response:
    """Answer every question with plain form posts (POST, follow the redirect to the next GET)."""
    questions = load_questionnaire().by_id
    page = client.get(base + "q/organisation")
    for _ in range(40):
        assert page.status_code == 200, page.text
        if page.url.endswith("/result"):
            return page
        question_id, _type = current_question(page.text)
        if on_question:
            on_question(question_id, page)
        page = client.post(page.url, data={"csrf": csrf(page.text), "action": "next",
                                           "answer": form_value(questions[question_id], answers)})
    raise AssertionError("the questionnaire never reached the result page")


def picks_on_page(page: str) -> dict[str, tuple[str, str, str]]:
    """need -> (mode, tool, hoster) from the summary table of the report."""
    rows = re.findall(r'<tr class="mode-[a-z-]+" data-need="([a-z]+)" data-mode="([a-z-]+)" '
                      r'data-tool="([a-z0-9-]*)" data-hoster="([a-z0-9-]*)">', page)
    picks = {need: (mode, tool, hoster) for need, mode, tool, hoster in rows}
    identity = re.search(r'data-need="identity" data-tool="([a-z0-9-]+)"', page)
    if identity:
        picks["identity"] = ("self-host", identity.group(1), "")
    return picks


def cli_recommendation(profile: Path, lang: str, out: Path) -> dict:
    """What `sovstack ask --answers … --json` says for the same answers (and writes to `out`)."""
    result = subprocess.run([sys.executable, "-m", "sovstack", "ask", "--answers", str(profile), "--json",
                             "--lang", lang, "--out", str(out)], capture_output=True, text=True, timeout=60,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def expected_picks(data: dict) -> dict[str, tuple[str, str, str]]:
    picks = {need: (c["mode"], c["tool"] or "", c["hoster"] or "") for need, c in data["categories"].items()}
    if data["identity"]:
        picks["identity"] = ("self-host", data["identity"]["tool"], "")
    return picks


def load_profile(name: str) -> dict:
    return yaml.safe_load(PROFILES[name].read_text())


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))
