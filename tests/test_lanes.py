"""scripts/lanes.py: which arguments run one pytest, and which lane each module's shared server puts it in."""

import importlib.util

import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("lanes", REPO / "scripts" / "lanes.py")
lanes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lanes)


@pytest.mark.parametrize("args, part", [
    ([], False),
    (["-p", "no:cacheprovider"], False),  # .ci/run's: the whole suite
    (["-x", "-q", "--durations", "50"], False),
    (["tests/test_cli.py"], True),
    (["tests/test_cli.py::test_help", "-x"], True),
    (["-k", "lynis"], True),
    (["-m", "not docker"], True),
    (["--lf"], True),
])
def test_a_path_or_a_selection_runs_one_pytest_and_options_alone_run_the_lanes(args, part):
    assert lanes.selects_a_part(args) is part


def test_every_module_of_a_shared_server_is_in_that_servers_lane_and_every_module_in_one_lane():
    found = lanes.lanes()
    every = sorted((REPO / "tests").glob("test_*.py"))
    assert sorted(found["converged"] + found["other"]) == every
    assert {"test_deploy_sandbox.py", "test_backup_sandbox.py"} <= {m.name for m in found["converged"]}
    assert {"test_radicale_sandbox.py", "test_cli.py"} <= {m.name for m in found["other"]}
    for lane, modules in found.items():
        for module in modules:
            asked = lanes.fixtures_asked_for(module)
            assert ("converged_server" in asked) == (lane == "converged"), module.name
            if "debian_apps" in asked:
                assert lane == "other", module.name


@pytest.mark.parametrize("fixtures", [("converged_server", "debian_apps")])
def test_a_module_using_the_servers_of_two_lanes_is_refused_naming_it_and_the_fix(tmp_path, fixtures):
    (tmp_path / "test_both.py").write_text("def test_x(" + ", ".join(fixtures) + "): pass\n")
    (tmp_path / "test_plain.py").write_text("def test_y(): pass\n")
    with pytest.raises(SystemExit) as refused:
        lanes.lanes(tmp_path)
    assert "test_both.py" in str(refused.value) and "fix:" in str(refused.value)
