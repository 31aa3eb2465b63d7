"""The start-up cache of the validated catalog and questionnaire (sovstack/catalog.py, cached_load).

A warm start must give exactly what a full load gives; a changed file, a changed schema or a
damaged cache file must never be read as valid, and a broken decision tree is never cached.
"""

import json
import os
import pickle
import subprocess
import sys

import pytest
import yaml

from sovstack import catalog as catalog_module
from sovstack.catalog import load_catalog
from sovstack.errors import CatalogError
from sovstack.recommend.questionnaire import load_questionnaire
from sovstack.recommend.service import recommend
from tests.conftest import REPO


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of sovstack's own, for this test only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOVSTACK_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "sovstack"


def _entries(cache, name="catalog"):
    return sorted(cache.glob(f"{name}-*.pickle")) if cache.is_dir() else []


def _no_full_load(monkeypatch):
    def refuse(root):
        raise AssertionError("the catalog was read from YAML, not from the cache")
    monkeypatch.setattr(catalog_module, "_load_catalog", refuse)


def test_second_load_is_read_from_the_cache_and_equals_the_first(cache, tree_copy, monkeypatch):
    fresh = load_catalog(tree_copy)
    assert len(_entries(cache)) == 1
    _no_full_load(monkeypatch)
    assert load_catalog(tree_copy) == fresh


def _rename_nextcloud(tree):
    path = tree / "tools" / "nextcloud.yml"
    data = yaml.safe_load(path.read_text())
    data["name"] = "Nextcloud, edited"
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _add_a_tool(tree):
    data = yaml.safe_load((tree / "tools" / "yakforms.yml").read_text())  # hosted only: no port to clash
    data["id"] = "yakforms-copy"
    (tree / "tools" / "yakforms-copy.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def _remove_an_addon(tree):
    (tree / "tools" / "roundcube.yml").unlink()


CHANGES = [
    # (what changes in the decision tree, what the next load must show)
    (_rename_nextcloud, lambda cat: cat.tools["nextcloud"].name == "Nextcloud, edited"),
    (_add_a_tool, lambda cat: "yakforms-copy" in cat.tools),
    (_remove_an_addon, lambda cat: "roundcube" not in cat.tools),
]


@pytest.mark.parametrize("change,seen", CHANGES)
def test_a_changed_decision_tree_is_loaded_again(cache, tree_copy, change, seen):
    before = load_catalog(tree_copy)
    assert not seen(before)
    change(tree_copy)
    after = load_catalog(tree_copy)
    assert seen(after)
    assert len(_entries(cache)) == 1  # the old entry is gone, the new one written


def test_a_changed_schema_is_not_read_from_an_old_entry(cache, tree_copy, tmp_path, monkeypatch):
    load_catalog(tree_copy)
    schema = tmp_path / "catalog.py"
    schema.write_text(catalog_module.SCHEMA.read_text() + "\n# a new field\n")
    monkeypatch.setattr(catalog_module, "SCHEMA", schema)
    calls = []
    real = catalog_module._load_catalog
    monkeypatch.setattr(catalog_module, "_load_catalog", lambda root: calls.append(root) or real(root))
    load_catalog(tree_copy)
    assert calls == [tree_copy]


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _garbage(path):
    path.write_bytes(b"not a pickle at all")


def _empty(path):
    path.write_bytes(b"")


def _wrong_key(path):
    key, value = pickle.loads(path.read_bytes())
    path.write_bytes(pickle.dumps(("0" * 64, value)))


def _wrong_type(path):
    key, value = pickle.loads(path.read_bytes())
    path.write_bytes(pickle.dumps((key, {"tools": {}})))


def _unreadable(path):
    path.unlink()
    path.mkdir()  # a directory where the file should be: opening it fails


CORRUPTIONS = [_truncate, _garbage, _empty, _wrong_key, _wrong_type, _unreadable]


@pytest.mark.parametrize("damage", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_cache_file_is_a_miss_never_an_error(cache, tree_copy, damage):
    fresh = load_catalog(tree_copy)
    [entry] = _entries(cache)
    damage(entry)
    assert load_catalog(tree_copy) == fresh


@pytest.mark.parametrize("setting", ["disabled", "unwritable"])
def test_no_usable_cache_still_loads(tmp_path, monkeypatch, tree_copy, setting):
    if setting == "disabled":
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        monkeypatch.setenv("SOVSTACK_NO_CACHE", "1")
    else:
        (tmp_path / "xdg").write_text("a file, so no directory can be made under it")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert "nextcloud" in load_catalog(tree_copy).tools
    assert load_questionnaire(tree_copy).questions
    assert not (tmp_path / "xdg").is_dir()


def test_a_broken_tree_is_never_cached(cache, tree_copy):
    path = tree_copy / "tools" / "nextcloud.yml"
    data = yaml.safe_load(path.read_text())
    data["scores"]["cost"]["value"] = 7
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    for _ in range(2):  # the second load must find nothing to trust either
        with pytest.raises(CatalogError) as err:
            load_catalog(tree_copy)
        assert "scores.cost.value" in err.value.message
    assert _entries(cache) == []


def test_the_questionnaire_is_cached_and_follows_its_file(cache, tree_copy):
    first = load_questionnaire(tree_copy)
    assert len(_entries(cache, "questionnaire")) == 1
    assert load_questionnaire(tree_copy) == first
    path = tree_copy / "questions.yml"
    path.write_text(path.read_text().replace("techie != 'none'", "techie == 'confident'", 1))
    changed = [q.when for q in load_questionnaire(tree_copy).questions if q.when]
    assert "techie == 'confident'" in changed


ANSWERS = sorted((REPO / "examples" / "answers").glob("*.yml"))


@pytest.mark.parametrize("answers", ANSWERS, ids=lambda p: p.stem)
def test_a_cached_load_recommends_exactly_what_a_fresh_load_does(cache, monkeypatch, answers):
    given = yaml.safe_load(answers.read_text())
    monkeypatch.setenv("SOVSTACK_NO_CACHE", "1")
    fresh = recommend(given, source=str(answers)).data
    monkeypatch.delenv("SOVSTACK_NO_CACHE")
    recommend(given, source=str(answers))  # fills the cache
    assert _entries(cache) and _entries(cache, "questionnaire")
    cached = recommend(given, source=str(answers)).data
    assert json.dumps(cached, sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_a_warm_ask_does_not_import_pydantic(tmp_path):
    """pydantic costs more to import than the rest of `ask`: only a cold load may need it."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("SOVSTACK_NO_CACHE", None)
    answers = REPO / "examples" / "answers" / "neighbourhood-association.yml"
    code = ("import sys, runpy; sys.argv=['sovstack','ask','--answers',%r,'--out',%r,'--json'];\n"
            "try:\n    runpy.run_module('sovstack', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('PYDANTIC=%%s\\n' %% ('pydantic' in sys.modules))") % (str(answers), str(tmp_path / "out"))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                           timeout=300)
            for _ in range(2)]
    assert "PYDANTIC=True" in runs[0].stderr  # the cold run validated the YAML
    assert "PYDANTIC=False" in runs[1].stderr, runs[1].stderr
