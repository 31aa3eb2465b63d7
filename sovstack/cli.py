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
def ask(answers_file: Path | None, out_dir: Path, as_json: bool, lang: str) -> None:
    """Answer the questionnaire and get a recommendation report.

    Without --answers it asks in the terminal. It writes the answers (reusable with --answers)
    and the report as Markdown and as a printable HTML page.

    \b
    Examples:
      sovstack ask                                   # interactive, in English
      sovstack ask --lang fr --out rapport/          # interactive, in French
      sovstack ask --answers answers.yml --json      # non-interactive, JSON on stdout
    """
    from sovstack.errors import InteractiveSessionRequired
    from sovstack.service import load_answers_file, recommend, write_outputs

    if answers_file is not None:
        given, source, prompter = load_answers_file(answers_file), str(answers_file), None
    else:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise InteractiveSessionRequired(
                "there is no terminal to ask the questions in",
                "run it in a terminal, or give the answers with --answers FILE "
                "(examples in examples/answers/)")
        from sovstack.prompts import TerminalPrompter

        given, source, prompter = {}, "the questionnaire", TerminalPrompter(lang)
    result = recommend(given, source=source, prompter=prompter, lang=lang)
    written = write_outputs(result, out_dir)
    if as_json:
        click.echo(json.dumps(result.data, ensure_ascii=False, indent=2))
    else:
        _print_summary(result, lang)
    click.echo("wrote " + ", ".join(str(p) for p in written), err=as_json)


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


if __name__ == "__main__":  # pragma: no cover
    main()
