import shutil
from pathlib import Path

import pytest

from sovstack.catalog import NEEDS, load_catalog
from sovstack.paths import PACKAGE_DATA
from sovstack.recommend.questionnaire import load_questionnaire

REPO = Path(__file__).resolve().parent.parent  # the checkout
DATA = PACKAGE_DATA  # decision_tree/, templates/, playbooks/ (inside the package)


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def questionnaire():
    return load_questionnaire()


@pytest.fixture
def tree_copy(tmp_path, monkeypatch):
    """A writable copy of decision_tree/ that sovstack reads instead of the real one."""
    copy = tmp_path / "decision_tree"
    shutil.copytree(DATA / "decision_tree", copy)
    monkeypatch.setenv("SOVSTACK_DECISION_TREE", str(copy))
    return copy


def base_answers(**overrides):
    answers = {"members": 20, "techie": "confident", "budget_eur_month": 30,
               "needs": list(NEEDS)}
    answers.update(overrides)
    return answers


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "out"


@pytest.fixture(scope="session")
def converged_server(tmp_path_factory):
    """engine -> a sandbox server converged with the sample stack; made once per session, shared."""
    from tests.servers import converge_sample

    made, finalizers = {}, []

    def get(engine: str):
        if engine not in made:
            made[engine] = converge_sample(engine, tmp_path_factory, finalizers)
        return made[engine]
    yield get
    for finalize in finalizers:
        finalize()
