"""The web questionnaire in a real browser: Debian's headless Chromium driven by Playwright.

Two realistic profiles are clicked through, one in English (with JavaScript) and one in French
(JavaScript off); the picks shown must be those of `sovstack ask --answers … --json`. Screenshots
of the first question and of the result page go to test-artifacts/.
"""

import os
import re
import signal
import subprocess
import sys

import pytest

from sovstack.recommend.questionnaire import load_questionnaire
from sovstack.recommend.wording import REPORT_TEXT, money
from tests.browser import chromium_browser, like_a_terminal
from tests.conftest import REPO
from tests.webwalk import PROFILES, cli_recommendation, expected_picks, load_profile

ARTIFACTS = REPO / "test-artifacts"
@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`sovstack ask --web` as a real process; yields its address."""
    cwd = tmp_path_factory.mktemp("web")
    child = subprocess.Popen([sys.executable, "-m", "sovstack", "ask", "--web", "--no-browser", "--port", "0"],
                             cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=like_a_terminal)
    try:
        line = child.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + child.stderr.read() if child.poll() is not None else line
        yield match.group(0)
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=30)
    assert list(cwd.iterdir()) == []  # nothing written on the server's side


TEXT = {"en": {"start": "Start", "next": "Next"}, "fr": {"start": "Commencer", "next": "Suivant"}}


def answer_question(page, question, answers, lang):
    value = answers.get(question.id, question.default)
    if question.type in ("text", "int", "number"):
        field = page.locator("#answer")
        field.fill("" if value is None else str(value))
        field.press("Enter")  # the keyboard submits the form
        return
    if question.type == "bool":
        page.get_by_role("radio", name="Yes" if lang == "en" else "Oui", exact=True).check() if value else \
            page.get_by_role("radio", name="No" if lang == "en" else "Non", exact=True).check()
    elif question.type == "choice":
        label = question.choice_label(value, lang)
        page.get_by_role("radio", name=label, exact=True).check()
    else:
        for box in page.locator("input[type=checkbox]").all():
            box.set_checked(box.get_attribute("value") in (value or []))
    page.get_by_role("button", name=TEXT[lang]["next"]).click()


@pytest.mark.parametrize("name,lang,javascript", [
    ("neighbourhood-association", "en", True),
    ("small-choir", "fr", False),
])
def test_a_group_clicks_through_a_profile(browser, site, tmp_path, name, lang, javascript):
    ARTIFACTS.mkdir(exist_ok=True)
    questions = load_questionnaire().by_id
    answers = load_profile(name)
    context = browser.new_context(java_script_enabled=javascript, accept_downloads=True,
                                  viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    problems = []  # console errors include Content-Security-Policy refusals
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(site)
    if lang == "fr":
        page.get_by_role("button", name="Français").click()
        assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_role("link", name=TEXT[lang]["start"]).click()

    # The first question: its field has the focus, and the keyboard alone answers it.
    page.wait_for_selector("form[data-question=organisation]")
    assert page.evaluate("document.activeElement.id") == "answer"
    assert page.locator("#progress").inner_text().startswith("Question 1 ")
    page.screenshot(path=str(ARTIFACTS / f"web-{name}-first-question.png"))
    phone = context.new_page()
    phone.set_viewport_size({"width": 360, "height": 740})
    phone.goto(page.url)
    phone.screenshot(path=str(ARTIFACTS / f"web-{name}-first-question-phone.png"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    phone.close()

    seen = []
    for _ in range(30):
        if page.url.endswith("/result"):
            break
        form = page.locator("form[data-question]")
        question = questions[form.get_attribute("data-question")]
        seen.append(question.id)
        if question.id == "members" and lang == "en":
            # A bad value first: refused, shown next to the question with what is allowed.
            page.locator("#answer").fill("forty")
            page.get_by_role("button", name="Next").click()
            error = page.locator("form[data-question=members] #error")
            assert "a whole number (at least 1, at most 100000)" in error.inner_text()
            assert "forty" in error.inner_text()
            assert page.locator("#answer").get_attribute("aria-invalid") == "true"
            assert page.evaluate("document.activeElement.id") == "answer"
        answer_question(page, question, answers, lang)
        page.wait_for_load_state()
    assert page.url.endswith("/result"), seen

    page.wait_for_selector("main.report")
    page.screenshot(path=str(ARTIFACTS / f"web-{name}-result.png"), full_page=True)
    data = cli_recommendation(PROFILES[name], lang, tmp_path / "cli")
    shown = {}
    for row in page.locator("tr[data-need]").all():
        shown[row.get_attribute("data-need")] = (row.get_attribute("data-mode") or "self-host",
                                                 row.get_attribute("data-tool") or "",
                                                 row.get_attribute("data-hoster") or "")
    assert shown == expected_picks(data)
    if javascript:  # the report's print button runs under the page's Content-Security-Policy
        page.evaluate("window.print = () => { window.printed = true; }")
        page.locator("main.report header button").click()
        assert page.evaluate("window.printed === true")
    body = page.locator("main.report").inner_text()
    assert money(data['totals']['monthly_eur'], lang) in body
    # The page starts with the recommendation: its first heading after the title is the plain-words
    # recommendation, which is above the techie's part (with the downloads) and the details.
    report_text = REPORT_TEXT[lang]
    assert page.locator("main.report h2").first.inner_text() == report_text["lead"]
    top = {part: page.locator(part).first.bounding_box()["y"] for part in
           ("#recommendation", "#totals", "#techie", ".downloads", "#details")}
    assert top["#recommendation"] < top["#totals"] < top["#techie"] < top[".downloads"] < top["#details"], top
    for need, category in data["categories"].items():
        # the plain words name the pick in the recommendation; every reason and exclusion is in its details
        assert page.locator(f"#need-{need} h3").inner_text().startswith(
            page.locator(f"tr[data-need={need}] td").first.inner_text()), need
        details = page.locator(f"#details-{need}").text_content()
        assert all(reason in details for reason in category["reasons"]), need
        assert all(e["why"] in details for e in category["excluded"]), need

    # The downloads are the files `sovstack ask` writes for the same answers.
    for file, label in (("answers.yml", "answers.yml"), ("report.html", "report.html"), ("report.md", "report.md")):
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile(re.escape(label))).click()
        saved = tmp_path / f"downloaded-{file}"
        download.value.save_as(saved)
        assert download.value.suggested_filename == file
        assert saved.read_text() == (tmp_path / "cli" / file).read_text(), file
    assert problems == []
    context.close()
