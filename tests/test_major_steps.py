"""Tools whose data upgrades one major version at a time (catalog deploy.major_steps): which earlier
majors `sovstack update` starts in turn, what it refuses before changing anything, and the catalog's
checks. Nextcloud's image refuses to start on data more than one major older (its README)."""

from __future__ import annotations

import pytest
import yaml

from sovstack.catalog import image_major, load_catalog
from sovstack.errors import CatalogError, UserError
from sovstack.update.plan import UPDATED, Outcome, Running, ToolImages, major_steps

NC = "nextcloud:{}-apache"
STEPS = [NC.format("32.0.13"), NC.format("33.0.7")]
PINNED = [NC.format("34.0.2"), "postgres:17.6-trixie", "redis:8.2.9-alpine"]


def cloud(*running: str) -> ToolImages:
    return ToolImages("main", "nextcloud", PINNED, [Running(f"s{i}", ref, "id") for i, ref in enumerate(running)])


# (what runs, the steps the update takes)
GOES_THROUGH = [
    ((NC.format("31.0.14"), NC.format("31.0.14"), "postgres:17.6-trixie"), STEPS),  # app and cron containers
    ((NC.format("32.0.1"), "postgres:17.6-trixie"), [NC.format("33.0.7")]),
    ((NC.format("33.0.7"),), []),  # one major away: the pinned image upgrades it itself
    ((NC.format("34.0.1"),), []),
    ((NC.format("34.0.2"),), []),
    (("postgres:17.6-trixie",), []),  # no Nextcloud container: nothing to step
    ((), []),  # not deployed yet: a fresh install starts at the pin
]


@pytest.mark.parametrize("running,steps", GOES_THROUGH)
def test_the_update_starts_every_major_between_what_runs_and_the_pin(running, steps):
    assert major_steps(cloud(*running), STEPS) == steps


# (what runs, the steps the catalog offers, words of the refusal)
REFUSED = [
    ((NC.format("35.0.0"),), STEPS, ["runs nextcloud:35.0.0-apache, a newer major than the pinned nextcloud:34.0.2",
                                     "cannot be downgraded", "nothing was changed"]),
    ((NC.format("30.0.17"),), STEPS, ["deploy.major_steps has no image for major 31", "nothing was changed"]),
    ((NC.format("31.0.14"),), [NC.format("33.0.7")], ["no image for major 32"]),
]


@pytest.mark.parametrize("running,steps,words", REFUSED)
def test_an_update_that_cannot_step_through_is_refused_before_any_change(running, steps, words):
    with pytest.raises(UserError) as err:
        major_steps(cloud(*running), steps)
    for word in words:
        assert word in err.value.message, (word, err.value.message)
    assert "tools/nextcloud.yml" in err.value.hint or "deploy.images" in err.value.hint


def test_the_catalog_steps_nextcloud_from_its_previous_pin_to_the_current_one():
    # 31.0.14 was the pin before 34.0.2: a server deployed then goes through 32 and 33.
    deploy = load_catalog().tools["nextcloud"].deploy
    assert deploy.images[0] == PINNED[0]
    assert major_steps(cloud(NC.format("31.0.14")), deploy.major_steps.images) == STEPS


def test_the_report_says_which_majors_the_update_went_through():
    plan = cloud(NC.format("31.0.14"), *PINNED[1:])
    plan.steps = STEPS
    line = Outcome("main", "nextcloud", UPDATED, plan).line()
    assert line == ("update: main: updated nextcloud from nextcloud:31.0.14-apache to nextcloud:34.0.2-apache through "
                    "nextcloud:32.0.13-apache, nextcloud:33.0.7-apache (one major at a time): health check ok")


@pytest.mark.parametrize("ref,major", [("nextcloud:31.0.14-apache", 31), ("ghcr.io/x/y:2.6.1", 2),
                                       ("registry:5000/app:10", 10), ("jitsi/web:stable-10888", None)])
def test_the_major_of_an_image_is_its_tag_s_first_number(ref, major):
    assert image_major(ref) == major


# (major_steps.images, words of the catalog error)
BAD_STEPS = [
    (["mariadb:11.4.8"], "earlier versions of one image in 'images'"),
    ([NC.format("33.0.7"), NC.format("32.0.13")], "one image per major version, in order"),
    ([NC.format("32.0.13"), NC.format("34.0.0")], "each below the pinned one"),
    ([NC.format("31.0.14"), NC.format("33.0.7")], "none may be skipped"),
]


@pytest.mark.parametrize("steps,words", BAD_STEPS)
def test_a_major_steps_mistake_is_reported(tree_copy, steps, words):
    path = tree_copy / "tools" / "nextcloud.yml"
    data = yaml.safe_load(path.read_text())
    data["deploy"]["major_steps"]["images"] = steps
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CatalogError) as err:
        load_catalog(tree_copy)
    assert "nextcloud.yml" in err.value.message and words in err.value.message, err.value.message
