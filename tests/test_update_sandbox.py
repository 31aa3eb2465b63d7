"""Update drill on a sandbox server of its own, with etherpad's stand-in images.

Version A (etherpad/etherpad:2.6.1) runs and answers. The catalog copy (SOVSTACK_DECISION_TREE) then
pins "new versions": B (2.6.2), a stand-in whose /health answers 503, which `sovstack update` must
roll back to A with its data intact while the pad keeps serving through Caddy; a pin that cannot be
pulled, which must stop nothing; B' (2.6.3), a good stand-in, which must update; then a failing image
rebuilt under B''s own name, which must be rolled back to the previous image under that same name.
Then, as for a tool whose data upgrades one major at a time (deploy.major_steps, as Nextcloud's): a
deploy that would skip a major is refused, a failing step (3.0.9) rolls back to B', and a good step
(3.0.0) leads to 4.0.0, each major started in turn.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest
import yaml

from sovstack.engines import sandbox
from sovstack.render import envfile
from tests.conftest import DATA
from tests.servers import (
    STANDIN_BASE,
    build_standins,
    etherpad_templates,
    published_container_ports,
    standin_health,
    require_docker,
    sovstack,
    ssh,
    write_stack,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.docker]
NAME = "test-update"
PAD_A, PAD_BAD, PAD_GOOD = "etherpad/etherpad:2.6.1", "etherpad/etherpad:2.6.2", "etherpad/etherpad:2.6.3"
PAD_STEP, PAD_STEP_BAD, PAD_NEXT = "etherpad/etherpad:3.0.0", "etherpad/etherpad:3.0.9", "etherpad/etherpad:4.0.0"
MARKER = "/srv/sovstack/data/etherpad/uploads/before-update.txt"
CADDY = ("curl -sk -o /dev/null -w '%{http_code}' --max-time 10 --resolve pad.voisins.test:443:127.0.0.1 "
         "https://pad.voisins.test/health")
ROOT_BIN = "/srv/sovstack/bin"
RUNNING = "docker inspect -f '{{.Config.Image}} {{.Image}}' etherpad-etherpad-1"


def build_failing_standin(image: str, port: int) -> None:
    """A stand-in whose /health answers 503 (404 elsewhere): a new version that does not work."""
    dockerfile = (f"FROM {STANDIN_BASE}\nLABEL org.sovstack.standin=true\n"
                  f"ENV STANDIN_PORTS=\"{port}\" STANDIN_IMAGE=\"{image}\" STANDIN_HEALTH=\"/health\" "
                  "STANDIN_HEALTH_STATUS=503\n")
    subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile.encode(), check=True,
                   capture_output=True, timeout=900)


# Etherpad's health timing in the drill's copy of the templates: 3.5 minutes to an unhealthy verdict with the
# catalog's figures, three times per run. The drill exercises what sovstack does with that verdict, not the
# figures, so it asks every 2 s from 10 s on.
DRILL_TIMING = "      interval: 2s\n      timeout: 5s\n      retries: 5\n      start_period: 10s"


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    require_docker()
    tree = tmp_path_factory.mktemp("update-tree") / "decision_tree"
    shutil.copytree(DATA / "decision_tree", tree)
    state = tmp_path_factory.mktemp("sandbox-update")
    work = tmp_path_factory.mktemp("stack-update")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOVSTACK_DECISION_TREE", str(tree))
        patch.setenv("SOVSTACK_TEMPLATES", str(etherpad_templates(tmp_path_factory.mktemp("update-templates"),
                                                                       DRILL_TIMING)))
        server = sandbox.up(NAME, state_dir=state)
        try:
            write_stack(work, server, {})
            sovstack("deploy", cwd=work)  # Docker, Caddy: the server can take images now
            write_stack(work, server, {"etherpad": {"server": "main"}})
            sovstack("render", cwd=work)
            compose = work / "build" / "main" / "files" / "srv" / "sovstack" / "apps" / "etherpad" / "compose.yml"
            ports = published_container_ports(compose.read_text())
            health = standin_health(work)
            more = (PAD_GOOD, PAD_STEP, PAD_NEXT)
            images = build_standins({**ports, **{i: ports[PAD_A] for i in more}},
                                    {**health, **{i: health[PAD_A] for i in more}})
            build_failing_standin(PAD_BAD, ports[PAD_A][0])
            build_failing_standin(PAD_STEP_BAD, ports[PAD_A][0])
            sandbox.load_images(server, [*images, PAD_BAD, PAD_STEP_BAD])
            sovstack("deploy", cwd=work)
            yield {"server": server, "work": work, "tree": tree}
        finally:
            if not os.environ.get("SOVSTACK_KEEP_SANDBOX"):
                sandbox.down(NAME, state_dir=state)


def pin(drill, image: str) -> None:
    path = drill["tree"] / "tools" / "etherpad.yml"
    text = path.read_text()
    current = next(line.split("- ", 1)[1].strip() for line in text.splitlines() if "- etherpad/etherpad:" in line)
    path.write_text(text.replace(current, image))


def pin_with_steps(drill, image: str, steps: list[str]) -> None:
    """Pin `image` and declare the earlier majors to go through (the catalog copy's deploy.major_steps)."""
    path = drill["tree"] / "tools" / "etherpad.yml"
    data = yaml.safe_load(path.read_text())
    data["deploy"]["images"] = [image if i.startswith("etherpad/etherpad:") else i for i in data["deploy"]["images"]]
    data["deploy"]["major_steps"] = {"images": steps, "note": "the test's stand-ins, one per major",
                                     "source": "https://github.com/nextcloud/docker/blob/master/README.md"}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def on_server(drill, command: str) -> str:
    return ssh(drill["server"], command).stdout.strip()


def image_id(drill, image: str) -> str:
    return on_server(drill, f"docker image inspect -f '{{{{.Id}}}}' {image}")


@pytest.mark.proves("etherpad", "roll-back", standin=True)
def test_a_stand_in_whose_health_check_fails_is_rolled_back_with_its_data_with_standin_etherpad(drill):
    on_server(drill, f"install -d {MARKER.rsplit('/', 1)[0]} && echo 'written by version A' > {MARKER}")
    assert on_server(drill, CADDY) == "200"
    previous = on_server(drill, RUNNING)
    assert previous.startswith(PAD_A + " ")
    pin(drill, PAD_BAD)
    result = sovstack("update", "--wait", "30", cwd=drill["work"], check=False)
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    assert "debian: main: " in out and "package(s) upgraded" in out  # apt-get upgrade ran for real
    assert f"rolled back etherpad from {PAD_BAD} to {PAD_A}: health check https://pad.voisins.test/health failed " \
           "(local 503, https 503)" in out, out
    assert "update: etherpad: rolled back" in result.stderr
    # Version A again, same image, its data as before, and serving through Caddy.
    assert on_server(drill, RUNNING) == previous
    assert on_server(drill, f"cat {MARKER}") == "written by version A"
    assert on_server(drill, CADDY) == "200"
    assert f"image: {PAD_A}" in on_server(drill, "cat /srv/sovstack/apps/etherpad/compose.yml")
    assert image_id(drill, "etherpad/etherpad:sovstack-previous") == previous.split()[1]
    assert on_server(drill, "ls /srv/sovstack/update/etherpad/failed") == "app\ndata"
    # The catalog still pins the failed version: a deploy refuses to start it again, before changing anything.
    assert on_server(drill, "cat /srv/sovstack/update/etherpad/held").splitlines() == [
        "why health check https://pad.voisins.test/health failed (local 503, https 503)", f"image {PAD_BAD}"]
    deploy = sovstack("deploy", cwd=drill["work"], check=False)
    assert deploy.returncode != 0
    assert (f"server 'main': etherpad: `sovstack update` rolled it back from {PAD_BAD} (health check "
            "https://pad.voisins.test/health failed (local 503, https 503)); this deploy would start it again" in
            deploy.stderr), deploy.stderr
    assert "nothing was changed" in deploy.stderr
    assert f"image: {PAD_A}" in on_server(drill, "cat /srv/sovstack/apps/etherpad/compose.yml")
    # So does the server's own compose step (what Ansible users running playbooks/ directly go through).
    app = "/srv/sovstack/apps/etherpad"
    guard = ssh(drill["server"], f"cp {app}/compose.yml /root/compose.good && cp /srv/sovstack/update/etherpad/failed/"
                f"app/compose.yml {app}/compose.yml && {ROOT_BIN}/sovstack-compose recreate {app}; rc=$?; "
                f"cp /root/compose.good {app}/compose.yml; exit $rc", check=False)
    assert guard.returncode == 3, guard.stdout + guard.stderr
    assert f"{PAD_BAD} was rolled back by sovstack update" in guard.stderr
    assert on_server(drill, RUNNING) == previous
    assert on_server(drill, CADDY) == "200"


def test_a_pin_that_cannot_be_pulled_stops_nothing_with_standin_etherpad(drill):
    before = on_server(drill, "docker inspect -f '{{.Id}} {{.State.StartedAt}}' etherpad-etherpad-1")
    pin(drill, "etherpad/etherpad:0.0.0-missing")
    result = sovstack("update", "--skip-debian", cwd=drill["work"], check=False)
    assert result.returncode == 2
    assert "cannot pull etherpad/etherpad:0.0.0-missing for etherpad" in result.stderr
    assert "no tool was stopped" in result.stderr
    assert on_server(drill, "docker inspect -f '{{.Id}} {{.State.StartedAt}}' etherpad-etherpad-1") == before


@pytest.mark.proves("etherpad", "update", standin=True)
def test_a_good_update_succeeds_and_keeps_the_data_with_standin_etherpad(drill):
    pin(drill, PAD_GOOD)
    # The other engine applies the same manifest: the update does not depend on which one converged the server.
    result = sovstack("update", "--server", "main", "--tool", "etherpad", "--skip-debian", "--wait", "60",
                      "--engine", "pyinfra", cwd=drill["work"])
    assert f"updated etherpad from {PAD_A} to {PAD_GOOD}: health check ok" in result.stdout, result.stdout
    assert "debian:" not in result.stdout
    assert on_server(drill, RUNNING) == f"{PAD_GOOD} {image_id(drill, PAD_GOOD)}"
    assert on_server(drill, f"cat {MARKER}") == "written by version A"
    assert on_server(drill, CADDY) == "200"
    assert on_server(drill, "ls /srv/sovstack/update/etherpad") == "app\ndata\nimages"  # the hold is lifted
    again = sovstack("update", "--skip-debian", cwd=drill["work"])
    assert f"etherpad: up to date ({PAD_GOOD}, postgres:17.6-trixie)" in again.stdout
    assert "health: main: etherpad https://pad.voisins.test: ok" in again.stdout


def test_a_failing_stand_in_rebuilt_under_the_same_name_gets_the_previous_image_back_with_standin_etherpad(drill):
    good = image_id(drill, PAD_GOOD)
    on_server(drill, f"docker tag {PAD_BAD} {PAD_GOOD}")  # as if the image had been rebuilt or re-pulled
    result = sovstack("update", "--skip-debian", "--wait", "30", cwd=drill["work"], check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"rolled back etherpad from {PAD_GOOD} (newer image) to {PAD_GOOD} (previous image)" in result.stdout
    assert image_id(drill, PAD_GOOD) == good
    assert on_server(drill, RUNNING) == f"{PAD_GOOD} {good}"
    assert on_server(drill, CADDY) == "200"
    assert on_server(drill, f"cat {MARKER}") == "written by version A"
    # The same name was given back the previous image: nothing is held, a deploy goes through.
    assert on_server(drill, "test -e /srv/sovstack/update/etherpad/held || echo none") == "none"


def test_a_deploy_that_would_skip_a_major_is_refused_before_any_change_with_standin_etherpad(drill):
    before = on_server(drill, "docker inspect -f '{{.Id}} {{.State.StartedAt}}' etherpad-etherpad-1")
    pin_with_steps(drill, PAD_NEXT, [PAD_STEP])
    deploy = sovstack("deploy", cwd=drill["work"], check=False)
    assert deploy.returncode != 0
    assert (f"server 'main': etherpad runs {PAD_GOOD}, postgres:17.6-trixie, and its data upgrades one major at a "
            f"time: this deploy would skip {PAD_STEP}. Fix: run `sovstack update --tool etherpad`") in deploy.stderr, \
        deploy.stderr
    assert "nothing was changed" in deploy.stderr
    assert on_server(drill, "docker inspect -f '{{.Id}} {{.State.StartedAt}}' etherpad-etherpad-1") == before


def test_a_failing_major_step_rolls_back_with_the_data_with_standin_etherpad(drill):
    pin_with_steps(drill, PAD_NEXT, [PAD_STEP_BAD])
    result = sovstack("update", "--skip-debian", "--wait", "30", cwd=drill["work"], check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"etherpad: upgrading its data through {PAD_STEP_BAD} (one major at a time)" in result.stdout
    assert (f"rolled back etherpad from {PAD_NEXT} to {PAD_GOOD}: the step through {PAD_STEP_BAD} failed ("
            in result.stdout), result.stdout
    assert PAD_STEP_BAD in on_server(drill, "cat /srv/sovstack/update/etherpad/steps")
    assert on_server(drill, RUNNING) == f"{PAD_GOOD} {image_id(drill, PAD_GOOD)}"
    assert on_server(drill, f"cat {MARKER}") == "written by version A"
    assert on_server(drill, CADDY) == "200"


def test_an_update_goes_through_each_major_in_turn_and_keeps_the_data_with_standin_etherpad(drill):
    pin_with_steps(drill, PAD_NEXT, [PAD_STEP])
    result = sovstack("update", "--skip-debian", "--wait", "60", cwd=drill["work"])
    assert (f"updated etherpad from {PAD_GOOD} to {PAD_NEXT} through {PAD_STEP} (one major at a time): health check "
            "ok") in result.stdout, result.stdout
    # The step ran on the server before the pinned image: its own record, in order.
    assert on_server(drill, "cut -d' ' -f2 /srv/sovstack/update/etherpad/steps") == PAD_STEP
    assert on_server(drill, RUNNING) == f"{PAD_NEXT} {image_id(drill, PAD_NEXT)}"
    assert on_server(drill, f"cat {MARKER}") == "written by version A"
    assert on_server(drill, CADDY) == "200"
    again = sovstack("update", "--skip-debian", cwd=drill["work"])
    assert f"etherpad: up to date ({PAD_NEXT}, postgres:17.6-trixie)" in again.stdout


# Values that Compose would alter if written plainly into an env file (interpolation, comments, quotes).
HOSTILE_ENV = ["pa$word", "${HOME}", "$$", "with # hash", "it's", "say \"hi\"", "back\\slash", "ends\\",
               "it's $HOME \\ \"q\"\\", "Les Amis d'Émile & Co", "inner  spaces", "a=b", "#start", "", "plain.value-1"]


def test_env_file_values_reach_compose_unchanged_with_standin_etherpad(drill):
    """sovstack/envfile.py against the real parser: Docker Compose 2 from Debian 13 on the sandbox."""
    text = envfile.literal("".join(f"V{i}={value}\n" for i, value in enumerate(HOSTILE_ENV)))
    compose = "services:\n  probe:\n    image: etherpad/etherpad:2.6.1\n    env_file: probe.env\n"
    out = ssh(drill["server"], "d=$(mktemp -d) && cd $d && printf %s " + shlex.quote(compose) + " > compose.yml && "
              "printf %s " + shlex.quote(text) + " > probe.env && docker compose config --format json; "
              "rc=$?; rm -rf $d; exit $rc").stdout
    environment = json.loads(out)["services"]["probe"]["environment"]
    # `config` prints what it resolved as Compose file text, so a literal $ shows as $$.
    got = {key: value.replace("$$", "$") for key, value in environment.items()}
    assert got == {f"V{i}": value for i, value in enumerate(HOSTILE_ENV)}
