"""The command line. This is the one place that prints errors and chooses exit codes.

Heavy modules (pydantic, jinja2, questionary, rich) are imported inside the commands so that
`sovstack --help` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sovstack import __version__
from sovstack.errors import SovstackError

LANG = click.Choice(["en", "fr"])


class ErrorBoundary(click.Group):
    """Turns SovstackError into a short message and its exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SovstackError as exc:
            click.echo(f"error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  fix: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("stopped by user; nothing was written", err=True)
            ctx.exit(130)


@click.group(cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sovstack")
def main() -> None:
    """sovstack helps an association leave Big Tech.

    It asks what the association needs, recommends free software for each need (your own
    server, a trusted hoster, or keep what you have) and explains why.

    \b
    Example:
      sovstack ask --answers examples/answers/small-choir.yml --out recommendation/
    """


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
    from sovstack.service import load_answers_file, recommend, write_outputs

    if answers_file is not None:
        given, source, prompter = load_answers_file(answers_file), str(answers_file), None
    else:
        _require_terminal("there is no terminal to ask the questions in",
                          "run it in a terminal, or give the answers with --answers FILE (examples in examples/answers/)")
        from sovstack.prompts import TerminalPrompter

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

    from sovstack.web import make_server

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
    from rich.console import Console
    from rich.table import Table

    from sovstack.report_text import TEXT

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
    console = Console()
    console.print(table)
    totals = result.data["totals"]
    console.print(f"{t['monthly']}: €{totals['monthly_eur']}  ·  {t['ram']}: {totals['ram_mb']} MB")


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
    from sovstack.questionnaire import load_questionnaire

    cat = load_catalog()
    questions = load_questionnaire()
    click.echo(f"ok: {len(cat.tools)} tools, {len(cat.hosters)} hosters, {len(questions.questions)} questions")


@catalog.command("list")
@click.option("--need", type=click.Choice(["email", "documents", "files", "chat", "video", "forms",
                                           "analytics", "identity"]), help="Only the tools for this need.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def catalog_list(need: str | None, as_json: bool) -> None:
    """List the tools with their scores.

    \b
    Example:
      sovstack catalog list --need documents
    """
    from sovstack.catalog import CRITERIA, load_catalog

    cat = load_catalog()
    tools = [t for t in sorted(cat.tools.values(), key=lambda t: t.id) if need is None or need in t.categories]
    rows = [{"id": t.id, "name": t.name, "categories": t.categories, "obtain": t.obtain.method,
             "ram_mb": t.resources.ram_mb.recommended, **t.scores.values()} for t in tools]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("id", "categories", "obtain", "ram_mb", *CRITERIA):
        table.add_column(column)
    for r in rows:
        table.add_row(r["id"], ",".join(r["categories"]), r["obtain"], str(int(r["ram_mb"])),
                      *(str(r[c]) for c in CRITERIA))
    Console().print(table)


@catalog.command("show")
@click.argument("tool_id")
def catalog_show(tool_id: str) -> None:
    """Show everything the catalog knows about one tool, with sources.

    \b
    Example:
      sovstack catalog show open-web-analytics
    """
    from sovstack.catalog import load_catalog
    from sovstack.errors import UserError
    from sovstack.yamlio import dump_yaml

    cat = load_catalog()
    if tool_id not in cat.tools:
        raise UserError(f"no tool {tool_id!r} in the catalog", "see `sovstack catalog list` for the ids")
    click.echo(dump_yaml(cat.tools[tool_id].model_dump(mode="json", exclude_defaults=True)), nl=False)


STACK = click.option("--stack", "stack_path", type=click.Path(dir_okay=False, path_type=Path),
                     default=Path("sovstack.yml"), show_default=True, help="The stack file.")
SERVERS = click.option("--server", "only", multiple=True, help="Only this server (repeatable); default: all.")
ENGINE = click.option("--engine", type=click.Choice(["ansible", "pyinfra"]), default="ansible", show_default=True,
                      help="What applies the rendered manifest.")


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
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("sovstack.yml"),
              show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing stack file.")
def init(answers_file: Path, domain, admin_email, organisation, address, ssh_user, ssh_port, ssh_key,
         sandbox_name, tls, out_path: Path, force: bool) -> None:
    """Turn a recommendation into a stack file (sovstack.yml) and its secrets.

    Asks for what is missing (domain, admin mail, server) when run in a terminal. Tools that
    sovstack does not deploy are listed with the reason and left out.

    \b
    Examples:
      sovstack init                                   # asks for domain, admin mail, server
      sovstack init --answers recommendation/answers.yml --domain voisins.example.org \
        --admin-email admin@voisins.example.org --server 203.0.113.10
      sovstack init --sandbox sandbox --domain voisins.test --admin-email admin@voisins.test
    """
    from sovstack.errors import UserError
    from sovstack.init_stack import draft, sandbox_server
    from sovstack.provision import load
    from sovstack.sandbox import STATE_DIR
    from sovstack.service import load_answers_file, recommend

    if out_path.exists() and not force:
        raise UserError(f"{out_path} already exists", "edit it, or pass --force to write a new one")
    if not answers_file.exists():
        raise UserError(f"--answers {answers_file}: no such file",
                        "answer the questionnaire first: sovstack ask (it writes recommendation/answers.yml)")
    given = load_answers_file(answers_file)
    result = recommend(given, source=str(answers_file))
    organisation = organisation or result.recommendation.answers.get("organisation") or \
        _prompt_text("Name of the association?", "--organisation")
    domain = (domain or _prompt_text("Domain of the association (e.g. voisins.example.org)?", "--domain")).lower()
    admin_email = admin_email or _prompt_text("Admin e-mail address?", "--admin-email")
    if sandbox_name:
        server = sandbox_server(sandbox_name, STATE_DIR)
        tls = tls or "internal"
    else:
        address = address or _prompt_text("Server address (IP or host name)?", "--server")
        server = {"address": address, "ssh_user": ssh_user, "ssh_port": ssh_port,
                  **({"ssh_key": ssh_key} if ssh_key else {})}
    made = draft(result.recommendation, result.catalog, organisation=organisation, domain=domain,
                 admin_email=admin_email, server=server, tls=tls or "public",
                 language="fr" if result.recommendation.answers.get("francophone") else "en")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(made.text)
    load(out_path)  # generates secrets.yml next to it
    click.echo(f"wrote {out_path} and {out_path.parent / 'secrets.yml'} (0600)")
    click.echo("self-hosted: " + (", ".join(made.tools) or "nothing"))
    for need, who in made.hosted.items():
        click.echo(f"hosted: {need} at {who}")
    for tool, why in made.refused:
        click.echo(f"not deployed: {tool}: {why}")
    click.echo(f"next: sovstack plan --stack {out_path}")


@main.command("render")
@STACK
def render_cmd(stack_path: Path) -> None:
    """Write build/<server>/ (manifest + files) and the inventories from the stack file.

    \b
    Example:
      sovstack render --stack sovstack.yml && ansible-playbook -i build/hosts.yml playbooks/site.yml
    """
    from sovstack.provision import load, render_all

    loaded = load(stack_path)
    for bundle in render_all(loaded):
        m = bundle.manifest
        click.echo(f"{bundle.path}: {len(m['files'])} files, {len(m['compose'])} compose projects, "
                   f"{len(m['steps'])} steps")
    click.echo(f"{loaded.build / 'hosts.yml'} (Ansible), {loaded.build / 'inventory.py'} (pyinfra)")
    _echo_unwired(loaded)


def _echo_unwired(loaded) -> None:
    """What could not be connected (member accounts, mail, analytics), and why."""
    from sovstack import wiring

    for link in wiring.links(loaded.stack, loaded.catalog):
        if not link.wired:
            click.echo(f"not wired: {link.aspect}: {link.tool}: {link.reason}")


@main.command()
@STACK
@SERVERS
@ENGINE
def plan(stack_path: Path, only: tuple[str, ...], engine: str) -> None:
    """Show, per server, what a deploy would change (a dry run; nothing changes).

    \b
    Example:
      sovstack plan --stack sovstack.yml --server main
    """
    from sovstack.provision import apply, check_servers, load, render_all

    loaded = load(stack_path)
    servers = loaded.servers(only)
    bundles = render_all(loaded)
    check_servers(loaded, bundles, servers)
    result = apply(loaded, engine, servers, click.echo, check=True)
    for server in servers:
        click.echo(f"plan: {server}: {result.changed.get(server, '?')} change(s) would be made")


@main.command()
@STACK
@SERVERS
@ENGINE
@click.option("-v", "--verbose", count=True, help="Pass -v… to the engine (secrets stay hidden).")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for the tools' health checks.")
def deploy(stack_path: Path, only: tuple[str, ...], engine: str, verbose: int, wait: int) -> None:
    """Render, check the servers, apply with Ansible (default) or pyinfra, then check health.

    Nothing changes on any server unless every server passes the checks first (reachable, right
    SSH key, Debian 12/13, the ports it needs free).

    \b
    Examples:
      sovstack deploy
      sovstack deploy --engine pyinfra --server main
    """
    from sovstack.provision import load

    loaded = load(stack_path)
    _deploy(loaded, loaded.servers(only), engine, verbose, wait)


def _deploy(loaded, servers: list[str], engine: str, verbose: int, wait: int) -> None:
    from sovstack.errors import UserError
    from sovstack.provision import apply, check_servers, health, render_all

    bundles = render_all(loaded)
    check_servers(loaded, bundles, servers)
    result = apply(loaded, engine, servers, click.echo, verbosity=verbose)
    checks = health(loaded, bundles, servers, wait=wait)
    bad = [c for c in checks if not c.ok]
    for c in checks:
        click.echo(f"health: {c.server}: {c.tool} https://{c.fqdn}: {'ok' if c.ok else 'FAILING'} ({c.detail})")
    click.echo(f"deploy: {engine}: " + ", ".join(f"{s}: {result.changed.get(s, '?')} change(s)" for s in servers))
    if bad:
        raise UserError("deployed, but failing health checks: " + ", ".join(c.tool for c in bad),
                        "look at the tool's logs on the server: docker compose -f /srv/sovstack/apps/<tool>/compose.yml logs")


@main.command("remove")
@click.argument("tool")
@click.option("--purge", is_flag=True, help="Also delete its data directory and the Debian packages only it used.")
@STACK
@ENGINE
@click.option("-v", "--verbose", count=True, help="More engine output (-v, -vv, -vvv).")
def remove_cmd(tool: str, purge: bool, stack_path: Path, engine: str, verbose: int) -> None:
    """Remove a tool: stop it, delete its files, routes and wiring, and take it out of sovstack.yml.

    Its data (/srv/sovstack/data/<tool>) is kept unless --purge.

    \b
    Example:
      sovstack remove goaccess
      sovstack remove etherpad --purge --engine pyinfra
    """
    from sovstack import remove
    from sovstack.errors import UserError
    from sovstack.provision import check_servers, load
    from sovstack.render import render_server

    loaded = load(stack_path)
    remove.check_removable(loaded.stack, loaded.catalog, tool, stack_path)
    server = loaded.stack.tools[tool].server
    build = loaded.build / server
    before = render_server(loaded.stack, loaded.catalog, loaded.secrets, server, build)
    text, smaller = remove.smaller_stack(stack_path, loaded.catalog, tool)
    after = render_server(smaller, loaded.catalog, loaded.secrets, server, build)
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


@main.group()
def members() -> None:
    """The association's members: one account for every tool (in the stack's directory).

    \b
    Example:
      sovstack members add alice --name "Alice Martin" --email alice@example.net
    """


def _members_context(stack_path: Path):
    from sovstack.directory import open_directory
    from sovstack.provision import load

    loaded = load(stack_path)
    targets = loaded.target
    return loaded, open_directory(loaded.stack, loaded.catalog, targets), targets


def _read_password(use_stdin: bool) -> str | None:
    from sovstack.members import check_password

    if not use_stdin:
        return None
    return check_password(click.get_text_stream("stdin").read())


def _welcome(loaded, targets, member, mail: str, password: str | None) -> str:
    from sovstack import welcome

    message = welcome.compose(loaded.stack, loaded.catalog, member, mail, password)
    how = welcome.send(loaded.stack, loaded.catalog, message, loaded.secrets.get("mail_relay.password"), targets)
    return f"welcome mail to {message['To']} sent {how}"


EMAIL_HELP = "The member's own mail address: the welcome mail (with a password sovstack chose) goes there."


@members.command("add")
@click.argument("username")
@click.option("--name", required=True, help="Full name, e.g. \"Alice Martin\".")
@click.option("--email", "contact", help=EMAIL_HELP)
@click.option("--password-stdin", is_flag=True, help="Read the member's password from standard input instead "
              "of choosing one.")
@click.option("--no-welcome", is_flag=True, help="Send no welcome mail (needs --password-stdin).")
@STACK
def members_add(username: str, name: str, contact: str | None, password_stdin: bool, no_welcome: bool,
                stack_path: Path) -> None:
    """Add a member, who gets a welcome mail with every tool's address and how to log in.

    Without --password-stdin sovstack chooses a password and sends it to --email only.

    \b
    Example:
      sovstack members add alice --name "Alice Martin" --email alice@example.net
      printf '%s' "$PASSWORD" | sovstack members add bob --name Bob --password-stdin
    """
    from sovstack.errors import UserError
    from sovstack.members import check_member, new_password

    member = check_member(username, name, contact, "members add:")
    given = _read_password(password_stdin)
    if given is None and (no_welcome or not member.contact):
        raise UserError(f"members add {username}: nobody would learn the password sovstack chooses",
                        "give the member's own address with --email, or the password with --password-stdin")
    loaded, directory, targets = _members_context(stack_path)
    mail = directory.mail_of(member)
    password = given or new_password()
    directory.add([(member, password)])
    click.echo(f"added {member.username} ({mail})")
    if not no_welcome:
        click.echo(_welcome(loaded, targets, member, mail, None if given else password))


@members.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@STACK
def members_import(csv_file: Path, stack_path: Path) -> None:
    """Add the members of a CSV file (header: username,name,email); each gets a welcome mail
    with a password sovstack chose. Every line is checked before anyone is added.

    \b
    Example:
      sovstack members import members.csv
    """
    from sovstack.errors import SovstackError, UserError
    from sovstack.members import new_password, read_csv

    found = read_csv(csv_file)
    missing = [m.username for m in found if not m.contact]
    if missing:
        raise UserError(f"{csv_file}: no email for {', '.join(missing)}",
                        "give every member's own address in the email column (their password is sent there); "
                        "nobody was added")
    loaded, directory, targets = _members_context(stack_path)
    batch = [(member, new_password()) for member in found]
    directory.add(batch)
    click.echo(f"added {len(batch)} member(s)")
    failed = []
    for member, password in batch:
        try:
            click.echo(_welcome(loaded, targets, member, directory.mail_of(member), password))
        except SovstackError as exc:
            failed.append(f"{member.username}: {exc.message}")
    if failed:
        raise UserError("members added, but some welcome mails were not sent:\n" + "\n".join(failed),
                        "fix the mail problem, then give them a new password with `sovstack members password`")


@members.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON.")
@STACK
def members_list(as_json: bool, stack_path: Path) -> None:
    """List the members: user name, name, address, and whether the account is disabled.

    \b
    Example:
      sovstack members list --json
    """
    _, directory, _ = _members_context(stack_path)
    found = directory.list()
    if as_json:
        click.echo(json.dumps([{"username": m.username, "name": m.name, "mail": m.mail, "disabled": m.disabled}
                               for m in found], indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("user name", "name", "address", "status")
    for m in found:
        table.add_row(m.username, m.name, m.mail or "", "disabled" if m.disabled else "active")
    Console().print(table)


@members.command("disable")
@click.argument("username")
@STACK
def members_disable(username: str, stack_path: Path) -> None:
    """Stop a member from logging in anywhere (their data and mail are kept).

    \b
    Example:
      sovstack members disable alice
    """
    _, directory, _ = _members_context(stack_path)
    changed = directory.set_disabled(username, True)
    click.echo(f"{username}: {'disabled' if changed else 'already disabled'}")


@members.command("enable")
@click.argument("username")
@STACK
def members_enable(username: str, stack_path: Path) -> None:
    """Let a disabled member log in again.

    \b
    Example:
      sovstack members enable alice
    """
    _, directory, _ = _members_context(stack_path)
    changed = directory.set_disabled(username, False)
    click.echo(f"{username}: {'enabled' if changed else 'already active'}")


@members.command("password")
@click.argument("username")
@click.option("--email", "contact", help="Where the new password is sent (their own address).")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@STACK
def members_password(username: str, contact: str | None, password_stdin: bool, stack_path: Path) -> None:
    """Give a member a new password: chosen by sovstack and mailed to --email, or read from stdin.

    \b
    Example:
      sovstack members password alice --email alice@example.net
    """
    from sovstack.errors import UserError
    from sovstack.members import check_member, new_password

    given = _read_password(password_stdin)
    if given is None and not contact:
        raise UserError(f"members password {username}: nobody would learn the new password",
                        "give the member's own address with --email, or the password with --password-stdin")
    loaded, directory, targets = _members_context(stack_path)
    current = next((m for m in directory.list() if m.username == username), None)
    if current is None:
        raise UserError(f"no member {username!r}", "see `sovstack members list` for the user names")
    password = given or new_password()
    directory.set_password(username, password)
    click.echo(f"{username}: password changed")
    if given is None:
        member = check_member(username, current.name, contact, "members password:")
        click.echo(_welcome(loaded, targets, member, current.mail or contact, password))


@members.command("remove")
@click.argument("username")
@click.option("--purge", is_flag=True, help="Also delete the member's mailbox (otherwise kept).")
@STACK
def members_remove(username: str, purge: bool, stack_path: Path) -> None:
    """Remove a member from the directory; their mailbox is kept unless --purge.

    \b
    Example:
      sovstack members remove alice --purge
    """
    from sovstack import wiring
    from sovstack.errors import UserError

    loaded, directory, targets = _members_context(stack_path)
    directory.remove(username)
    click.echo(f"removed {username}")
    server_tool = wiring.mail_server(loaded.stack, loaded.catalog)
    if purge and wiring.mail_route(loaded.stack, loaded.catalog) == "self-hosted":
        server = loaded.stack.tools[server_tool].server
        box = f"/srv/sovstack/data/{server_tool}/mail/{loaded.stack.domain}/{username}"
        result = targets(server).run(f"rm -rf -- '{box}'", as_root=True)
        if result.returncode != 0:
            raise UserError(f"server {server!r}: could not delete {box}", "delete it by hand")
        click.echo(f"deleted the mailbox {box} on {server}")


@main.group()
def sandbox() -> None:
    """A local Debian 13 server in Docker, for trying a stack before renting a VPS.

    Needs the Docker engine and debootstrap on this machine (apt-get install docker.io
    debootstrap). State (SSH key, inventory) is kept in .sovstack/sandbox/<name>/.

    \b
    Examples:
      sovstack sandbox up
      sovstack init --sandbox sandbox --domain voisins.test --admin-email admin@voisins.test
      sovstack sandbox down
    """


NAME = click.option("--name", default="sandbox", show_default=True, help="Which sandbox server.")


@sandbox.command("up")
@NAME
def sandbox_up(name: str) -> None:
    """Start a sandbox server (builds its image once) and write its inventory.

    \b
    Example:
      sovstack sandbox up --name sandbox
    """
    from sovstack import sandbox as sb

    server = sb.up(name, progress=lambda msg: click.echo(msg, err=True))
    _show_sandbox(server)


def _show_sandbox(server) -> None:
    click.echo(f"{server.name}: ssh {' '.join(server.ssh_command())}")
    click.echo(f"  address seen from this machine: {server.address}; inventory: {server.inventory}")


@sandbox.command("status")
@NAME
def sandbox_status(name: str) -> None:
    """Say whether the sandbox server runs, and how to reach it.

    \b
    Example:
      sovstack sandbox status
    """
    from sovstack import sandbox as sb
    from sovstack.errors import UserError

    server = sb.status(name)
    if server is None:
        raise UserError(f"sandbox {name!r} is not running", f"start it: sovstack sandbox up --name {name}")
    _show_sandbox(server)


@sandbox.command("down")
@NAME
def sandbox_down(name: str) -> None:
    """Remove the sandbox server and its data.

    \b
    Example:
      sovstack sandbox down --name sandbox
    """
    from sovstack import sandbox as sb

    click.echo(f"{name}: removed" if sb.down(name) else f"{name}: there was no such sandbox")


@sandbox.command("load")
@NAME
@click.argument("images", nargs=-1, required=True)
def sandbox_load(name: str, images: tuple[str, ...]) -> None:
    """Copy images from this machine's Docker into the sandbox's (it cannot pull where you cannot).

    \b
    Example:
      sovstack sandbox load debian:trixie-slim
    """
    from sovstack import sandbox as sb
    from sovstack.errors import UserError

    server = sb.status(name)
    if server is None:
        raise UserError(f"sandbox {name!r} is not running", f"start it: sovstack sandbox up --name {name}")
    sb.load_images(server, list(images))
    click.echo(f"{name}: loaded {', '.join(images)}")


# --- DNS records and `sovstack check` -----------------------------------------------------------


@main.command("dns")
@STACK
@click.option("--format", "fmt", type=click.Choice(["table", "zone"]), default="table", show_default=True,
              help="table: for reading; zone: zone-file text to paste or import at your DNS host.")
def dns_cmd(stack_path: Path, fmt: str) -> None:
    """Print the DNS records the stack needs: the address of every web tool, and with
    self-hosted mail its MX, SPF, DKIM and DMARC records.

    \b
    Examples:
      sovstack dns
      sovstack dns --format zone > example.org.zone
    """
    from sovstack.dns_records import notes, records, zone_text
    from sovstack.provision import load

    loaded = load(stack_path)
    found = records(loaded.stack, loaded.catalog, loaded.secrets, loaded.path)
    remarks = notes(loaded.stack, loaded.catalog)
    if fmt == "zone":
        click.echo(zone_text(loaded.stack.domain, found, remarks, str(loaded.path)), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"DNS records for {loaded.stack.domain}")
    for column in ("name", "type", "value", "ttl", "purpose"):
        table.add_column(column, overflow="fold")
    for r in found:
        table.add_row(r.name, r.type, r.value, str(r.ttl), r.purpose)
    console = Console()
    console.print(table)
    for remark in remarks:
        console.print(f"note: {remark}", highlight=False)


@main.command("check")
@STACK
@click.option("--resolver", help="Ask this DNS server (IP, IP:PORT or [IPv6]:PORT) instead of the system's resolver.")
@click.option("--only", multiple=True, type=click.Choice(["dns", "wiring", "services", "health", "ports", "tls",
                                                         "disk", "memory", "updates", "reboot", "backup"]),
              help="Only this check (repeatable); default: all.")
@click.option("--server", "servers", multiple=True,
              help="Examine only this server (repeatable); default: every server the stack was deployed to.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check_cmd(ctx: click.Context, stack_path: Path, resolver: str | None, only: tuple[str, ...],
              servers: tuple[str, ...], as_json: bool) -> None:
    """Diagnose the stack: what is wrong, why it matters, and the fix.

    DNS: every record `sovstack dns` prints, as a resolver answers it. Wiring: which tools are
    connected to the member directory and the mail, and why the others are not. On each server
    (one SSH call): services and failed units, health endpoints, listening ports, TLS certificates,
    free disk, available memory, security updates, reboot required, age of the last backup. Exits
    1 when anything is wrong (warnings do not count), 0 otherwise.

    \b
    Examples:
      sovstack check
      sovstack check --only dns --resolver 9.9.9.9 --json
      sovstack check --server main --only disk --only backup
    """
    from sovstack.checks import CheckInput, failed, run_checks
    from sovstack.provision import load

    loaded = load(stack_path)
    given = CheckInput(loaded.stack, loaded.catalog, loaded.secrets, loaded.path, resolver,
                       servers=tuple(loaded.servers(servers)) if servers else ())
    findings = run_checks(given, only)
    _note_unexamined(given, only)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _print_findings(findings)
    if failed(findings):
        ctx.exit(1)


def _note_unexamined(given, only: tuple[str, ...]) -> None:
    from sovstack.checks import CHECKS
    from sovstack.diagnosis import servers_to_examine

    if any(name not in ("dns", "wiring") for name in (only or CHECKS)) and not servers_to_examine(given):
        click.echo("note: no server was examined: this stack has not been deployed from here (no build/<server>/); "
                   "run `sovstack deploy`, or name one with --server", err=True)


def _print_findings(findings) -> None:
    marks = {"error": ("wrong", "red"), "warning": ("warn", "yellow"), "info": ("note", "blue")}
    for f in findings:
        mark, colour = ("ok", "green") if f.ok else marks[f.severity]
        click.echo(f"{click.style(f'{mark:<5}', fg=colour)} [{f.check}] {f.subject}: {f.what}")
        if not f.ok:
            if f.why:
                click.echo(f"      why: {f.why}")
            if f.fix:
                click.echo(f"      fix: {f.fix}")
    counted = {s: sum(1 for f in findings if not f.ok and f.severity == s) for s in ("error", "warning")}
    click.echo(f"check: {sum(f.ok for f in findings)} ok, {counted['error']} wrong, {counted['warning']} warnings")



# --- backups (sovstack/backup.py) --------------------------------------------------------------

@main.command("backup")
@STACK
@SERVERS
def backup_cmd(stack_path: Path, only: tuple[str, ...]) -> None:
    """Back up now: dump the tools' databases, take a restic snapshot, apply the retention.

    The same runs daily from the sovstack-backup.timer on each server. The repository password is
    backup.password in secrets.yml: keep a copy of that file somewhere safe, off the server.

    \b
    Example:
      sovstack backup --server main
    """
    from sovstack.backup import run_backup
    from sovstack.provision import load

    loaded = load(stack_path)
    for server in loaded.servers(only):
        snapshot = run_backup(loaded, server)
        click.echo(f"backup: {server}: snapshot {snapshot.id} saved in {loaded.stack.backup.local}"
                   + (f" and {loaded.stack.backup.remote}" if loaded.stack.backup.remote else ""))


@main.command("restore")
@STACK
@SERVERS
@click.option("--tool", "tools", multiple=True, help="Only this tool (repeatable); default: every tool.")
@click.option("--snapshot", default="latest", show_default=True, help="Snapshot id (or its first characters).")
@click.option("--list", "list_only", is_flag=True, help="Only list the snapshots; change nothing.")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for the tools' health checks.")
def restore_cmd(stack_path: Path, only: tuple[str, ...], tools: tuple[str, ...], snapshot: str, list_only: bool,
                wait: int) -> None:
    """Restore tools from a backup: stop them, put their files back, load their database dumps,
    start them, and check their health.

    The password in secrets.yml is checked first: a wrong one changes nothing. The files found
    before the restore are kept in /srv/sovstack/pre-restore/<tool> until the next restore. On a new
    server: `sovstack deploy` first, copy the repository to backup.local, then restore.

    \b
    Examples:
      sovstack restore --list
      sovstack restore --tool etherpad --snapshot 1a2b3c4d
    """
    from sovstack import backup
    from sovstack.errors import UserError
    from sovstack.provision import health, load, render_all

    loaded = load(stack_path)
    if list_only:
        for server in loaded.servers(only):
            for found in backup.snapshots(loaded, server):
                click.echo(f"{server}: {found.id[:8]}  {found.time[:19]}")
        return
    wanted = backup.plan_restore(loaded, tools, only)
    if snapshot != "latest" and len(wanted) > 1:
        raise UserError(f"--snapshot {snapshot}: the tools are on several servers ({', '.join(wanted)}), "
                        "each with its own repository", "add --server NAME")
    restored = [backup.restore(loaded, server, names, snapshot) for server, names in wanted.items()]
    for done in restored:
        click.echo(f"restore: {done.server}: {', '.join(done.tools)} from snapshot {done.snapshot.id[:8]}")
    names = {t for done in restored for t in done.tools}
    checks = [c for c in health(loaded, render_all(loaded), list(wanted), wait=wait) if c.tool in names]
    for c in checks:
        click.echo(f"health: {c.server}: {c.tool} https://{c.fqdn}: {'ok' if c.ok else 'FAILING'} ({c.detail})")
    bad = [c.tool for c in checks if not c.ok]
    if bad:
        raise UserError("restored, but failing health checks: " + ", ".join(bad),
                        "look at the tool's logs on the server; the previous files are in /srv/sovstack/pre-restore")


# --- updates (sovstack/update.py) ---------------------------------------------------------------

@main.command("update")
@STACK
@SERVERS
@ENGINE
@click.option("--tool", "tools", multiple=True, help="Only this compose tool (repeatable); default: every tool.")
@click.option("--skip-debian", is_flag=True, help="Do not run apt-get upgrade; only update the tools' images.")
@click.option("--wait", default=180, show_default=True, help="Seconds to wait for each tool's health check.")
def update_cmd(stack_path: Path, only: tuple[str, ...], engine: str, tools: tuple[str, ...], skip_debian: bool,
               wait: int) -> None:
    """Update the servers: Debian packages, then the tools whose pinned images changed in the catalog.

    Each changed tool is snapshotted first (its images, compose files and data, copied while it is
    stopped, in /srv/sovstack/update/<tool>/), deployed, and health-checked. A tool that fails its
    health check is rolled back to its previous images and data, and the report says so (exit 2).

    \b
    Examples:
      sovstack update
      sovstack update --server main --tool etherpad --skip-debian
    """
    from sovstack.errors import UserError
    from sovstack.provision import load
    from sovstack.update import update
    from sovstack.update_plan import failures

    loaded = load(stack_path)
    report = update(loaded, engine, loaded.servers(only), tools, click.echo, wait=wait, debian=not skip_debian)
    for c in report.health:
        click.echo(f"health: {c.server}: {c.tool} https://{c.fqdn}: {'ok' if c.ok else 'FAILING'} ({c.detail})")
    bad = failures(report.outcomes)
    failing = sorted({c.tool for c in report.health if not c.ok} - {o.tool for o in bad})
    if bad or failing:
        raise UserError("update: " + "; ".join([f"{o.tool}: {o.status}" for o in bad]
                                               + [f"{t}: failing its health check" for t in failing]),
                        "read the lines above; a rolled-back tool keeps its previous version until its catalog "
                        "pin is fixed (a plain `sovstack deploy` would try the new pin again)")


if __name__ == "__main__":  # pragma: no cover
    main()
