"""The command line. This is the one place that prints errors and chooses exit codes (from the table in
layout.py): the commands of cli/members.py, cli/sandbox.py and cli/day2.py run inside main's ErrorBoundary too.

Heavy modules (pydantic, jinja2, questionary, rich) are imported inside the commands so that
`sovstack --help` starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from sovstack import __version__
from sovstack.cli.shared import (
    ENGINE,
    SERVERS,
    STACK,
    STACK_ENV,
    console,
    echo_health,
    find_stack,
    no_color,
    print_table,
)
from sovstack.errors import SovstackError
from sovstack.layout import ExitCode
from sovstack.needs import CATEGORIES

LANG = click.Choice(["en", "fr"])


class ErrorBoundary(click.Group):
    """The one place that turns errors into a short message and an exit code (layout.ExitCode), never a
    traceback: sovstack's own errors, Click's usage errors (in the same `error:`/`fix:` style), Ctrl-C,
    and bugs (one line; the traceback goes to a private debug log)."""

    def make_context(self, info_name, args, parent=None, **extra):
        # The top level's own options are parsed here, before invoke (`sovstack --bogus`).
        with _boundary():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context):
        with _boundary():
            return super().invoke(ctx)


@contextmanager
def _boundary():
    """Click's Exit carries the code out: its main() exits with it, whatever the Click version."""
    try:
        yield
    except click.exceptions.Exit:  # --help, --version, ctx.exit(): already decided
        raise
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group (Click ≥ 8.2): its help is the answer
            exc.show()
        else:
            where = exc.ctx.command_path if exc.ctx else "sovstack"
            _say(_click_message(exc), f"see `{where} --help`")
        raise click.exceptions.Exit(ExitCode.USAGE) from None
    except click.ClickException as exc:  # e.g. a file Click could not open
        _say(_click_message(exc), None)
        raise click.exceptions.Exit(ExitCode.USER) from None
    except SovstackError as exc:
        _say(exc.message, exc.hint)
        raise click.exceptions.Exit(exc.exit_code) from None
    except (KeyboardInterrupt, EOFError, click.Abort):  # Click turns Ctrl-C in its prompts into Abort
        click.echo("stopped by user; nothing was written", err=True)
        raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:  # `sovstack … | head`: Click's main quiets it, as any CLI does
        raise
    except Exception as exc:  # a bug
        detail = " ".join(str(exc).split())[:300]
        log, why = _write_debug_log(exc)
        _say(f"sovstack hit a bug: {type(exc).__name__}" + (f": {detail}" if detail else ""),
             f"please report it, with the traceback in {log}" if log else
             f"please report it (the traceback could not be saved: {why})")
        raise click.exceptions.Exit(ExitCode.BUG) from None


def _say(message: str, hint: str | None) -> None:
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"  fix: {hint}", err=True)


def _click_message(exc: click.ClickException) -> str:
    """Click's message in the house's words: lower-case start, no closing full stop."""
    text = exc.format_message().strip()
    if text[1:2].islower():
        text = text[0].lower() + text[1:]
    return text.removesuffix(".")


def debug_log_dir() -> Path:
    """Where tracebacks go: $XDG_STATE_HOME/sovstack, by default ~/.local/state/sovstack."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "sovstack"


def _write_debug_log(exc: BaseException) -> tuple[Path | None, str]:
    """A new file per bug, private (0600: a traceback can show values such as a password)."""
    import platform
    import tempfile
    import time
    import traceback

    text = (f"sovstack {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
            f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    name = f"debug-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    why = ""
    for folder in (debug_log_dir, lambda: Path(tempfile.gettempdir())):
        try:
            path = folder() / name
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(text)
            return path, ""
        except (OSError, RuntimeError) as problem:  # RuntimeError: no home directory
            why = str(problem)
    return None, why


COMPLETION = """\b
Shell completion (bash; zsh_source and fish_source for the others):
  eval "$(_SOVSTACK_COMPLETE=bash_source sovstack)"
"""


@click.group(cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]}, epilog=COMPLETION)
@click.version_option(__version__, prog_name="sovstack")
@click.pass_context
def main(ctx: click.Context) -> None:
    """sovstack helps an association leave Big Tech.

    It asks what the association needs, recommends free software for each need (your own
    server, a trusted hoster, or keep what you have) and explains why.

    \b
    Example:
      sovstack ask --answers examples/answers/small-choir.yml --out recommendation/
    """
    if no_color():
        ctx.color = False  # click.echo then strips click.style's escapes; sub-commands inherit it


@main.command()
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Answers file (YAML); no questions are asked.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("recommendation"), show_default=True,
              help="Where to write answers.yml, report.md and report.html.")
@click.option("--json", "as_json", is_flag=True, help="Also print the recommendation as JSON on standard output.")
@click.option("--lang", type=LANG, default="en", show_default=True, help="Language of questions and report.")
@click.option("--web", is_flag=True, help="Ask in a web page instead of the terminal (the files are downloaded "
              "from the result page; nothing is written to --out).")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --web: the address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="With --web: the port (0: any free port).")
@click.option("--no-browser", is_flag=True, help="With --web: only print the address, do not open a browser.")
@click.pass_context
def ask(ctx: click.Context, answers_file: Path | None, out_dir: Path, as_json: bool, lang: str, web: bool,
        host: str, port: int, no_browser: bool) -> None:
    """Answer the questionnaire and get a recommendation report.

    Without --answers it asks in the terminal, or with --web in a web page on this computer
    (one question per screen, English or French, for a group around one screen). It writes the
    answers (reusable with --answers) and the report as Markdown and as a printable HTML page.

    \b
    Examples:
      sovstack ask                                   # interactive, in English
      sovstack ask --lang fr --out rapport/          # interactive, in French
      sovstack ask --answers answers.yml --json      # non-interactive, JSON on stdout
      sovstack ask --web                             # in the browser, at http://127.0.0.1:<port>/
      sovstack ask --web --port 8080 --no-browser    # only print the address to open
    """
    from click.core import ParameterSource

    from sovstack.errors import UserError

    if web:
        if answers_file is not None or as_json:
            raise UserError("--web asks the questions in a web page; it does not take --answers or --json",
                            "leave out --answers/--json, or leave out --web")
        _serve_web(host, port, lang, open_browser=not no_browser)
        return
    web_only = [f"--{name.replace('_', '-')}" for name in ("host", "port", "no_browser")
                if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT]
    if web_only:
        raise UserError(f"{', '.join(web_only)} only go with --web", "add --web, or leave them out")
    from sovstack.recommend.service import load_answers_file, recommend, write_outputs

    if answers_file is not None:
        given, source, prompter = load_answers_file(answers_file), str(answers_file), None
    else:
        _require_terminal("there is no terminal to ask the questions in",
                          "run it in a terminal, or give the answers with --answers FILE (examples in examples/answers/)")
        from sovstack.recommend.prompts import TerminalPrompter

        given, source, prompter = {}, "the questionnaire", TerminalPrompter(lang)
    result = recommend(given, source=source, prompter=prompter, lang=lang)
    written = write_outputs(result, out_dir)
    if as_json:
        click.echo(json.dumps(result.data, ensure_ascii=False, indent=2))
    else:
        _print_summary(result, lang)
    click.echo("wrote " + ", ".join(str(p) for p in written), err=as_json)


def _serve_web(host: str, port: int, lang: str, *, open_browser: bool) -> None:
    import os
    import signal
    import webbrowser

    from sovstack.recommend.web import make_server

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a service manager's stop is like Ctrl-C

    server = make_server(host, port, lang)
    click.echo(f"The questionnaire is at {server.url}")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        click.echo(f"Listening on {host}: whoever can reach this machine on port {server.port} can open it.")
    click.echo("Stop with Ctrl-C; answers that were not downloaded are then forgotten.")
    if open_browser:
        graphical = sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        if not (graphical and webbrowser.open(server.url)):
            click.echo("(no browser could be opened here: open the address above in one)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped; the answers in memory are gone", err=True)
    finally:
        server.close()


def _print_summary(result, lang: str) -> None:
    from rich.table import Table

    from sovstack.recommend.wording import REPORT_TEXT as TEXT
    from sovstack.recommend.wording import money

    t = TEXT[lang]
    table = Table(title=t["summary"])
    for column in (t["need"], t["decision"], t["how"]):
        table.add_column(column)
    for need, c in result.data["categories"].items():
        label = result.catalog.criteria.needs[need].label.get(lang)
        cat = result.catalog
        name = cat.hosters[c["hoster"]].name if c["hoster"] else cat.tools[c["tool"]].name if c["tool"] else "-"
        table.add_row(label, name, t["mode"][c["mode"]])
    if result.data["identity"]:
        table.add_row(t["identity"], result.catalog.tools[result.data["identity"]["tool"]].name, t["mode"]["self-host"])
    out = console()
    out.print(table)
    totals = result.data["totals"]
    out.print(f"{t['monthly']}{t['colon']}{money(totals['monthly_eur'], lang)}  ·  "
              f"{t['ram']}{t['colon']}{totals['ram_mb']} {t['mb']}")


@main.group()
def catalog() -> None:
    """Look at the tool catalog the recommendations come from.

    \b
    Examples:
      sovstack catalog list --need chat
      sovstack catalog show mattermost
      sovstack catalog check
    """


@catalog.command("check")
def catalog_check() -> None:
    """Validate every file of the decision tree (tools, hosters, criteria, questions).

    \b
    Example:
      sovstack catalog check
    """
    from sovstack.catalog import load_catalog
    from sovstack.recommend.questionnaire import load_questionnaire

    cat = load_catalog()
    questions = load_questionnaire()
    click.echo(f"ok: {len(cat.tools)} tools, {len(cat.hosters)} hosters, {len(questions.questions)} questions")


@catalog.command("list")
@click.option("--need", type=click.Choice(CATEGORIES), help="Only the tools for this need.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def catalog_list(need: str | None, as_json: bool) -> None:
    """List the tools with their scores (piped: tab-separated lines, nothing cut).

    \b
    Examples:
      sovstack catalog list --need documents
      sovstack catalog list | cut -f1
    """
    from sovstack.catalog import CRITERIA, load_catalog

    cat = load_catalog()
    tools = [t for t in sorted(cat.tools.values(), key=lambda t: t.id) if need is None or need in t.categories]
    rows = [{"id": t.id, "name": t.name, "categories": t.categories, "obtain": t.obtain.method,
             "ram_mb": t.resources.ram_mb.recommended, **t.scores.values(), "proof": t.proof, "proven": t.proven}
            for t in tools]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    # proof: how far sovstack's tests prove its deployment ("-": sovstack does not deploy it)
    print_table(["id", "categories", "obtain", "ram_mb", *CRITERIA, "proof"],
                [[r["id"], ",".join(r["categories"]), r["obtain"], str(int(r["ram_mb"])), *(str(r[c]) for c in CRITERIA),
                  r["proof"] or "-"] for r in rows])


@catalog.command("show")
@click.argument("tool_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every field, defaults included) instead of YAML.")
def catalog_show(tool_id: str, as_json: bool) -> None:
    """Show everything the catalog knows about one tool, with sources.

    The first line says, in plain words, how far sovstack's tests prove its deployment.

    \b
    Examples:
      sovstack catalog show open-web-analytics
      sovstack catalog show etherpad --json
    """
    from sovstack.catalog import as_data, load_catalog
    from sovstack.errors import UserError
    from sovstack.recommend.wording import proof_words
    from sovstack.yamlio import dump_yaml

    cat = load_catalog()
    if tool_id not in cat.tools:
        raise UserError(f"no tool {tool_id!r} in the catalog", "see `sovstack catalog list` for the ids")
    if as_json:
        # Defaults included, so a script finds the same keys for every tool.
        click.echo(json.dumps(as_data(cat.tools[tool_id], defaults=True), ensure_ascii=False, indent=2))
        return
    tool = cat.tools[tool_id]
    words = proof_words(tool, "en") or "sovstack does not deploy it"
    click.echo(f"# {words}\n" + dump_yaml(as_data(tool)), nl=False)


def _require_terminal(message: str, hint: str) -> None:
    from sovstack.errors import InteractiveSessionRequired

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InteractiveSessionRequired(message, hint)


def _prompt_text(question: str, flag: str) -> str:
    _require_terminal(f"{flag} is missing and there is no terminal to ask for it",
                      f"give it on the command line: {flag} VALUE")
    import questionary

    answer = questionary.text(question).ask()
    if answer is None:
        raise KeyboardInterrupt
    return answer.strip()


@main.command()
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("recommendation/answers.yml"), show_default=True,
              help="The answers `sovstack ask` wrote; the recommendation is made again from them.")
@click.option("--domain", help="The association's domain; tools get subdomains of it.")
@click.option("--admin-email", help="Where certificates and alerts go.")
@click.option("--organisation", help="The association's name (default: from the answers).")
@click.option("--server", "address", help="The server's address (IP or host name) for SSH.")
@click.option("--ssh-user", default="root", show_default=True)
@click.option("--ssh-port", default=22, show_default=True, type=int)
@click.option("--ssh-key", help="Private key file for SSH (default: your agent or ~/.ssh).")
@click.option("--sandbox", "sandbox_name", help="Use the local sandbox server of this name instead of --server.")
@click.option("--tls", type=click.Choice(["public", "internal"]), help="public: Let's Encrypt; internal: Caddy's own "
              "CA (default for a sandbox).")
@click.option("--out", "--stack", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("sovstack.yml"), show_default=True, envvar=STACK_ENV, show_envvar=True,
              help="The stack file to write (secrets.yml goes next to it).")
@click.option("--force", is_flag=True, help="Overwrite an existing stack file.")
@click.option("--smtp-user", help="With hosted email: the mailbox the tools send mail from (default: --admin-email).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no secrets in it).")
def init(answers_file: Path, domain, admin_email, organisation, address, ssh_user, ssh_port, ssh_key,
         sandbox_name, tls, out_path: Path, force: bool, smtp_user, as_json: bool) -> None:
    """Turn a recommendation into a stack file (sovstack.yml) and its secrets.

    Asks for what is missing (domain, admin mail, server) when run in a terminal. Each self-hosted
    tool is listed with how far sovstack's own tests prove it. Tools that sovstack does not deploy
    are listed with the reason and left out. With nothing to self-host it
    writes no server and says there is nothing to deploy. With hosted email whose hoster documents
    its SMTP settings, it drafts mail_relay from them and asks the password (hidden, into
    secrets.yml; without a terminal, add it there as mail_relay.password).

    \b
    Examples:
      sovstack init                                   # asks for domain, admin mail, server
      sovstack init --answers recommendation/answers.yml --domain voisins.example.org \\
        --admin-email admin@voisins.example.org --server 203.0.113.10
      sovstack init --sandbox sandbox --domain voisins.test --admin-email admin@voisins.test
    """
    from sovstack.engines.apply import load
    from sovstack.engines.sandbox import STATE_DIR
    from sovstack.errors import UserError
    from sovstack.recommend.service import load_answers_file, recommend
    from sovstack.stack.draft import draft, hosted_email, sandbox_server, self_hosted_tools

    if out_path.exists() and not force:
        raise UserError(f"{out_path} already exists", "edit it, or pass --force to write a new one")
    if not answers_file.exists():
        raise UserError(f"--answers {answers_file}: no such file",
                        "answer the questionnaire first: sovstack ask (it writes recommendation/answers.yml)")
    given = load_answers_file(answers_file)
    result = recommend(given, source=str(answers_file))
    organisation = organisation or result.recommendation.answers.organisation or \
        _prompt_text("Name of the association?", "--organisation")
    domain = (domain or _prompt_text("Domain of the association (e.g. voisins.example.org)?", "--domain")).lower()
    admin_email = admin_email or _prompt_text("Admin e-mail address?", "--admin-email")
    server = None
    if not self_hosted_tools(result.recommendation, result.catalog):
        pass  # every need is hosted or kept: no server to ask for
    elif sandbox_name:
        server = sandbox_server(sandbox_name, STATE_DIR)
        tls = tls or "internal"
    else:
        address = address or _prompt_text("Server address (IP or host name)?", "--server")
        server = {"address": address, "ssh_user": ssh_user, "ssh_port": ssh_port,
                  **({"ssh_key": ssh_key} if ssh_key else {})}
    relay_hoster, smtp = hosted_email(result.recommendation, result.catalog)
    if server and smtp and not smtp_user and sys.stdin.isatty() and sys.stdout.isatty():
        # The relay logs in as a mailbox at the hoster, which need not be the admin address.
        smtp_user = _prompt_text(f"Mailbox at {result.catalog.hosters[relay_hoster].name} the tools send mail from "
                                 f"(empty: {admin_email})?", "--smtp-user") or None
    made = draft(result.recommendation, result.catalog, organisation=organisation, domain=domain,
                 admin_email=admin_email, server=server, tls=tls or "public",
                 language="fr" if result.recommendation.answers.francophone else "en", relay_user=smtp_user)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(made.text)
    password_later = made.relay is not None and not _relay_password(made, out_path, result.catalog)
    load(out_path, generate_secrets=True, relay_password_later=password_later)  # writes secrets.yml next to it
    if as_json:
        click.echo(json.dumps(init_summary(out_path, made, result.catalog), ensure_ascii=False, indent=2))
        return
    click.echo(f"wrote {out_path} and {out_path.parent / 'secrets.yml'} (0600)")
    for line in init_lines(out_path, made, result.catalog, password_later):
        click.echo(line)


def _relay_password(made, out_path: Path, catalog) -> bool:
    """Ask the relay's SMTP password (hidden) into secrets.yml when there is a terminal; False when it
    is left to be added there. It is never written to sovstack.yml nor printed."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    import questionary

    from sovstack.stack.secrets import secrets_path, write_private
    from sovstack.yamlio import dump_yaml, load_yaml

    hoster = catalog.hosters[made.relay_hoster].name
    answer = questionary.password(f"SMTP password of {made.relay['username']} at {hoster} "
                                  "(empty: add it to secrets.yml later)?").ask()
    if answer is None:
        raise KeyboardInterrupt
    if not answer:
        return False
    path = secrets_path(out_path)
    data = (load_yaml(path) or {}) if path.exists() else {}
    data.setdefault("mail_relay", {})["password"] = answer
    write_private(path, dump_yaml(data))
    return True


def init_lines(out_path: Path, made, catalog, password_later: bool) -> list[str]:
    """What init says after writing: what is self-hosted (and how far sovstack's tests prove each), hosted,
    refused, the mail relay, what next."""
    from sovstack.recommend.wording import proof_words

    lines = ["self-hosted: " + (", ".join(made.tools) or "nothing")]
    lines += [f"  {tool}: {proof_words(catalog.tools[tool], 'en')}"
              for tool in made.tools]
    lines += [f"hosted: {need} at {who}" for need, who in made.hosted.items()]
    lines += [f"not deployed: {tool}: {why}" for tool, why in made.refused]
    if made.relay:
        lines.append(f"mail relay: {made.relay['host']}:{made.relay['port']} ({made.relay['security']}) as "
                     f"{made.relay['username']}, from {catalog.hosters[made.relay_hoster].name}'s documented settings")
        if password_later:
            lines.append(f"add its password to {out_path.parent / 'secrets.yml'} under mail_relay.password "
                         "before `sovstack plan`")
    elif made.relay_hoster:
        lines.append(f"mail relay: ask {catalog.hosters[made.relay_hoster].name} for its SMTP server, port and "
                     f"security, then add mail_relay to {out_path} (tools send their mail through it)")
    if not made.tools:
        lines.append("nothing to deploy: every need is hosted or kept, so no server was written; "
                     "contact the hosters named in the report")
    else:
        lines.append(f"next: sovstack plan --stack {out_path}")
    return lines


def init_summary(out_path: Path, made, catalog) -> dict:
    """init's summary for --json: the paths written and what was placed; secret values never."""
    return {"stack": str(out_path), "secrets": str(out_path.parent / "secrets.yml"), "self_hosted": list(made.tools),
            "proof": {tool: {"level": catalog.tools[tool].proof, "proven": catalog.tools[tool].proven}
                      for tool in made.tools},
            "hosted": dict(made.hosted), "not_deployed": [{"tool": tool, "why": why} for tool, why in made.refused],
            "mail_relay": made.relay, "ask_smtp_of": None if made.relay else made.relay_hoster,
            "next": f"sovstack plan --stack {out_path}" if made.tools else None}


@main.command("render")
@STACK
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def render_cmd(stack_path: Path | None, as_json: bool) -> None:
    """Write build/<server>/ (manifest + files) and the inventories from the stack file.

    \b
    Examples:
      sovstack render --stack sovstack.yml && ansible-playbook -i build/hosts.yml playbooks/site.yml
      sovstack render --json
    """
    from sovstack.engines.apply import load, render_all

    loaded = load(find_stack(stack_path), generate_secrets=True)
    bundles = render_all(loaded)
    if as_json:
        click.echo(json.dumps(render_summary(loaded, bundles), ensure_ascii=False, indent=2))
        return
    for bundle in bundles:
        m = bundle.manifest
        click.echo(f"{bundle.path}: {len(m['files'])} files, {len(m['compose'])} compose projects, "
                   f"{len(m['steps'])} steps")
    click.echo(f"{loaded.build / 'hosts.yml'} (Ansible), {loaded.build / 'inventory.py'} (pyinfra)")
    for link in _unwired(loaded):
        click.echo(f"not wired: {link.aspect}: {link.tool}: {link.reason}")


@main.command("playbook")
def playbook_cmd() -> None:
    """Print the path of the Ansible playbook that applies rendered bundles (it ships inside sovstack,
    so it is found the same way from a checkout, pip or pipx).

    \b
    Example:
      sovstack playbook   # after `sovstack render`: ansible-playbook -i build/hosts.yml "$(sovstack playbook)"
    """
    from sovstack.paths import playbook

    click.echo(str(playbook()))


def _unwired(loaded) -> list:
    """What could not be connected (member accounts, mail, analytics), and why."""
    return [link for link in loaded.wiring.links if not link.wired]


def render_summary(loaded, bundles) -> dict:
    """render's output for --json: counts and paths (the manifests themselves are in build/)."""
    return {"stack": str(loaded.path),
            "servers": [{"server": b.server, "path": str(b.path), "files": len(b.manifest["files"]),
                         "compose": len(b.manifest["compose"]), "steps": len(b.manifest["steps"])} for b in bundles],
            "inventories": {"ansible": str(loaded.build / "hosts.yml"), "pyinfra": str(loaded.build / "inventory.py")},
            "not_wired": [{"aspect": link.aspect, "tool": link.tool, "reason": link.reason} for link in _unwired(loaded)]}


@main.command()
@STACK
@SERVERS
@ENGINE
@click.option("--json", "as_json", is_flag=True, help="Print the changes per server as JSON (the engine's "
              "output then goes to standard error).")
def plan(stack_path: Path | None, only: tuple[str, ...], engine: str, as_json: bool) -> None:
    """Show, per server, what a deploy would change (a dry run; nothing changes).

    \b
    Examples:
      sovstack plan --stack sovstack.yml --server main
      sovstack plan --json 2>/dev/null
    """
    from sovstack.engines.apply import apply, check_servers, load, render_all

    loaded = load(find_stack(stack_path), generate_secrets=True)
    servers = loaded.servers(only)
    bundles = render_all(loaded)
    check_servers(loaded, bundles, servers)
    result = apply(loaded, engine, servers, lambda line: click.echo(line, err=as_json), check=True)
    if as_json:
        click.echo(json.dumps(plan_summary(engine, servers, result.changed), indent=2))
        return
    for server in servers:
        click.echo(f"plan: {server}: {result.changed.get(server, '?')} change(s) would be made")


def plan_summary(engine: str, servers: list[str], changed: dict[str, int]) -> dict:
    """plan's output for --json; `changes` is null where the engine's output gave no count."""
    return {"engine": engine, "servers": [{"server": s, "changes": changed.get(s)} for s in servers]}


@main.command()
@STACK
@SERVERS
@ENGINE
@click.option("-v", "--verbose", count=True, help="Pass -v… to the engine (secrets stay hidden).")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for the tools' health checks.")
def deploy(stack_path: Path | None, only: tuple[str, ...], engine: str, verbose: int, wait: int) -> None:
    """Render, check the servers, apply with Ansible (default) or pyinfra, then check health.

    Nothing changes on any server unless every server passes the checks first (reachable, right
    SSH key, Debian 13, the ports it needs free).

    \b
    Examples:
      sovstack deploy
      sovstack deploy --engine pyinfra --server main
    """
    from sovstack.engines.apply import load

    loaded = load(find_stack(stack_path), generate_secrets=True)
    _deploy(loaded, loaded.servers(only), engine, verbose, wait)


def _deploy(loaded, servers: list[str], engine: str, verbose: int, wait: int) -> None:
    from sovstack.engines.apply import apply, check_servers, health, logs_command, render_all
    from sovstack.errors import UserError

    bundles = render_all(loaded)
    check_servers(loaded, bundles, servers)
    result = apply(loaded, engine, servers, click.echo, verbosity=verbose)
    checks = health(loaded, bundles, servers, wait=wait)
    bad = [c for c in checks if not c.ok]
    echo_health(checks)
    click.echo(f"deploy: {engine}: " + ", ".join(f"{s}: {result.changed.get(s, '?')} change(s)" for s in servers))
    if bad:
        raise UserError("deployed, but failing health checks: " + ", ".join(c.tool for c in bad),
                        "look at the logs on the server: " + "; ".join(
                            f"{c.tool}: {logs_command(loaded.catalog, c.tool)}" for c in bad))


@main.command("remove")
@click.argument("tool")
@click.option("--purge", is_flag=True, help="Also delete its data directory and the Debian packages only it used.")
@STACK
@ENGINE
@click.option("-v", "--verbose", count=True, help="More engine output (-v, -vv, -vvv).")
def remove_cmd(tool: str, purge: bool, stack_path: Path | None, engine: str, verbose: int) -> None:
    """Remove a tool: stop it, delete its files, routes and wiring, and take it out of sovstack.yml.

    Its data (/srv/sovstack/data/<tool>) is kept unless --purge.

    \b
    Example:
      sovstack remove goaccess
      sovstack remove etherpad --purge --engine pyinfra
    """
    from sovstack.engines import remove
    from sovstack.engines.apply import check_servers, load
    from sovstack.errors import UserError
    from sovstack.render.bundle import render_server
    from sovstack.wiring.wire import wire

    stack_path = find_stack(stack_path)
    loaded = load(stack_path, generate_secrets=True)
    remove.check_removable(loaded.stack, loaded.catalog, tool, stack_path)
    server = loaded.stack.tools[tool].server
    build = loaded.build / server
    before = render_server(loaded.wiring, loaded.secrets, server, build)
    text, smaller = remove.smaller_stack(stack_path, loaded.catalog, tool)
    after = render_server(wire(smaller, loaded.catalog), loaded.secrets, server, build)
    removal = remove.plan(loaded.stack, tool, text, smaller, before, after, purge)
    check_servers(loaded, [before], [server])
    result = loaded.target(server).run("sh -e", stdin="\n".join(removal.commands) + "\n", as_root=True)
    if result.returncode != 0:
        raise UserError(f"server {server!r}: removing {tool} stopped: {result.stderr.strip()[-300:]}",
                        "fix that on the server and run `sovstack remove` again; sovstack.yml is unchanged")
    stack_path.write_text(removal.stack_text, encoding="utf-8")
    click.echo(f"removed {tool} from server {server!r} and from {stack_path}")
    for kept in removal.kept:
        click.echo(f"kept: {kept} (delete with --purge)")
    loaded.stack = smaller
    _deploy(loaded, list(loaded.stack.servers), engine, verbose, wait=30)



from sovstack.cli.day2 import backup_cmd, check_cmd, dns_cmd, restore_cmd, update_cmd  # noqa: E402
from sovstack.cli.groups import groups  # noqa: E402
from sovstack.cli.members import members  # noqa: E402
from sovstack.cli.migrate import migrate_cmd  # noqa: E402
from sovstack.cli.sandbox import sandbox  # noqa: E402

for _command in (members, groups, migrate_cmd, sandbox, dns_cmd, check_cmd, backup_cmd, restore_cmd, update_cmd):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
