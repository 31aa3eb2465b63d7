"""The web questionnaire over plain HTTP (no JavaScript, no browser): forms, sessions, safety."""

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

from sovstack.recommend.web import HostCheck
from sovstack.recommend.wording import REPORT_TEXT, money
from tests.browser import like_a_terminal
from tests.conftest import REPO
from tests.webwalk import (
    PROFILES,
    cli_recommendation,
    csrf,
    current_question,
    expected_picks,
    load_profile,
    picks_on_page,
    text_of,
    walk,
    web_server,
)


@pytest.fixture
def server():
    with web_server() as s:
        yield s


@pytest.mark.parametrize("name,lang", [("neighbourhood-association", "en"), ("small-choir", "fr")])
def test_plain_form_posts_give_the_same_recommendation_and_files_as_the_cli(tmp_path, name, lang):
    with web_server(lang) as server:
        client = requests.Session()
        result = walk(client, server.url, load_profile(name))
        data = cli_recommendation(PROFILES[name], lang, tmp_path / "cli")
        assert picks_on_page(result.text) == expected_picks(data)
        # money as the language writes it ("€8.03", "8,03 €"): the French page says no "€0.0"
        assert money(data['totals']['monthly_eur'], lang) in result.text
        # The page starts with the recommendation; the files for the techie and the details follow it.
        page = result.text
        assert re.search(r"<h2[^>]*>([^<]*)</h2>", page).group(1) == REPORT_TEXT[lang]["lead"]
        assert page.index('id="recommendation"') < page.index('id="techie"') < page.index('href="/download/') \
            < page.index('id="details"')
        # The answers are listed in words, each with a link back to its question.
        profile = load_profile(name)
        assert f'data-answer="members">{profile["members"]} <a href="/q/members"' in result.text
        assert f'data-answer="organisation">{profile["organisation"]} ' in result.text
        for file in ("answers.yml", "report.md", "report.html"):
            download = client.get(server.url + "download/" + file)
            assert download.status_code == 200
            assert f'filename="{file}"' in download.headers["Content-Disposition"]
            assert download.text == (tmp_path / "cli" / file).read_text(), file
            assert f'href="/download/{file}"' in result.text


def test_two_sessions_at_the_same_time_do_not_mix_answers(tmp_path):
    profiles = {"neighbourhood-association": load_profile("neighbourhood-association"),
                "small-choir": load_profile("small-choir")}
    # Both browsers reach each question together: a barrier makes every step interleave.
    barrier = threading.Barrier(2, timeout=30)
    seen: dict[str, dict[str, str]] = {name: {} for name in profiles}
    results: dict[str, requests.Response] = {}
    errors: list[BaseException] = []

    def on_question(name):
        def record(question_id, page):
            if question_id == "members":
                seen[name]["members-page"] = page.text
            try:
                barrier.wait(timeout=300)
            except threading.BrokenBarrierError:
                pass  # one walk is shorter (fewer questions apply): the other goes on alone
        return record

    with web_server() as server:
        def run(name):
            try:
                client = requests.Session()
                results[name] = (client, walk(client, server.url, profiles[name], on_question=on_question(name)))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                barrier.abort()

        threads = [threading.Thread(target=run, args=(name,)) for name in profiles]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        for name in profiles:
            client, page = results[name]
            cli = cli_recommendation(PROFILES[name], "en", tmp_path / name)
            assert picks_on_page(page.text) == expected_picks(cli), name
            assert client.get(server.url + "download/answers.yml").text == (tmp_path / name / "answers.yml").read_text()
            # Going back shows this browser's own answer, not the other's.
            members = client.get(server.url + "q/members").text
            assert f'value="{profiles[name]["members"]}"' in members
        assert len(server.app.sessions) == 2
        choir, _ = results["small-choir"]
        assert "Chorale du Lundi" in choir.get(server.url + "q/organisation").text


def test_a_bad_value_is_shown_next_to_the_question_with_what_is_allowed(server):
    client = requests.Session()
    page = client.get(server.url + "q/organisation")
    page = client.post(page.url, data={"csrf": csrf(page.text), "answer": "Chorale"})
    assert current_question(page.text)[0] == "members"
    refused = client.post(page.url, data={"csrf": csrf(page.text), "answer": "lots"})
    assert refused.history and refused.history[0].status_code == 303  # POST, redirect, GET
    assert refused.url.endswith("/q/members") and refused.status_code == 200
    form = re.search(r"<form method=\"post\" action=\"/q/members\".*?</form>", refused.text, re.DOTALL).group(0)
    error = re.search(r'<div id="error" class="error" role="alert">(.*?)</div>', form, re.DOTALL)
    assert error, form
    message = text_of(error.group(1))
    assert "lots" in message and "a whole number (at least 1, at most 100000)" in message
    assert 'aria-invalid="true"' in form and 'aria-describedby="help error"' in form
    # Nothing was stored: the next question cannot be reached yet.
    assert client.get(server.url + "q/francophone").url.endswith("/q/members")
    # In French, what is allowed is said in French.
    client.post(server.url + "lang", data={"csrf": csrf(refused.text), "lang": "fr", "next": "/q/members"})
    page = client.get(server.url + "q/members")
    page = client.post(page.url, data={"csrf": csrf(page.text), "answer": "0"})
    assert "un nombre entier (au moins 1, au plus 100000)" in text_of(page.text)
    # A good value goes on to the next question.
    page = client.post(page.url, data={"csrf": csrf(page.text), "answer": "12"})
    assert page.url.endswith("/q/partner_groups")


def test_nothing_ticked_for_needs_is_refused_and_unticked_needs_invalidate_later_answers(server):
    client = requests.Session()
    answers = {"members": 5, "techie": "none", "budget_eur_month": 0, "needs": ["chat", "video"],
               "already_covered": ["video"]}
    walk(client, server.url, answers)
    page = client.get(server.url + "q/needs")
    refused = client.post(page.url, data={"csrf": csrf(page.text), "action": "next"})
    assert refused.url.endswith("/q/needs") and "An answer is needed here" in text_of(refused.text)
    assert "one or more of the options below" in text_of(refused.text)
    # Now without video: the 'already covered' answer (video) no longer holds and is asked again.
    page = client.post(page.url, data={"csrf": csrf(page.text), "answer": ["chat"], "action": "result"})
    assert page.url.endswith("/q/already_covered")
    assert "not among your answers" in text_of(page.text)
    assert 'value="video"' not in page.text  # only the needs answered are offered


def test_forms_without_the_session_token_are_refused(server):
    alice, mallory = requests.Session(), requests.Session()
    page = alice.get(server.url + "q/organisation")
    other = mallory.get(server.url + "q/organisation")
    for data in ({"answer": "X"}, {"answer": "X", "csrf": "guess"}, {"answer": "X", "csrf": csrf(other.text)}):
        refused = alice.post(page.url, data=data, allow_redirects=False)
        assert refused.status_code == 403
    # A token sent from another site's page (Origin) is refused even with the right token.
    refused = alice.post(page.url, data={"answer": "X", "csrf": csrf(page.text)},
                         headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert refused.status_code == 403
    # No cookie at all (a new browser): refused too, and nothing was stored for alice.
    assert requests.post(page.url, data={"answer": "X", "csrf": csrf(page.text)}).status_code == 403
    assert 'value=""' in alice.get(page.url).text
    assert alice.get(server.url + "q/members").url.endswith("/q/organisation")


def test_session_cookie_is_unguessable_httponly_and_samesite_strict(server):
    first = requests.get(server.url)
    cookie = first.headers["Set-Cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"sovstack_session_{server.httpd.server_address[1]}"
    assert len(value) >= 40 and value != requests.get(server.url).headers["Set-Cookie"].split(";")[0].split("=")[1]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
    assert first.headers["Cache-Control"] == "no-store"
    # An unknown session id (e.g. from before a restart) starts afresh with nothing.
    fresh = requests.get(server.url + "q/members", cookies={name: "made-up"}, allow_redirects=False)
    assert fresh.status_code == 303 and fresh.headers["Location"] == "/q/organisation"
    assert value not in fresh.headers["Set-Cookie"]


def test_other_host_names_are_refused_against_dns_rebinding(server):
    port = server.httpd.server_address[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "", f"127.0.0.1.evil.example:{port}"):
        response = requests.get(server.url, headers={"Host": host})
        assert response.status_code == 421, host
        assert "Set-Cookie" not in response.headers
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert requests.get(server.url, headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("bound,header,ok", [
    ("127.0.0.1", "127.0.0.1:8000", True),
    ("127.0.0.1", "localhost:8000", True),
    ("127.0.0.1", "[::1]:8000", True),
    ("127.0.0.1", "127.0.0.1:8001", False),
    ("127.0.0.1", "attacker.example:8000", False),
    ("127.0.0.1", "127.0.0.1", False),
    ("192.0.2.10", "192.0.2.10:8000", True),
    ("192.0.2.10", "localhost:8000", False),
    ("0.0.0.0", "192.0.2.10:8000", True),  # an IP literal cannot be rebound
    ("0.0.0.0", "rebind.attacker.example:8000", False),
    ("::", "[2001:db8::1]:8000", True),
    ("127.0.0.1", "127.0.0.1:8000@evil", False),
])
def test_host_check(bound, header, ok):
    assert HostCheck(bound, 8000)(header) is ok


def test_questions_follow_the_when_conditions_and_cannot_be_skipped(server):
    client = requests.Session()
    # Nothing answered: later questions and the result send back to the first question.
    for path in ("q/priority", "result", "download/answers.yml"):
        assert client.get(server.url + path).url.endswith("/q/organisation"), path
    order = []
    walk(client, server.url, {"members": 3, "techie": "none", "budget_eur_month": 0, "needs": ["forms"]},
         on_question=lambda question_id, page: order.append((question_id, page.text)))
    ids = [q for q, _ in order]
    # No techie: no hosting preference, no server RAM; one need: no single sign-on; no office formats.
    assert ids == ["organisation", "members", "partner_groups", "francophone", "techie", "budget_eur_month", "needs",
                   "already_covered", "existing_suite", "priority"]
    assert "Question 1 of 15" in order[0][1]  # everything may still apply at first
    assert "Question 6 of 13" in order[5][1]  # after 'no techie'
    assert "Question 10 of 10" in order[-1][1]
    # Back links go to the previous question that applies.
    assert 'rel="prev" href="/q/techie"' in order[5][1]
    # Back on a question already answered shows the answer; forward keeps it.
    page = client.get(server.url + "q/budget_eur_month")
    assert 'value="0"' in page.text and "Save and see the recommendation" in page.text
    page = client.post(page.url, data={"csrf": csrf(page.text), "answer": "0", "action": "result"})
    assert page.url.endswith("/result")


def test_language_switch_and_start_page(server):
    client = requests.Session()
    start = client.get(server.url)
    assert '<html lang="en">' in start.text and 'href="/q/organisation"' in start.text
    assert 'name="viewport"' in start.text
    page = client.post(server.url + "lang", data={"csrf": csrf(start.text), "lang": "fr", "next": "/q/organisation"})
    assert page.url.endswith("/q/organisation")
    assert '<html lang="fr">' in page.text and "Comment s'appelle votre association" in text_of(page.text)
    assert "Question 1 sur 15" in page.text
    # The switch only redirects within the site.
    away = client.post(server.url + "lang", data={"csrf": csrf(page.text), "lang": "en", "next": "//evil.example/"},
                       allow_redirects=False)
    assert away.headers["Location"] == "/"


def test_forget_clears_the_answers(server):
    client = requests.Session()
    result = walk(client, server.url, load_profile("small-choir"))
    page = client.post(server.url + "forget", data={"csrf": csrf(result.text)})
    assert page.url == server.url
    assert client.get(server.url + "result").url.endswith("/q/organisation")


def test_ask_web_serves_prints_the_address_and_writes_nothing(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "sovstack", "ask", "--web", "--no-browser", "--port", "0",
                              "--lang", "fr"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=like_a_terminal)
    try:
        line = child.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and '<html lang="fr">' in page.text
    finally:
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "gone" in err
    assert list(tmp_path.iterdir()) == []  # answers are only ever kept in memory


def test_ask_help_mentions_web_and_web_options_need_it():
    help_text = subprocess.run([sys.executable, "-m", "sovstack", "ask", "--help"], capture_output=True,
                               text=True, cwd=REPO, timeout=300).stdout
    assert "--web" in help_text and "sovstack ask --web" in help_text and "--no-browser" in help_text
    lonely = subprocess.run([sys.executable, "-m", "sovstack", "ask", "--port", "8080"], capture_output=True,
                            text=True, cwd=REPO, stdin=subprocess.DEVNULL, timeout=300)
    assert lonely.returncode == 2 and "--port only go with --web" in lonely.stderr
    both = subprocess.run([sys.executable, "-m", "sovstack", "ask", "--web", "--json"], capture_output=True,
                          text=True, cwd=REPO, stdin=subprocess.DEVNULL, timeout=300)
    assert both.returncode == 2 and "--web" in both.stderr


def test_a_port_in_use_is_a_clear_error(server):
    port = server.httpd.server_address[1]
    result = subprocess.run([sys.executable, "-m", "sovstack", "ask", "--web", "--no-browser", "--port", str(port)],
                            capture_output=True, text=True, cwd=REPO, timeout=30)
    assert result.returncode == 2 and "cannot listen there" in result.stderr and "--port" in result.stderr
