"""Proof levels are checked, not claimed: each deployable tool's catalog `proof` and `proven` must be what the
tests' `proves` markers show (tests/proof_markers.py collects them from the whole suite, nothing run)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from sovstack.catalog import PROOF_ASPECTS, load_catalog
from sovstack.recommend.report import render_markdown
from sovstack.recommend.service import recommend
from sovstack.recommend.wording import PROOF, proof_words
from tests.conftest import REPO as ROOT

CATALOG = load_catalog()
DEPLOYABLE = sorted(t.id for t in CATALOG.tools.values() if t.sovstack_deploys)


@pytest.fixture(scope="module")
def markers(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("proof") / "markers.json"
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "-p", "tests.proof_markers", "tests"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "SOVSTACK_PROOF_MARKERS": str(out)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(out.read_text())


def shown(markers: list[dict], tool: str) -> tuple[str, list[str]]:
    """The level and aspects the markers show for one tool: real wins over stand-in over rendered."""
    for standin, level in ((False, "real"), (True, "stand-in")):
        aspects = {a for m in markers if tool in m["tools"] and m["standin"] == standin for a in m["aspects"]}
        if aspects:
            return level, sorted(aspects, key=PROOF_ASPECTS.index)
    return "rendered", []


def test_the_suite_marks_real_and_stand_in_proofs_at_all(markers):
    # Guards the collection itself: a plugin that found nothing would make every tool "rendered".
    assert {m["standin"] for m in markers} == {False, True}
    assert len({t for m in markers for t in m["tools"]}) >= 5


def test_every_marker_names_deployable_tools_and_known_aspects(markers):
    for m in markers:
        assert m["tools"] and set(m["tools"]) <= set(DEPLOYABLE), f"{m['test']}: proves {m['tools']}: " \
            f"not tools sovstack deploys ({', '.join(DEPLOYABLE)})"
        assert m["aspects"] and set(m["aspects"]) <= set(PROOF_ASPECTS), f"{m['test']}: proves {m['aspects']}: " \
            f"aspects are among {', '.join(PROOF_ASPECTS)}"
        assert not m["unknown_options"], f"{m['test']}: proves(..., {m['unknown_options']}): only standin= is known"


def test_a_real_proof_comes_from_a_sandbox_test_and_a_stand_in_one_from_a_test_named_for_it(markers):
    for m in markers:
        if m["standin"]:
            assert "standin" in m["name"] or "stand_in" in m["name"], f"{m['test']}: proves with a stand-in: " \
                "its name must say so"
        else:
            assert m["sandbox"], f"{m['test']}: proves {m['tools']} for real, so it must run on a sandbox server " \
                "(pytest.mark.sandbox)"


def proves_marked(tree: ast.Module) -> list[str]:
    """The functions and classes of a test module that carry a `proves` marker, by name."""
    def is_proves(decorator: ast.expr) -> bool:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        return isinstance(call, ast.Attribute) and call.attr == "proves"
    return [node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and any(is_proves(d) for d in node.decorator_list)]


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "tests").glob("test_*.py")))
def test_every_proves_marker_sits_on_a_test(module):
    # pytest drops a marker on a helper without a word: the proof it names would silently vanish from the catalog.
    tree = ast.parse((ROOT / "tests" / module).read_text(), module)
    misplaced = [name for name in proves_marked(tree) if not name.startswith(("test_", "Test"))]
    assert not misplaced, f"tests/{module}: `proves` marks {misplaced}, which pytest does not run as tests; " \
        "move the marker onto the test below it"


@pytest.mark.parametrize("tool", DEPLOYABLE)
def test_the_catalog_states_the_proof_the_tests_show(markers, tool):
    level, aspects = shown(markers, tool)
    entry = CATALOG.tools[tool]
    assert (entry.proof, entry.proven) == (level, aspects), (
        f"sovstack/decision_tree/tools/{tool}.yml: proof: {entry.proof}, proven: {entry.proven}; the tests show "
        f"proof: {level}, proven: [{', '.join(aspects)}]: set these (or add the tests that prove the claim)")


def test_a_tool_sovstack_does_not_deploy_states_no_proof():
    for tool in CATALOG.tools.values():
        if not tool.sovstack_deploys:
            assert tool.proof is None and not tool.proven, tool.id


def test_every_aspect_and_level_has_plain_words():
    assert set(PROOF["aspects"]) == set(PROOF_ASPECTS)
    assert set(PROOF) - {"aspects"} == {"real", "stand-in", "rendered"}


@pytest.mark.parametrize("proof,proven,lang,words", [
    ("real", ["login", "backup", "restore"], "en",
     "proven on a real Debian 13 server by sovstack's tests: login with the directory password, backup, restore"),
    ("real", ["chat"], "fr", "éprouvé sur un vrai serveur Debian 13 par les tests de sovstack : discussion de groupe"),
    ("stand-in", ["health", "backup"], "en",
     "run by sovstack's tests with a stand-in in its place (health check, backup); its own software is not yet"),
    ("rendered", [], "en", "configured from its documentation; not yet run by sovstack's tests"),
    ("rendered", [], "fr", "configuré d'après sa documentation ; pas encore lancé par les tests de sovstack"),
    (None, [], "en", None),
])
def test_the_proof_in_plain_words(proof, proven, lang, words):
    assert proof_words(SimpleNamespace(proof=proof, proven=proven), lang) == words


def test_the_decision_ranks_a_proven_tool_above_an_otherwise_equal_rendered_one_and_says_so(catalog, questionnaire):
    # The union of 400 (tests/test_profiles.py): Postfix+Dovecot (real) and docker-mailserver (rendered) score 15
    # each on the four criteria; the proof bonus alone puts the proven one first.
    answers = dict(members=400, techie="confident", budget_eur_month=60, sso_required=True,
                   needs=["email", "documents", "files", "chat", "video", "forms", "analytics"])
    rec = recommend(answers, source="test", catalog=catalog, questionnaire=questionnaire).recommendation
    email = rec.outcomes["email"]
    runner_up = email.alternatives[0]
    assert (email.pick.tool, runner_up.tool) == ("postfix-dovecot", "docker-mailserver")
    assert sum(email.pick.scores.values()) == sum(runner_up.scores.values())
    bonus = catalog.criteria.proof_bonus
    assert bonus > 0 and email.pick.total == runner_up.total + bonus
    assert [n.key for n in email.pick.notes].count("proven") == 1
    assert "proven" not in [n.key for n in runner_up.notes]
    for lang, words in (("en", "proven on a real Debian 13 server by sovstack's tests (+0.50)"),
                        ("fr", "éprouvé sur un vrai serveur Debian 13 par les tests de sovstack (+0.50)")):
        assert words in render_markdown(rec, catalog, lang)
    # The plain words of the pick say how far each self-hosted pick is proven.
    assert "proven on a real Debian 13 server by sovstack's tests: installation" in render_markdown(rec, catalog, "en")
    assert "configured from its documentation; not yet run by sovstack's tests" in render_markdown(rec, catalog, "en")


def test_a_hosted_pick_gets_no_proof_bonus(catalog, questionnaire):
    answers = dict(members=8, techie="none", budget_eur_month=0, needs=["chat"])
    rec = recommend(answers, source="test", catalog=catalog, questionnaire=questionnaire).recommendation
    candidates = [rec.outcomes["chat"].pick, *rec.outcomes["chat"].alternatives]
    assert all(c.mode == "hosted" for c in candidates)
    assert not [n for c in candidates for n in c.notes if n.key == "proven"]
