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


@pytest.fixture(scope="session")
def debian_apps(tmp_path_factory):
    """One sandbox server ("test-debian-apps") with Debian's OpenLDAP, Radicale, Matomo and DokuWiki, converged by two
    pyinfra deploys (runs "fresh" and "again"), the directory members tests.servers.DEBIAN_APPS_MEMBERS
    (ada, ben, cleo), the network's groups tests.servers.DEBIAN_APPS_GROUPS (in sovstack.yml before the
    deploys, no members yet) and Caddy's root CA: a tests.servers.Deployed, removed at the end of the session.

    Session scope, so any module may use it (Matomo's, Radicale's, a calendar migration's...) and the
    stack is converged once per run, not once per module. A module that changes what others see (disables
    a member, wipes data) puts it back before it ends; one that needs members of its own adds them under
    names no other module uses."""
    from tests.servers import DEBIAN_APPS, DEBIAN_APPS_GROUPS, DEBIAN_APPS_MEMBERS, deployed_stack

    with deployed_stack(tmp_path_factory, "test-debian-apps", DEBIAN_APPS, DEBIAN_APPS_MEMBERS,
                        commands=DEBIAN_APPS_GROUPS) as deployed:
        yield deployed
