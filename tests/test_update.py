"""`sovstack update`'s decisions without a server: which tools changed, what the report says, bad input."""

import subprocess
import sys

import pytest
import yaml

from sovstack.update.plan import (
    NEW,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    UP_TO_DATE,
    UPDATED,
    Outcome,
    Running,
    ToolImages,
    compose_images,
    failures,
    held_back,
    others_changed,
    parse_images,
)

PAD_A, PAD_B, PG = "etherpad/etherpad:2.6.1", "etherpad/etherpad:2.6.2", "postgres:17.6-trixie"


def plan(wanted, running, have=None, tool="etherpad", server="main"):
    runs = [Running(f"s{i}", ref, image_id) for i, (ref, image_id) in enumerate(running)]
    return ToolImages(server, tool, wanted, runs, have if have is not None else {r: i for r, i in running})


CASES = [
    # (what, wanted, running, have, changed, new)
    ("same pins, same images", [PAD_A, PG], [(PAD_A, "sha:a"), (PG, "sha:p")], None, False, False),
    ("a pin bumped", [PAD_B, PG], [(PAD_A, "sha:a"), (PG, "sha:p")], {PAD_B: "sha:b", PG: "sha:p"}, True, False),
    ("rebuilt under the same name", [PAD_A, PG], [(PAD_A, "sha:a"), (PG, "sha:p")], {PAD_A: "sha:a2", PG: "sha:p"},
     True, False),
    ("a service added", [PAD_A, PG, "redis:8"], [(PAD_A, "sha:a"), (PG, "sha:p")], None, True, False),
    ("nothing runs yet", [PAD_A, PG], [], {}, False, True),
    ("new pin not on the server yet", [PAD_B, PG], [(PAD_A, "sha:a"), (PG, "sha:p")], {PAD_B: "-", PG: "sha:p"},
     True, False),
]


@pytest.mark.parametrize("what,wanted,running,have,changed,new", CASES, ids=[c[0] for c in CASES])
def test_which_tools_changed(what, wanted, running, have, changed, new):
    found = plan(wanted, running, have)
    assert found.changed() is changed
    assert found.is_new is new


def test_missing_images_are_the_pins_the_server_does_not_hold():
    assert plan([PAD_B, PG], [(PAD_A, "a")], {PAD_B: "-", PG: "p"}).missing() == [PAD_B]
    assert plan([PAD_B, PG], [(PAD_A, "a")], {PG: "p"}).missing() == [PAD_B]  # not asked is not held


def test_compose_images_in_order_without_repeats():
    text = yaml.safe_dump({"name": "x", "services": {"web": {"image": PAD_A}, "db": {"image": PG},
                                                     "worker": {"image": PAD_A}, "job": {"build": "."}}}, sort_keys=False)
    assert compose_images(text) == [PAD_A, PG]


def test_parse_images_reads_the_server_script_output():
    out = (f"run etherpad {PAD_A} sha256:aaa\nrun postgres {PG} sha256:ppp\n"
           f"have {PAD_B} sha256:bbb\nhave {PG} sha256:ppp\nhave redis:8 -\nnoise\n")
    running, have = parse_images(out)
    assert running == [Running("etherpad", PAD_A, "sha256:aaa"), Running("postgres", PG, "sha256:ppp")]
    assert have == {PAD_B: "sha256:bbb", PG: "sha256:ppp", "redis:8": "-"}


def test_with_tool_other_changed_tools_on_the_same_server_are_named():
    pad = plan([PAD_B], [(PAD_A, "a")], {PAD_B: "b"})
    cloud = plan(["nextcloud:31"], [("nextcloud:30", "n")], {}, tool="nextcloud")
    elsewhere = plan(["matrix:2"], [("matrix:1", "m")], {}, tool="synapse", server="other")
    fresh = plan(["forms:1"], [], {}, tool="forms")
    same = plan([PG], [(PG, "p")], tool="db")
    assert others_changed([pad, cloud, elsewhere, fresh, same], ("etherpad",)) == ["forms (main)", "nextcloud (main)"]
    assert others_changed([pad, cloud, elsewhere], ()) == []
    assert others_changed([pad, cloud, elsewhere], ("etherpad", "nextcloud")) == []


REPORTS = [
    (Outcome("main", "etherpad", ROLLED_BACK, plan([PAD_B, PG], [(PAD_A, "a"), (PG, "p")]),
             "health check https://pad.voisins.test/health failed (local 503, https 503)"),
     ["update: main: rolled back etherpad from etherpad/etherpad:2.6.2 to etherpad/etherpad:2.6.1: "
      "health check https://pad.voisins.test/health failed (local 503, https 503)", "data is as it was",
      "/srv/sovstack/update/etherpad/failed"]),
    (Outcome("main", "etherpad", UPDATED, plan([PAD_B, PG], [(PAD_A, "a"), (PG, "p")])),
     ["update: main: updated etherpad from etherpad/etherpad:2.6.1 to etherpad/etherpad:2.6.2: health check ok"]),
    (Outcome("main", "etherpad", UPDATED, plan([PAD_A], [(PAD_A, "a")], {PAD_A: "a2"})),
     ["updated etherpad etherpad/etherpad:2.6.1 (a newer image under the same name)"]),
    (Outcome("main", "etherpad", ROLLED_BACK, plan([PAD_A], [(PAD_A, "a")], {PAD_A: "a2"}), "its containers do not all run"),
     ["rolled back etherpad from etherpad/etherpad:2.6.1 (newer image) to etherpad/etherpad:2.6.1 (previous image)"]),
    (Outcome("main", "etherpad", UP_TO_DATE, plan([PAD_A, PG], [(PAD_A, "a"), (PG, "p")])),
     ["etherpad: up to date (etherpad/etherpad:2.6.1, postgres:17.6-trixie)"]),
    (Outcome("main", "etherpad", NEW, plan([PAD_A], [], {})), ["etherpad: deployed for the first time"]),
    (Outcome("main", "etherpad", ROLLBACK_FAILED, plan([PAD_B], [(PAD_A, "a")]), "the deploy failed (x)"),
     ["the update failed (the deploy failed (x)) and so did the rollback",
      "/srv/sovstack/bin/sovstack-update rollback etherpad"]),
]


@pytest.mark.parametrize("outcome,expected", REPORTS, ids=[f"{r[0].status}-{i}" for i, r in enumerate(REPORTS)])
def test_report_lines(outcome, expected):
    for text in expected:
        assert text in outcome.line()


def test_failures_are_rollbacks_and_failed_updates_only():
    found = [o for o, _ in REPORTS]
    assert [o.status for o in failures(found)] == [ROLLED_BACK, ROLLED_BACK, ROLLBACK_FAILED]


def compose(*images):
    return yaml.safe_dump({"services": {f"s{i}": {"image": ref} for i, ref in enumerate(images)}})


HOLD = f"why health check https://pad.example.org/health failed (local 503, https 503)\nimage {PAD_B}\n"
HELD = [
    # (hold file, images the deploy would start, refused, words in the refusal)
    (HOLD, [PAD_B, PG], True, [f"rolled it back from {PAD_B} (health check https://pad.example.org/health failed",
                               "pin another version of etherpad", "sovstack update --tool etherpad"]),
    (HOLD, [PAD_A, PG], False, []),  # pinned back: nothing held runs
    (HOLD, ["etherpad/etherpad:2.6.20"], False, []),  # a prefix is another image
    (f"image {PAD_B}\n", [PAD_B], True, ["(its update failed)"]),  # no reason recorded
    ("why x\n", [PAD_B], False, []),  # nothing held
    ("", [PAD_B], False, []),
]


@pytest.mark.parametrize("hold,images,refused,words", HELD)
def test_a_deploy_refuses_to_start_a_version_update_rolled_back(hold, images, refused, words):
    refusal = held_back(hold, "etherpad", compose(*images))
    assert (refusal is not None) == refused
    for word in words:
        assert word in refusal


@pytest.mark.parametrize("args,message", [
    (["--tool", "nosuch"], "--tool 'nosuch': no such tool"),
    (["--tool", "roundcube"], "--tool 'roundcube': it comes from Debian packages"),
    (["--server", "other"], "--server 'other': no such server"),
    (["--server", "second", "--tool", "etherpad"], "etherpad runs on 'main'"),
])
def test_bad_input_is_refused_before_any_server_is_contacted(tmp_path, args, message):
    stack = {"organisation": "Les Voisins", "domain": "voisins.test", "admin_email": "admin@voisins.test",
             "tls": "internal", "servers": {"main": {"address": "192.0.2.1"}, "second": {"address": "192.0.2.2"}},
             "tools": {"etherpad": {"server": "main"}, "roundcube": {"server": "main"},
                       "postfix-dovecot": {"server": "main"}}}
    (tmp_path / "sovstack.yml").write_text(yaml.safe_dump(stack))
    result = subprocess.run([sys.executable, "-m", "sovstack", "update", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "fix:" in result.stderr
    assert not (tmp_path / "build").exists()  # checked before anything was rendered
