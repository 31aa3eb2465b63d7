"""CLI conventions shared by every command: --json, where the stack file is found, NO_COLOR, piped
tables, --help examples, and the modes of the files written. Run as real processes, offline."""

import json
import os
import re
import stat
import subprocess
import sys

import pexpect
import pytest
import yaml

from sovstack.catalog import load_catalog
from sovstack.stack.secrets import ensure_secrets
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring.wire import wire
from tests.conftest import REPO

SINGLE = REPO / "examples" / "stacks" / "single.yml"
CATALOG = load_catalog()
ANSWERS = REPO / "examples" / "answers" / "neighbourhood-association.yml"
INIT = ["init", "--answers", str(ANSWERS), "--domain", "voisins.example.org", "--admin-email",
        "admin@voisins.example.org", "--server", "203.0.113.10"]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SOVSTACK_STACK", "NO_COLOR")}
    return {**env, **extra}


def run(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "sovstack", *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def stack_in(folder, domain="voisins.example.org"):
    """The single-server example stack, copied, with its secrets.yml (as `render` makes it: the
    read-only commands never write it)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {**yaml.safe_load(SINGLE.read_text()), "domain": domain, "admin_email": f"admin@{domain}"}
    (folder / "sovstack.yml").write_text(yaml.safe_dump(data))
    stack = parse_stack(data, folder / "sovstack.yml", CATALOG)
    ensure_secrets(stack, folder / "secrets.yml", wire(stack, CATALOG).wanted_secrets())
    return folder / "sovstack.yml"


def secret_values(folder):
    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, str) and len(node) >= 8:
            yield node
    return list(walk(yaml.safe_load((folder / "secrets.yml").read_text())))


# --- --json -------------------------------------------------------------------------------------

def keys(*names):
    return lambda data: set(names) <= set(data)


JSON = [
    # (command, what the parsed output must satisfy)
    (["dns", "--json"], lambda d: keys("domain", "records", "notes")(d) and d["domain"] == "voisins.example.org"
     and d["records"] and all(set(r) == {"name", "type", "value", "ttl", "purpose"} for r in d["records"])
     and {"MX", "TXT", "A"} <= {r["type"] for r in d["records"]}),
    (["render", "--json"], lambda d: keys("stack", "servers", "inventories", "not_wired")(d)
     and [s["server"] for s in d["servers"]] == ["main"]
     and all(set(s) == {"server", "path", "files", "compose", "steps"} and s["files"] > 0 for s in d["servers"])
     and set(d["inventories"]) == {"ansible", "pyinfra"}
     and all(set(n) == {"aspect", "tool", "reason"} for n in d["not_wired"])),
    (["catalog", "show", "etherpad", "--json"], lambda d: d["id"] == "etherpad"
     and keys("name", "categories", "license", "scores", "resources", "obtain", "deploy")(d)),
    # init also says the mail relay it drafted (the neighbours' email is at Disroot, whose SMTP settings the
    # catalog sources; never its password) and, without such facts, which hoster to ask (ask_smtp_of).
    # It says how far sovstack's tests prove each self-hosted tool (the catalog's proof, checked by
    # tests/test_proof_levels.py).
    (INIT + ["--json", "--out", "new/sovstack.yml"], lambda d: set(d) == {"stack", "secrets", "self_hosted", "proof",
                                                                        "hosted", "not_deployed", "mail_relay",
                                                                        "ask_smtp_of", "next"}
     and d["mail_relay"]["host"] == "disroot.org" and "password" not in d["mail_relay"]
     and d["stack"] == "new/sovstack.yml" and d["self_hosted"] and set(d["proof"]) == set(d["self_hosted"])
     and all(p["level"] in ("real", "stand-in", "rendered") for p in d["proof"].values())
     and all(set(n) == {"tool", "why"} for n in d["not_deployed"])),
]


@pytest.mark.parametrize("command,holds", JSON, ids=[" ".join(c[:2]) for c, _ in JSON])
def test_json_output_parses_holds_the_keys_and_no_secret(tmp_path, command, holds):
    stack_in(tmp_path)
    result = run(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert holds(data), data
    for folder in (tmp_path, tmp_path / "new"):
        if (folder / "secrets.yml").exists():
            assert not any(v in result.stdout + result.stderr for v in secret_values(folder))


def test_catalog_show_json_has_the_same_keys_for_every_tool(tmp_path):
    shown = [json.loads(run("catalog", "show", tool, "--json", cwd=tmp_path).stdout)
             for tool in ("etherpad", "open-web-analytics", "mattermost")]
    assert set(shown[0]) == set(shown[1]) == set(shown[2])


def test_without_json_the_human_output_stays(tmp_path):
    stack_in(tmp_path)
    rendered = run("render", cwd=tmp_path)
    assert rendered.returncode == 0 and rendered.stdout.startswith("build/main: ")
    assert "not wired: identity: etherpad:" in rendered.stdout
    assert "DNS records for voisins.example.org" in run("dns", cwd=tmp_path).stdout
    both = run("dns", "--json", "--format", "zone", cwd=tmp_path)
    assert both.returncode == 2 and "--json" in both.stderr and "fix:" in both.stderr


def test_plan_json_shape():
    # plan needs a server to reach; its --json is the shaping of the engine's counts.
    from sovstack.cli.main import plan_summary

    data = json.loads(json.dumps(plan_summary("pyinfra", ["main", "web"], {"main": 3})))
    assert data == {"engine": "pyinfra", "servers": [{"server": "main", "changes": 3},
                                                     {"server": "web", "changes": None}]}


# --- where the stack file is found -------------------------------------------------------------

DISCOVERY = [
    # (stack files to write: folder -> domain, where to run, SOVSTACK_STACK, --stack, domain used or None)
    ({"": "here.org", "a": "a.org"}, "a", None, "../sovstack.yml", "here.org"),               # --stack first
    ({"": "here.org", "a": "a.org", "env": "env.org"}, "a", "env/sovstack.yml", "sovstack.yml", "a.org"),
    ({"a": "a.org", "env": "env.org"}, "a", "env/sovstack.yml", None, "env.org"),           # then the variable
    ({"": "here.org", "a": "a.org"}, "a", "", None, "a.org"),                                # empty: not set
    ({"": "here.org", "a": "a.org"}, "a/b/c", None, None, "a.org"),                          # nearest above
    ({"": "here.org"}, "a/b", None, None, "here.org"),
    ({"a/b": "b.org"}, "a", None, None, None),                                               # below: not seen
]


@pytest.mark.parametrize("stacks,where,env,given,used", DISCOVERY,
                         ids=[f"in {d[1]}, env {d[2]}, --stack {d[3]} -> {d[4]}" for d in DISCOVERY])
def test_the_stack_file_is_found_from_the_flag_the_variable_then_the_parents(tmp_path, stacks, where, env, given,
                                                                           used):
    root = tmp_path / "root"
    for folder, domain in stacks.items():
        stack_in(root / folder, domain)
    (root / where).mkdir(parents=True, exist_ok=True)
    extra = {} if env is None else {"SOVSTACK_STACK": str(root / env) if env else ""}
    result = run("dns", "--json", *(["--stack", given] if given else []), cwd=root / where, env=clean_env(**extra))
    if used is None:
        assert result.returncode == 2 and result.stdout == ""
        for words in (str(root / where), "SOVSTACK_STACK", "--stack", "sovstack init"):
            assert words in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["domain"] == used


def test_a_missing_stack_named_by_the_variable_says_so(tmp_path):
    stack_in(tmp_path)
    result = run("dns", cwd=tmp_path, env=clean_env(SOVSTACK_STACK=str(tmp_path / "gone.yml")))
    assert result.returncode == 2 and "SOVSTACK_STACK" in result.stderr and "gone.yml" in result.stderr


def test_init_writes_where_the_variable_says(tmp_path):
    result = run(*INIT, cwd=tmp_path, env=clean_env(SOVSTACK_STACK=str(tmp_path / "asso" / "stack.yml")))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "asso" / "stack.yml").exists() and (tmp_path / "asso" / "secrets.yml").exists()
    assert not (tmp_path / "sovstack.yml").exists()


# --- NO_COLOR under a terminal -------------------------------------------------------------------

COLOURED = [
    ["catalog", "list", "--need", "chat"],
    ["dns"],
    ["check", "--only", "wiring"],  # click.style
    ["ask", "--answers", str(ANSWERS), "--out", "out"],
]


def in_terminal(args, cwd, no_color):
    env = clean_env(NO_COLOR=no_color, TERM="xterm-256color", COLUMNS="200")
    env.pop("FORCE_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "sovstack", *args], cwd=str(cwd), env=env, encoding="utf-8",
                          timeout=120)
    out = child.read()
    child.close()
    return out


@pytest.mark.parametrize("args", COLOURED, ids=" ".join)
def test_no_color_means_no_escape_codes_even_in_a_terminal(tmp_path, args):
    stack_in(tmp_path)
    assert "\x1b[" in in_terminal(args, tmp_path, "")  # empty NO_COLOR counts as unset
    plain = in_terminal(args, tmp_path, "1")
    assert "\x1b[" not in plain and len(plain) > 100


# --- piped tables --------------------------------------------------------------------------------

def test_catalog_list_piped_keeps_every_id_whole(tmp_path):
    ids = [t["id"] for t in json.loads(run("catalog", "list", "--json", cwd=tmp_path).stdout)]
    lines = run("catalog", "list", cwd=tmp_path).stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["id", "categories", "obtain", "ram_mb"]
    assert [line.split("\t")[0] for line in lines[1:]] == ids
    assert any(len(i) > 15 for i in ids)  # long enough for an 80-column table to cut


# --- help ----------------------------------------------------------------------------------------

def _commands():
    from tests.test_cli import COMMANDS

    return COMMANDS


def examples(text):
    """The lines of the help's Example(s) block, as printed."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"\s*Examples?:", line))
    block = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        block.append(line.strip())
    return block


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "sovstack")
def test_every_help_has_a_readable_example_of_itself(command):
    text = run(*command, "--help", cwd=REPO).stdout
    block = examples(text)
    assert block and any(line.startswith(" ".join(["sovstack", *command])) for line in block), block
    for before, line in zip([""] + block, block):
        code = line.split(" # ")[0].rstrip()
        assert line.startswith("sovstack") or before.endswith("\\") or line.startswith("printf"), line
        assert not re.search(r"\S {3,}-", code), f"rewrapped example line: {line!r}"


def test_deploy_help_names_the_debian_it_accepts():
    text = run("deploy", "--help", cwd=REPO).stdout
    assert "Debian 13" in text and "Debian 12" not in text


def test_shell_completion_is_documented_and_works():
    top = run("--help", cwd=REPO).stdout
    assert "_SOVSTACK_COMPLETE=bash_source sovstack" in top
    assert "_SOVSTACK_COMPLETE=bash_source sovstack" in (REPO / "README.md").read_text()
    # As the installed `sovstack` script runs it (click takes the variable's name from the program's).
    script = subprocess.run([sys.executable, "-c", "from sovstack.cli.main import main; main(prog_name='sovstack')"],
                            env=clean_env(_SOVSTACK_COMPLETE="bash_source"), capture_output=True, text=True,
                            timeout=300)
    assert "complete -o nosort -F _sovstack_completion sovstack" in script.stdout


# --- file modes ----------------------------------------------------------------------------------

MODES = [
    # (command, file, mode): what is meant to be shared is readable by others; secrets and build/ are not
    (["ask", "--answers", str(ANSWERS), "--out", "recommendation"], "recommendation/answers.yml", 0o644),
    (["ask", "--answers", str(ANSWERS), "--out", "recommendation"], "recommendation/report.md", 0o644),
    (["ask", "--answers", str(ANSWERS), "--out", "recommendation"], "recommendation/report.html", 0o644),
    (INIT + ["--out", "new/sovstack.yml"], "new/secrets.yml", 0o600),
    (["render"], "secrets.yml", 0o600),
    (["render"], "build", 0o700),
    (["render"], "build/main/manifest.yml", 0o600),
]


@pytest.mark.parametrize("command,path,mode", MODES, ids=[f"{c[0]} {p} {m:o}" for c, p, m in MODES])
def test_file_modes(tmp_path, command, path, mode):
    stack_in(tmp_path)
    result = run(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / path).stat().st_mode) == mode
