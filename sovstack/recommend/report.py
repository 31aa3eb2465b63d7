"""The recommendation as data (`--json`), Markdown and a self-contained printable HTML page."""

from __future__ import annotations

from typing import Any

from sovstack import __version__
from sovstack.catalog import CRITERIA, Catalog
from sovstack.paths import templates_dir
from sovstack.recommend.decide import Candidate, Exclusion, Recommendation


def _candidate(c: Candidate) -> dict[str, Any]:
    return {"mode": c.mode, "tool": c.tool, "hoster": c.hoster, "total": c.total, "scores": dict(c.scores)}


def _exclusion(e: Exclusion, lang: str) -> dict[str, Any]:
    return {"tool": e.tool, "hoster": e.hoster, "mode": e.mode, "why": e.why.render(lang)}


def to_data(rec: Recommendation, lang: str = "en") -> dict[str, Any]:
    """The recommendation as plain data: the `--json` contract."""
    categories = {}
    for need, o in rec.outcomes.items():
        pick = o.pick
        alternatives = [_candidate(c) for c in o.alternatives]
        categories[need] = {
            "mode": o.mode,
            "tool": pick.tool if pick else None,
            "hoster": pick.hoster if pick else None,
            "total": pick.total if pick else None,
            "scores": dict(pick.scores) if pick else None,
            "score_reasons": dict(pick.score_reasons) if pick else None,
            "reasons": [r.render(lang) for r in o.reasons],
            "runner_up": alternatives[0] if alternatives else None,
            "alternatives": alternatives,
            "companions": list(o.companions),
            "excluded": [_exclusion(e, lang) for e in o.excluded],
        }
    identity = None
    if rec.identity:
        i = rec.identity
        identity = {
            "mode": "self-host", "tool": i.tool.id, "reasons": [r.render(lang) for r in i.reasons],
            "connected": i.connected,
            "unconnected": [{"tool": t, "why": why.render(lang)} for t, why in i.unconnected],
            "alternatives": i.alternatives, "excluded": [_exclusion(e, lang) for e in i.excluded],
        }
    own_accounts = None
    if rec.own_accounts:
        o = rec.own_accounts
        own_accounts = {"tools": o.tools, "reasons": [r.render(lang) for r in o.reasons],
                        "excluded": [_exclusion(e, lang) for e in o.excluded]}
    t = rec.totals
    return {
        "sovstack": __version__,
        "lang": lang,
        "answers": rec.answers.as_dict(),
        "categories": categories,
        "identity": identity,
        "own_accounts": own_accounts,
        "totals": {
            "ram_mb": t.ram_mb, "ram_mb_min": t.ram_mb_min, "disk_gb": t.disk_gb,
            "monthly_eur": t.monthly_eur, "server_eur": t.server_eur, "hosted_eur": t.hosted_eur,
            "server": t.server, "unpriced": t.unpriced, "self_hosted_tools": t.self_hosted_tools,
            "fits": t.fits,
        },
    }


def _bytecode_cache():
    """Compiled templates kept between runs (start-up time); none if the cache dir is not writable."""
    from sovstack.paths import jinja_bytecode_cache

    return jinja_bytecode_cache()


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        bytecode_cache=_bytecode_cache(),
        loader=FileSystemLoader(str(templates_dir() / "report")),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(rec: Recommendation, catalog: Catalog, lang: str) -> dict[str, Any]:
    from sovstack.recommend.wording import REPORT_TEXT as TEXT

    data = to_data(rec, lang)

    def tool_name(tool_id: str | None) -> str:
        return catalog.tools[tool_id].name if tool_id in catalog.tools else (tool_id or "")

    def hoster_name(hoster_id: str | None) -> str:
        return catalog.hosters[hoster_id].name if hoster_id in catalog.hosters else (hoster_id or "")

    def option(entry: dict[str, Any]) -> str:
        if entry.get("hoster"):
            behind = f" ({tool_name(entry['tool'])})" if entry.get("tool") else ""
            return hoster_name(entry["hoster"]) + behind
        return tool_name(entry.get("tool"))

    return {
        "data": data,
        "t": TEXT[lang],
        "lang": lang,
        "criteria": CRITERIA,
        "criteria_labels": {c: catalog.criteria.criteria[c].get(lang) for c in CRITERIA},
        "need_label": lambda n: catalog.criteria.needs[n].label.get(lang),
        "tool_name": tool_name,
        "hoster_name": hoster_name,
        "option": option,
        "tools": catalog.tools,
        "hosters": catalog.hosters,
        "organisation": rec.answers.organisation,
    }


def template_context(rec: Recommendation, catalog: Catalog, lang: str = "en") -> dict[str, Any]:
    """What the report templates are rendered with; the web result page includes report_body.html.j2 with it."""
    return _context(rec, catalog, lang)


def render_markdown(rec: Recommendation, catalog: Catalog, lang: str = "en") -> str:
    return _environment().get_template("report.md.j2").render(**_context(rec, catalog, lang))


def render_html(rec: Recommendation, catalog: Catalog, lang: str = "en") -> str:
    return _environment().get_template("report.html.j2").render(**_context(rec, catalog, lang))
