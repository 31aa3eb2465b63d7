"""Backups without a server: the catalog's backup sets, the rendered scripts, units and settings."""

from __future__ import annotations

import re
import stat
import subprocess

import pytest
import yaml

from sovstack.backup import run as backup
from sovstack.errors import UserError
from sovstack.render.bundle import render
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import deployable, parse_stack
from sovstack.wiring.wire import wire
from tests.conftest import DATA

SAMPLE_TOOLS = {"postfix-dovecot": {"server": "main"}, "openldap": {"server": "main"}, "goaccess": {"server": "main"},
                "roundcube": {"server": "main"}, "etherpad": {"server": "main"}}
DATABASE_IMAGES = {"postgres": "postgres", "postgresql": "postgres", "zulip-postgresql": "postgres", "mariadb": "mariadb",
                   "mongodb-community-server": "mongodb"}


def deployable_tools(catalog):
    return sorted(t for t, tool in catalog.tools.items() if deployable(tool)[0] or
                  (tool.deploy and tool.deploy.how != "refused"))


def test_every_deployable_tool_declares_its_backup_set(catalog):
    tools = deployable_tools(catalog)
    assert len(tools) >= 25
    missing = [t for t in tools if catalog.tools[t].deploy.backup is None]
    assert missing == []
    for tool in tools:
        spec = catalog.tools[tool].deploy.backup
        assert spec.note and len(spec.note) > 40, tool
        assert spec.source.startswith("https://"), tool


def database_services(tool_id: str) -> dict[str, str]:
    """compose service -> database kind, read from the tool's compose template."""
    compose = DATA / "templates" / "apps" / tool_id / "app" / "compose.yml.j2"
    if not compose.exists():
        return {}
    found = {}
    for service, image in re.findall(r"^  ([a-z0-9_-]+):\n    image: .*?\[[\"']([^\"']+)[\"']\]", compose.read_text(), re.M):
        kind = DATABASE_IMAGES.get(image.rsplit("/", 1)[-1])
        if kind:
            found[service] = kind
    return found


@pytest.mark.parametrize("tool_id", sorted(p.stem for p in (DATA / "decision_tree" / "tools").glob("*.yml")))
def test_every_database_container_is_dumped_and_its_live_files_left_out(catalog, tool_id):
    tool = catalog.tools[tool_id]
    if not tool.deploy or tool.deploy.how == "refused":
        return
    spec = tool.deploy.backup
    dumped = {d.service: d.kind for d in spec.dumps if d.service}
    assert dumped == database_services(tool_id)
    compose = DATA / "templates" / "apps" / tool_id / "app" / "compose.yml.j2"
    for excluded in spec.exclude:  # a live database directory that really is a bind mount of the tool
        assert f"{{{{ app.data }}}}/{excluded}:" in compose.read_text(), (tool_id, excluded)


def render_sample(tmp_path, catalog, tools=SAMPLE_TOOLS, **backup_settings):
    data = {"organisation": "Les Voisins", "domain": "voisins.test", "admin_email": "admin@voisins.test",
            "tls": "internal", "servers": {"main": {"address": "192.0.2.10"}}, "tools": tools}
    if backup_settings:
        data["backup"] = backup_settings
    stack = parse_stack(data, "sovstack.yml", catalog)
    secrets = ensure_secrets(stack, tmp_path / "secrets.yml", wire(stack, catalog).wanted_secrets())
    bundle = render(wire(stack, catalog), secrets, tmp_path / "build")[0]
    return bundle, secrets


def entry(bundle, dest):
    return next(e for e in bundle.manifest["files"] if e["dest"] == dest)


def test_the_password_is_generated_once_and_only_the_env_file_holds_it(tmp_path, catalog):
    bundle, secrets = render_sample(tmp_path, catalog)
    password = secrets.get("backup.password")
    assert password and len(password) >= 40
    _, again = render_sample(tmp_path, catalog)
    assert again.get("backup.password") == password
    assert stat.S_IMODE((tmp_path / "secrets.yml").stat().st_mode) == 0o600
    env = entry(bundle, "/etc/sovstack/backup.env")
    assert (env["mode"], env["secret"]) == ("0600", True)
    holders = [dest for dest, content in bundle.files.items() if password.encode() in content]
    assert holders == ["/etc/sovstack/backup.env"]
    assert "RESTIC_REPOSITORY=/srv/sovstack/backups" in bundle.files["/etc/sovstack/backup.env"].decode()


@pytest.mark.parametrize("settings, on_calendar, keep", [
    ({}, "*-*-* 03:30:00", "--keep-daily 7 --keep-weekly 4 --keep-monthly 12"),
    ({"time": "22:05", "keep_daily": 3, "keep_weekly": 0, "keep_monthly": 6}, "*-*-* 22:05:00",
     "--keep-daily 3 --keep-weekly 0 --keep-monthly 6"),
])
def test_the_timer_runs_the_backup_daily_with_the_retention(tmp_path, catalog, settings, on_calendar, keep):
    bundle, _ = render_sample(tmp_path, catalog, **settings)
    timer = bundle.files["/etc/systemd/system/sovstack-backup.timer"].decode()
    assert f"OnCalendar={on_calendar}" in timer and "Persistent=true" in timer
    service = bundle.files["/etc/systemd/system/sovstack-backup.service"].decode()
    assert "ExecStart=/srv/sovstack/bin/sovstack-backup" in service and "Type=oneshot" in service
    script = bundle.files["/srv/sovstack/bin/sovstack-backup"].decode()
    assert f"forget --prune --tag sovstack --host main {keep}" in script
    assert entry(bundle, "/srv/sovstack/bin/sovstack-backup")["mode"] == "0755"
    assert {"restic", "sqlite3"} <= set(bundle.manifest["packages"])
    assert "sovstack-backup.timer" in [s["name"] for s in bundle.manifest["services"]]
    assert any(s["name"].startswith("backup: restic repository") for s in bundle.manifest["steps"])


@pytest.mark.parametrize("tools", [SAMPLE_TOOLS, {"nextcloud": {"server": "main"}, "matomo": {"server": "main"},
                                                  "rocketchat": {"server": "main"}, "seafile": {"server": "main"},
                                                  "kanidm": {"server": "main"}}])
def test_the_scripts_are_valid_shell_and_cover_every_tool(tmp_path, catalog, tools):
    bundle, _ = render_sample(tmp_path, catalog, tools=tools)
    backup_sh = bundle.files["/srv/sovstack/bin/sovstack-backup"].decode()
    restore_sh = bundle.files["/srv/sovstack/bin/sovstack-restore"].decode()
    for script in (backup_sh, restore_sh):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True, timeout=300)
    paths = re.search(r'^PATHS="([^"]*)"', backup_sh, re.M).group(1).split()
    for tool in tools:
        assert f"/srv/sovstack/data/{tool}" in paths and f"/srv/sovstack/dumps/{tool}" in paths
        assert f"restore_{tool.replace('-', '_')}()" in restore_sh
        for index, dump in enumerate(catalog.tools[tool].deploy.backup.dumps):
            name = f"/srv/sovstack/dumps/{tool}/{index + 1}-{dump.kind}.dump"
            assert f"mv \"$DUMP\" {name}" in backup_sh and f"DUMP={name}" in restore_sh
        for excluded in catalog.tools[tool].deploy.backup.exclude:
            assert f"--exclude=/srv/sovstack/data/{tool}/{excluded}" in backup_sh


def test_the_restore_script_checks_the_password_before_it_stops_anything(tmp_path, catalog):
    bundle, _ = render_sample(tmp_path, catalog)
    script = bundle.files["/srv/sovstack/bin/sovstack-restore"].decode()
    check = script.index("restic cat config")
    first_stop = script.index("docker compose -f /srv/sovstack/apps/etherpad/compose.yml stop")
    assert check < script.index("restore_etherpad()") < first_stop
    assert "12) echo" in script and "exit 3" in script


def test_without_backups_nothing_is_rendered(tmp_path, catalog):
    bundle, _ = render_sample(tmp_path, catalog, enabled=False)
    assert not [d for d in bundle.files if "backup" in d]
    assert "restic" not in bundle.manifest["packages"]


def test_a_remote_repository_is_backed_up_too(tmp_path, catalog):
    (tmp_path / "secrets.yml").write_text(yaml.safe_dump({"backup": {"remote_env": {
        "AWS_ACCESS_KEY_ID": "key-id-123456", "AWS_SECRET_ACCESS_KEY": "secret-key-123456"}}}))
    bundle, secrets = render_sample(tmp_path, catalog, remote="s3:https://s3.example.org/voisins/backups")
    env = bundle.files["/etc/sovstack/backup.env"].decode()
    assert "SOVSTACK_BACKUP_REMOTE=s3:https://s3.example.org/voisins/backups" in env
    assert "AWS_SECRET_ACCESS_KEY=secret-key-123456" in env
    assert 'snapshot "$SOVSTACK_BACKUP_REMOTE"' in bundle.files["/srv/sovstack/bin/sovstack-backup"].decode()
    assert secrets.get("backup.password")  # generated beside the credentials the admin wrote


@pytest.mark.parametrize("settings, words", [
    ({"remote": "ftp://backup.example.org/x"}, ["backup.remote", "ftp://"]),
    ({"time": "25:00"}, ["backup.time", "25:00"]),
    ({"keep_daily": 0}, ["backup.keep_daily"]),
    ({"local": "relative/path"}, ["backup.local"]),
    ({"frequency": "hourly"}, ["backup.frequency", "remove it"]),
])
def test_bad_backup_settings_name_the_key_and_the_fix(tmp_path, catalog, settings, words):
    with pytest.raises(UserError) as caught:
        render_sample(tmp_path, catalog, **settings)
    for word in words:
        assert word in caught.value.message
    assert not (tmp_path / "build").exists() and not (tmp_path / "secrets.yml").exists()


def test_s3_without_credentials_says_where_they_go(tmp_path, catalog):
    with pytest.raises(UserError) as caught:
        render_sample(tmp_path, catalog, remote="s3:https://s3.example.org/voisins")
    assert "backup.remote_env" in caught.value.message and "AWS_SECRET_ACCESS_KEY" in caught.value.hint
    assert not (tmp_path / "build").exists()


SNAPSHOTS = [backup.Snapshot("main", "aaaa1111" + "0" * 56, "2025-01-01"),
             backup.Snapshot("main", "bbbb2222" + "0" * 56, "2025-01-02")]


@pytest.mark.parametrize("wanted, expected", [("latest", "bbbb2222"), ("aaaa", "aaaa1111"), ("BBBB2222", "bbbb2222")])
def test_a_snapshot_is_chosen_by_prefix_or_latest(wanted, expected):
    assert backup.choose(SNAPSHOTS, wanted, "main").id.startswith(expected)


@pytest.mark.parametrize("found, wanted, words", [
    ([], "latest", ["no snapshot yet", "nothing was changed"]),
    (SNAPSHOTS, "cccc", ["'cccc'", "no snapshot", "nothing was changed"]),
])
def test_an_unknown_snapshot_changes_nothing(found, wanted, words):
    with pytest.raises(UserError) as caught:
        backup.choose(found, wanted, "main")
    for word in words:
        assert word in caught.value.message
