"""The recommendation as data (`--json`), Markdown and a self-contained printable HTML page."""

from __future__ import annotations

import re
from typing import Any

from sovstack import __version__
from sovstack.catalog import CRITERIA, Catalog
from sovstack.paths import templates_dir
from sovstack.recommend.decide import Candidate, Exclusion, Recommendation
from sovstack.recommend.messages import Names, say

# Reasons that quote the catalog's English justifications or show score arithmetic and ids: they
# belong in the details section, never in the plain-words recommendation.
DETAIL_ONLY = frozenset({"pick_best", "pick_over", "hosted_free", "hosted_price"})
BONUS = re.compile(r" \([+-]\d+(\.\d+)?\)")


def _candidate(c: Candidate) -> dict[str, Any]:
    return {"mode": c.mode, "tool": c.tool, "hoster": c.hoster, "total": c.total, "scores": dict(c.scores)}


def _exclusion(e: Exclusion, lang: str, names: Names | None) -> dict[str, Any]:
    return {"tool": e.tool, "hoster": e.hoster, "mode": e.mode, "why": e.why.render(lang, names)}


def short(name: str) -> str:
    """A catalog name without its trailing precision in brackets: "Prosody (XMPP)" -> "Prosody"."""
    return re.sub(r"\s*\(.*\)$", "", name) or name


def names_for(catalog: Catalog) -> Names:
    """Catalog ids inside reasons, shown as the names the group knows, in the reader's language."""
    from sovstack.recommend.wording import REPORT_TEXT

    def name(value: str) -> str:
        if value in catalog.tools:
            return short(catalog.tools[value].name)
        if value in catalog.hosters:
            return short(catalog.hosters[value].name)
        return value

    def names(key: str, value: Any, lang: str) -> Any:
        if not isinstance(value, str):
            return value
        if key == "need" and value in catalog.criteria.needs:
            label = catalog.criteria.needs[value].label.get(lang)
            return label[:1].lower() + label[1:]
        if key == "criterion" and value in catalog.criteria.criteria:
            return catalog.criteria.criteria[value].get(lang).split(" — ")[0].lower()
        if key in ("tool", "server", "runner_up", "identity", "hoster"):
            return name(value)
        if key == "chosen":
            return REPORT_TEXT[lang]["mode"]["keep"].lower() if value == "keep" else name(value)
        if key == "tools":
            return ", ".join(name(t) for t in value.split(", "))
        if key == "needs":  # several needs sharing one account (decide.account_split)
            return ", ".join(catalog.criteria.needs[n].label.get(lang) for n in value.split(", "))
        return value

    return names


def to_data(rec: Recommendation, lang: str = "en", catalog: Catalog | None = None) -> dict[str, Any]:
    """The recommendation as plain data: the `--json` contract (with `catalog`, ids in reasons read as names)."""
    names = names_for(catalog) if catalog is not None else None
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
            "reasons": [r.render(lang, names) for r in o.reasons],
            "runner_up": alternatives[0] if alternatives else None,
            "alternatives": alternatives,
            "companions": list(o.companions),
            "excluded": [_exclusion(e, lang, names) for e in o.excluded],
        }
    identity = None
    if rec.identity:
        i = rec.identity
        identity = {
            "mode": "self-host", "tool": i.tool.id, "reasons": [r.render(lang, names) for r in i.reasons],
            "connected": i.connected,
            "unconnected": [{"tool": t, "why": why.render(lang, names)} for t, why in i.unconnected],
            "alternatives": i.alternatives, "excluded": [_exclusion(e, lang, names) for e in i.excluded],
        }
    own_accounts = None
    if rec.own_accounts:
        o = rec.own_accounts
        own_accounts = {"tools": o.tools, "reasons": [r.render(lang, names) for r in o.reasons],
                        "excluded": [_exclusion(e, lang, names) for e in o.excluded]}
    t = rec.totals
    return {
        "split": _split(rec, lang, names),
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
            # an offer without a known price is never counted as €0, so the fit is not known
            "fits_known": t.fits and not t.unpriced,
            "budget_room_eur": round(rec.answers.budget_eur_month - t.monthly_eur, 2) if t.unpriced else None,
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
    from sovstack.recommend.wording import money, proof_words

    t = TEXT[lang]
    names = names_for(catalog)
    data = to_data(rec, lang, catalog)

    def tool_name(tool_id: str | None) -> str:
        return catalog.tools[tool_id].name if tool_id in catalog.tools else (tool_id or "")

    def hoster_name(hoster_id: str | None) -> str:
        return catalog.hosters[hoster_id].name if hoster_id in catalog.hosters else (hoster_id or "")

    def option(entry: dict[str, Any]) -> str:
        """The full name, for the details: hoster and the software behind it."""
        if entry.get("hoster"):
            behind = f" ({tool_name(entry['tool'])})" if entry.get("tool") else ""
            return hoster_name(entry["hoster"]) + behind
        return tool_name(entry.get("tool"))

    lead = {need: _plain(rec, catalog, need, lang, names) for need in rec.outcomes}
    identity = None
    if rec.identity:
        identity = {"name": short(rec.identity.tool.name),
                    "proof": proof_words(rec.identity.tool, lang),
                    "reasons": [r.render(lang, names) for r in rec.identity.reasons],
                    "unconnected": [(short(catalog.tools[tid].name), why.render(lang, names))
                                    for tid, why in rec.identity.unconnected]}
    return {
        "data": data,
        "t": t,
        "lang": lang,
        "money": lambda amount: money(amount, lang),
        "en_note": t["in_english"] if lang != "en" else "",  # the details quote the catalog, in English only
        "lead": lead,
        "lead_identity": identity,
        "has_hosted": any(o.mode == "hosted" for o in rec.outcomes.values()),
        "hoster_asks": hoster_asks(rec, catalog, lang),
        "moving_in": moving_in(rec, catalog, lang),
        "network": network(rec, catalog, lang),
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


def _plain(rec: Recommendation, catalog: Catalog, need: str, lang: str, names: Names) -> dict[str, Any]:
    """One need in plain words: what to use, how to get it, what it costs, what members will notice."""
    from sovstack.recommend.wording import REPORT_TEXT, money, proof_words

    t = REPORT_TEXT[lang]
    outcome = rec.outcomes[need]
    pick = outcome.pick
    # the bonus points ("(+1)") are score arithmetic: the details show them, the plain words do not
    why = [BONUS.sub("", r.render(lang, names)) for r in outcome.reasons if r.key not in DETAIL_ONLY]
    if pick is None:
        return {"name": t["mode"]["keep"], "what": "", "obtain": t["get_keep"], "cost": "", "notice": t["notice_keep"],
                "why": why, "proof": None}
    tool = catalog.tools.get(pick.tool) if pick.tool else None
    if pick.mode == "self-host":
        identity = rec.identity
        if need == "video":
            notice = t["notice_video"]
        elif need == "analytics":
            notice = t["notice_no_account"]
        elif identity and (pick.tool in identity.connected or pick.tool in identity.through):
            notice = t["notice_identity"].format(identity=short(identity.tool.name))
        elif tool.sso.via:  # an app used from inside its base tool, with the base's account
            notice = t["notice_via"].format(tool=short(catalog.tools[tool.sso.via].name))
        else:
            notice = t["notice_own_account"]
        return {"name": f"{short(tool.name)}, {t['on_your_server']}", "what": tool.description.get(lang),
                "obtain": t["get_self"], "cost": t["cost_self"], "notice": notice, "why": why,
                "proof": proof_words(tool, lang)}
    hoster = catalog.hosters[pick.hoster]
    service = service_name(rec, catalog, need)
    host = short(hoster.name)
    if not pick.priced:
        cost = t["cost_unpriced"].format(hoster=host)
    elif pick.hosted_eur == 0:
        cost = t["cost_free"]
    else:
        cost = t["cost_price"].format(price=money(pick.hosted_eur, lang))
    if need in ("video", "analytics"):
        notice = t["notice_video"] if need == "video" else t["notice_no_account"]
    elif need == "polls" and tool is not None and not tool.sso.free():  # polls with no accounts at all (Framadate)
        notice = t["notice_poll"]
    elif hoster.single_account:
        notice = t["notice_shared_hoster"].format(hoster=host)
    else:
        notice = t["notice_separate_hoster"].format(hoster=host)
    return {"name": f"{service}, {t['by']} {host}",
            "what": (tool.description if tool else hoster.description).get(lang),
            "obtain": t["get_hosted"].format(hoster=host, url=hoster.url), "cost": cost, "notice": notice, "why": why,
            "proof": None}  # the hoster runs it: sovstack's deployment does not come into it


def service_name(rec: Recommendation, catalog: Catalog, need: str) -> str:
    """What members will call the chosen service: the tool's short name, or the hoster's name for its offer."""
    pick = rec.outcomes[need].pick
    tool = catalog.tools.get(pick.tool) if pick and pick.tool else None
    if pick is None or pick.mode == "self-host":
        return short(tool.name) if tool else ""
    hoster = catalog.hosters[pick.hoster]
    offer = hoster.offer_for(need, pick.tool)
    return (offer.name if offer and offer.name else short(tool.name) if tool
            else short(offer.software or "") if offer else "") or short(hoster.name)


def moving_in(rec: Recommendation, catalog: Catalog, lang: str) -> dict[str, Any] | None:
    """The transition plan: each need that moves (self-hosted or hosted, never kept), in the catalog's
    moving-in order, with its steps and what members notice, what to ask its hoster, each member's
    checklist and what stays behind. None when nothing moves."""
    from sovstack.recommend.wording import REPORT_TEXT

    t = REPORT_TEXT[lang]
    order = [n for n in catalog.criteria.moving_in_order if n in rec.outcomes]
    moving = [n for n in order if rec.outcomes[n].mode != "keep" and rec.outcomes[n].pick is not None]
    if not moving:
        return None
    files = service_name(rec, catalog, "files") if "files" in moving else t["move_files"]
    needs, checklist, stays, grants = [], [], [], False
    for need in moving:
        info = catalog.criteria.needs[need].moving_in
        outcome = rec.outcomes[need]
        label = catalog.criteria.needs[need].label.get(lang)
        service = service_name(rec, catalog, need)

        def fill(text: Any, service: str = service) -> str:
            return text.get(lang).format(service=service, files=files)

        ask = None
        if outcome.mode == "hosted":
            ask = t["move_ask"].format(hoster=short(catalog.hosters[outcome.pick.hoster].name)) + t["colon"] \
                + fill(info.ask_hoster) + "."
        needs.append({"need": need, "label": label, "service": service, "ask": ask,
                      "steps": [{"do": fill(s.do), "notice": fill(s.notice)} for s in info.steps
                                if outcome.mode in s.modes]})
        checklist += [{"label": label, "text": fill(m)} for m in info.member]
        stays += [{"label": label, "text": fill(x)} for x in info.stays]
        grants = grants or info.grants
    if grants:
        checklist.append({"label": None, "text": t["move_revoke"]})
    kept = [catalog.criteria.needs[n].label.get(lang) for n in order if n not in moving]
    return {"needs": needs, "checklist": checklist, "stays": stays, "kept": kept}


def network(rec: Recommendation, catalog: Catalog, lang: str) -> dict[str, Any] | None:
    """Network mode in plain words: for each chosen need, what the hub and each partner group get (the
    catalog's group_spaces of a self-hosted tool), or that it is done by hand. None for a single group."""
    from sovstack.recommend.wording import REPORT_TEXT

    groups = rec.answers.partner_groups
    if not groups:
        return None
    t = REPORT_TEXT[lang]
    needs = []
    for need, outcome in rec.outcomes.items():
        if outcome.pick is None:
            continue
        tool = catalog.tools.get(outcome.pick.tool) if outcome.pick.tool else None
        spaces = tool.deploy.group_spaces if outcome.pick.mode == "self-host" and tool and tool.deploy else None
        entry = {"label": catalog.criteria.needs[need].label.get(lang), "service": service_name(rec, catalog, need),
                 "spaces": [], "by_hand": None}
        if spaces:
            entry["spaces"] = [(t["net_each"], spaces.each_group.get(lang)), (t["net_hub"], spaces.hub.get(lang)),
                               (t["net_archived"], spaces.archived.get(lang))]
        else:
            entry["by_hand"] = t["net_by_hand"]
        needs.append(entry)
    return {"intro": t["net_intro"].format(groups=groups), "needs": needs, "how": t["net_how"]}


def hoster_asks(rec: Recommendation, catalog: Catalog, lang: str) -> list[dict[str, Any]]:
    """Next steps, per hoster to contact: what to ask it, from its offers' facts (accounts, price, mail
    on your domain, the SMTP settings your own tools need when the catalog has not sourced them)."""
    from sovstack.recommend.wording import REPORT_TEXT

    t = REPORT_TEXT[lang]
    members = rec.answers.members
    self_hosting = bool(rec.totals.self_hosted_tools)
    found: dict[str, dict[str, Any]] = {}
    for need, outcome in rec.outcomes.items():
        if outcome.mode != "hosted" or not outcome.pick or outcome.pick.hoster not in catalog.hosters:
            continue
        hoster = catalog.hosters[outcome.pick.hoster]
        offer = hoster.offer_for(need, outcome.pick.tool)
        entry = found.setdefault(hoster.id, {"hoster": short(hoster.name), "url": hoster.url, "needs": [],
                                              "open": [], "asks": []})
        label = catalog.criteria.needs[need].label.get(lang)
        # video rooms, statistics and account-free polls need no member account (as the plain-words notice says)
        accountless_poll = need == "polls" and offer is not None and offer.tool in catalog.tools \
            and not catalog.tools[offer.tool].sso.free()
        entry["needs" if need not in ("video", "analytics") and not accountless_poll else "open"].append(label)
        if need == "email" and offer is not None:
            if offer.own_domain is None:
                entry["asks"].append(t["ask_own_domain"])
            elif offer.own_domain:
                entry["asks"].append(t["ask_mail_records"])
            if self_hosting and offer.smtp is None:
                entry["asks"].append(t["ask_smtp"])
    for hoster_id, entry in found.items():
        hoster = catalog.hosters[hoster_id]
        needs, open_ = ", ".join(entry.pop("needs")), ", ".join(entry.pop("open"))
        key = "ask_accounts_shared" if hoster.single_account else "ask_accounts"
        first = [t[key].format(members=members, needs=needs)] if needs else []
        if not hoster.price.known:
            first.append(t["ask_price"].format(members=members))
        entry["asks"][:0] = first
        if not entry["asks"]:
            entry["asks"] = [t["ask_nothing"].format(needs=open_)]
    return list(found.values())


def _split(rec: Recommendation, lang: str, names: Names | None) -> list[str] | None:
    """sso_required not kept: one line per account members get, naming its needs and why."""
    if rec.split is None:
        return None
    return [say("split_group", needs=", ".join(needs), account=why).render(lang, names)
            for needs, why in rec.split.groups]


def template_context(rec: Recommendation, catalog: Catalog, lang: str = "en") -> dict[str, Any]:
    """What the report templates are rendered with; the web result page includes report_body.html.j2 with it."""
    return _context(rec, catalog, lang)


def render_markdown(rec: Recommendation, catalog: Catalog, lang: str = "en") -> str:
    return _environment().get_template("report.md.j2").render(**_context(rec, catalog, lang))


def render_html(rec: Recommendation, catalog: Catalog, lang: str = "en") -> str:
    return _environment().get_template("report.html.j2").render(**_context(rec, catalog, lang))
