"""The `ask` pipeline in library form: answers -> recommendation -> files. No printing here."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovstack import __version__
from sovstack.catalog import Catalog, load_catalog
from sovstack.errors import UserError
from sovstack.recommend.answers import Answers
from sovstack.recommend.decide import Recommendation, decide
from sovstack.recommend.questionnaire import (
    Prompter,
    Questionnaire,
    load_questionnaire,
    resolve,
)
from sovstack.yamlio import dump_yaml, load_yaml


@dataclass
class Result:
    catalog: Catalog
    questionnaire: Questionnaire
    recommendation: Recommendation
    data: dict[str, Any]
    markdown: str
    html: str
    answers_yaml: str


def load_answers_file(path: Path) -> Any:
    data = load_yaml(path)
    return {} if data is None else data


def recommend(given: Any, *, source: str, prompter: Prompter | None = None, lang: str = "en",
              catalog: Catalog | None = None, questionnaire: Questionnaire | None = None) -> Result:
    """Validate (or ask for) the answers, decide, and render every output in memory."""
    from sovstack.recommend.report import render_html, render_markdown, to_data

    catalog = catalog or load_catalog()
    questionnaire = questionnaire or load_questionnaire()
    answers = resolve(questionnaire, given, source=source, prompter=prompter).answers
    rec = decide(answers, catalog)
    return Result(catalog=catalog, questionnaire=questionnaire, recommendation=rec,
                  data=to_data(rec, lang, catalog), markdown=render_markdown(rec, catalog, lang),
                  html=render_html(rec, catalog, lang), answers_yaml=answers_document(answers))


def answers_document(answers: Answers) -> str:
    header = (f"# Answers to the sovstack questionnaire (sovstack {__version__}).\n"
              "# Reuse them with: sovstack ask --answers answers.yml\n")
    return header + dump_yaml({k: v for k, v in answers.as_dict().items() if v is not None})


SHARED_MODE = 0o644  # the report and answers are meant to be shared; they hold no secret


def write_outputs(result: Result, out_dir: Path) -> list[Path]:
    """Write answers.yml, report.md and report.html (mode 0644); all or nothing."""
    files = {"answers.yml": result.answers_yaml, "report.md": result.markdown, "report.html": result.html}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot create the directory ({exc.strerror})",
                        "choose a directory you can write to") from None
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.")
            staged.append((tmp, out_dir / name))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, SHARED_MODE)  # mkstemp makes it 0600
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise UserError(f"--out {out_dir}: cannot write the report ({exc.strerror})",
                        "choose a directory you can write to") from None
    return [final for _, final in staged]
