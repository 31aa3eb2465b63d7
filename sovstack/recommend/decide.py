"""The decision: a pure, deterministic function of (answers, catalog).

For every requested need exactly one outcome: `self-host` a tool, use a `hosted` offer, or `keep`
what the association has. Each outcome carries the four scores behind it, the ranked alternatives,
and every candidate that was excluded with the reason. Then the self-hosted part is made to fit the
server and the budget together, and an identity tool is chosen when members should share one account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from sovstack.catalog import (
    CRITERIA,
    NEEDS,
    Catalog,
    EndOfLife,
    Hoster,
    Offer,
    Tool,
    deployable,
    has_member_login,
    login_base,
    login_order,
    login_route,
    manages_members,
    with_requirements,
)
from sovstack.recommend.answers import Answers
from sovstack.recommend.messages import Reason, say

SELF_HOST, HOSTED, KEEP = "self-host", "hosted", "keep"


@dataclass(frozen=True)
class Candidate:
    mode: str  # self-host | hosted
    tool: str | None
    hoster: str | None
    scores: dict[str, int]
    score_reasons: dict[str, str]
    total: float
    notes: tuple[Reason, ...] = ()  # caveats and bonuses that belong with this candidate
    hosted_eur: float = 0.0  # the hoster's monthly price (0 when free or unknown)
    priced: bool = True
    end_of_life: EndOfLife | None = None  # runs end-of-life software: ranked after every other option
    software: str | None = None  # a hosted offer's software when it is not a catalog tool (e.g. Disroot mail)

    @property
    def key(self) -> str:
        return f"{self.mode}:{self.hoster or self.tool}"


@dataclass(frozen=True)
class Exclusion:
    tool: str | None
    hoster: str | None
    mode: str
    why: Reason


@dataclass
class Outcome:
    need: str
    mode: str
    pick: Candidate | None
    ranked: list[Candidate]  # feasible candidates, best first (the pick is among them unless keep)
    excluded: list[Exclusion]
    reasons: list[Reason] = field(default_factory=list)
    companions: list[str] = field(default_factory=list)

    @property
    def alternatives(self) -> list[Candidate]:
        return [c for c in self.ranked if c != self.pick]


@dataclass
class Identity:
    tool: Tool
    reasons: list[Reason]
    connected: list[str]
    unconnected: list[tuple[str, Reason]]
    alternatives: list[str]
    excluded: list[Exclusion]
    through: list[str] = field(default_factory=list)  # apps connected through a connected base (sso.via)


@dataclass
class AccountSplit:
    """`sso_required` that these picks cannot keep: members get several accounts. Each group of needs
    shares one account; each says which account it is and why it is not the others'."""

    groups: list[tuple[list[str], Reason]]


@dataclass
class OwnAccounts:
    """No identity tool: each self-hosted tool keeps its own accounts, and why."""

    tools: list[str]  # the self-hosted tools members log in to, each with its own accounts
    reasons: list[Reason]
    excluded: list[Exclusion]  # the identity tools considered, each with why it was not taken


@dataclass
class Totals:
    ram_mb: int
    ram_mb_min: int
    disk_gb: int
    server: dict[str, Any] | None  # the size that fits, or the association's own server
    server_eur: float
    hosted_eur: float
    monthly_eur: float
    unpriced: list[str]
    self_hosted_tools: list[str]
    fits: bool


@dataclass
class Recommendation:
    answers: Answers
    outcomes: dict[str, Outcome]
    identity: Identity | None
    totals: Totals
    own_accounts: OwnAccounts | None = None
    split: AccountSplit | None = None  # sso_required not kept: who has which account, and why


# ---------------------------------------------------------------------------------------------
# Per-candidate hard limits and scores.

class _Context:
    """What every candidate is judged against, computed once per decision."""

    def __init__(self, answers: Answers, catalog: Catalog):
        self.answers = answers
        self.catalog = catalog
        self.criteria = catalog.criteria
        self.members: int = answers.members
        self.budget: float = answers.budget_eur_month
        self.server_ram: int | None = answers.server_ram_mb
        self.techie: str = answers.techie
        self.capacity = self.criteria.techie_capacity[self.techie]
        weights = dict(self.criteria.weights)
        priority = answers.priority
        if priority in weights:
            weights[priority] += self.criteria.priority_bonus
        self.weights = weights
        self.priority = priority
        self.preference = answers.hosting_preference

    # --- resources -----------------------------------------------------------------------------
    def with_requirements(self, tool_ids: list[str]) -> list[str]:
        """The tools plus everything they require, without repeats, in a stable order (init drafts the same)."""
        return with_requirements(self.catalog, tool_ids)

    def ram(self, tool_ids: list[str], kind: str = "recommended") -> int:
        base = getattr(self.criteria.base.ram_mb, kind)
        return int(base + sum(getattr(self.catalog.tools[t].resources.ram_mb, kind) for t in tool_ids))

    def disk(self, tool_ids: list[str]) -> int:
        base = self.criteria.base.disk_gb.recommended
        # Network mode: the partner groups' spaces, once there is a server to hold them.
        groups = self.answers.partner_groups * self.criteria.network_disk_gb_per_group if tool_ids else 0
        return int(math.ceil(base + groups + sum(self.catalog.tools[t].resources.disk_gb.recommended
                                                 for t in tool_ids)))

    def server_for(self, ram_mb: int, disk_gb: int) -> dict[str, Any]:
        """The smallest listed server that fits, or several of the largest when none does."""
        for size in self.criteria.server_sizes:
            if size.ram_mb >= ram_mb and size.disk_gb >= disk_gb:
                return {"ram_mb": size.ram_mb, "disk_gb": size.disk_gb, "eur_month": size.eur_month,
                        "example": size.example, "count": 1}
        largest = self.criteria.server_sizes[-1]
        count = max(math.ceil(ram_mb / largest.ram_mb), math.ceil(disk_gb / largest.disk_gb))
        return {"ram_mb": largest.ram_mb, "disk_gb": largest.disk_gb,
                "eur_month": round(largest.eur_month * count, 2), "example": largest.example, "count": count}

    def affordable_ram(self, eur: float) -> int:
        """The most RAM the listed server sizes give for this monthly amount (0 if none)."""
        sizes = [s for s in self.criteria.server_sizes if s.eur_month <= eur]
        largest = self.criteria.server_sizes[-1]
        if eur >= 2 * largest.eur_month:
            return largest.ram_mb * int(eur // largest.eur_month)
        return sizes[-1].ram_mb if sizes else 0

    # --- scores ----------------------------------------------------------------------------------
    def weighted(self, scores: dict[str, int]) -> float:
        return round(sum(self.weights[c] * scores[c] for c in CRITERIA), 2)

    def preference_bonus(self, mode: str) -> tuple[float, list[Reason]]:
        wanted = {"own-server": SELF_HOST, "trusted-hoster": HOSTED}.get(self.preference)
        bonus = self.criteria.preference_bonus
        if wanted is None and self.priority == "sovereignty" and mode == SELF_HOST:
            # "Control over our data" with no say on where: the data under the group's control is on its own
            # server (a hoster's sovereignty is at most 4, SCORING.md). A weight of 2 on that one point
            # rarely outweighs a free hoster's cost and onboarding, so it counts as the own-server preference.
            return bonus, [say("preference_sovereignty", where=say("where_own"), bonus=_num(bonus))]
        if wanted != mode:
            return 0.0, []
        where = say("where_own") if mode == SELF_HOST else say("where_hoster")
        return bonus, [say("preference", where=where, bonus=_num(bonus))]

    def familiarity_bonus(self, tool: Tool | None) -> tuple[float, list[Reason]]:
        suite = self.answers.existing_suite
        if tool is None or suite not in tool.familiar_to:
            return 0.0, []
        bonus = self.criteria.familiarity_bonus
        return bonus, [say("familiar", suite=suite.capitalize(), bonus=_num(bonus))]

    def proof_bonus(self, mode: str, tool: Tool | None) -> tuple[float, list[Reason]]:
        # Only on the group's own server does sovstack's deployment, which the tests prove, come into play.
        if mode != SELF_HOST or tool is None or tool.proof != "real":
            return 0.0, []
        bonus = self.criteria.proof_bonus
        return bonus, [say("proven", bonus=_num(bonus))]

    def network_bonus(self, mode: str, tool: Tool | None) -> tuple[float, list[Reason]]:
        # Group spaces are what sovstack's deployment sets up, so only on the group's own server.
        groups = self.answers.partner_groups
        if not groups or mode != SELF_HOST or tool is None or not tool.deploy or not tool.deploy.group_spaces:
            return 0.0, []
        bonus = self.criteria.network_bonus
        return bonus, [say("network_spaces", groups=groups, bonus=_num(bonus))]

    def bonuses(self, mode: str, tool: Tool | None) -> tuple[float, list[Reason]]:
        found = [self.preference_bonus(mode), self.familiarity_bonus(tool), self.proof_bonus(mode, tool),
                 self.network_bonus(mode, tool)]
        return sum(b for b, _ in found), [n for _, notes in found for n in notes]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _sso_detail(tool: Tool) -> Reason:
    if tool.sso.paid_only:
        return say("paid", protocols="/".join(p.upper() for p in tool.sso.paid_only))
    return say("none_at_all")


def _content_limits(ctx: _Context, need: str, e2ee: str, e2ee_note: str | None,
                    tool: Tool | None) -> tuple[Reason | None, list[Reason], float]:
    """E2EE and office-format requirements, the same for a tool on your server or at a hoster.

    Returns why it is refused (or None), the caveats to show, and the score penalty.
    """
    a, notes, penalty = ctx.answers, [], 0.0
    if a.e2ee_required and ctx.criteria.needs[need].e2ee_applies:
        if e2ee == "no":
            return say("no_e2ee"), [], 0.0
        if e2ee == "partial":
            notes.append(say("e2ee_partial", note=e2ee_note or ""))
    if a.office_formats and need == "documents" and tool is not None:
        if tool.office_formats == "none":
            return say("no_office"), [], 0.0
        if tool.office_formats == "convert":
            penalty = ctx.criteria.office_convert_penalty
            notes.append(say("office_convert", penalty=_num(penalty)))
    return None, notes, penalty


def judge_self_host(ctx: _Context, tool: Tool, need: str) -> Candidate | Exclusion:
    """A self-hosting candidate, or why it is excluded."""
    a = ctx.answers
    info = ctx.criteria.needs[need]

    def out(reason: Reason) -> Exclusion:
        return Exclusion(tool=tool.id, hoster=None, mode=SELF_HOST, why=reason)

    if not tool.self_hostable:
        return out(say("hosted_only", note=tool.maintenance.note or tool.obtain.note or tool.maintenance.status))
    if tool.maintenance.status in ("end-of-life", "archived"):
        return out(say("end_of_life", status=tool.maintenance.status, note=tool.maintenance.note or ""))
    if ctx.techie == "none":
        return out(say("no_techie"))
    refused = _not_deployed(ctx, [tool.id])  # init's own rule: a pick is always drafted into sovstack.yml
    if refused:
        return out(refused)
    mail_server = _required_mail_server(ctx, tool)
    if mail_server and "email" not in a.needs:  # the domain's mail stays elsewhere: no mail server of ours
        return out(say("mail_server_elsewhere", server=ctx.catalog.tools[mail_server].name,
                       email=say("mail_server_elsewhere_kept")))
    if tool.admin_difficulty.value > ctx.capacity:
        return out(say("too_hard", difficulty=tool.admin_difficulty.value, why=tool.admin_difficulty.reason))
    uncapped = _uncapped_hosts(ctx, tool.id)
    if tool.limits.user_cap is not None and ctx.members > tool.limits.user_cap:
        if uncapped:  # the same software is still within reach, and the group should hear where
            return out(say("user_cap_hosted", cap=tool.limits.user_cap, members=ctx.members, **uncapped[0]))
        return out(say("user_cap", cap=tool.limits.user_cap, members=ctx.members))
    if a.sso_required and info.sso_applies and not tool.sso.free():
        return out(say("no_free_sso", detail=_sso_detail(tool)))
    refused, notes, penalty = _content_limits(ctx, need, tool.e2ee.value, tool.e2ee.note, tool)
    if refused:
        return out(refused)
    if tool.webmail is False and not _webmail_addons(ctx, tool):
        return out(say("no_webmail_companion"))
    stack = ctx.with_requirements([tool.id])
    ram, disk = ctx.ram(stack), ctx.disk(stack)
    if ctx.server_ram is not None:
        if ram > ctx.server_ram:
            return out(say("ram_server", need_mb=ram, have_mb=ctx.server_ram))
    else:
        price = ctx.server_for(ram, disk)["eur_month"]
        if price > ctx.budget:
            return out(say("over_budget_server", price=_num(price), budget=_num(ctx.budget)))
    if len(stack) > 1:
        notes.append(say("needs_tools", tools=", ".join(stack[1:])))
    if tool.limits.user_cap is not None:
        room = tool.limits.user_cap - ctx.members
        notes.append(say("user_cap_room_hosted", cap=tool.limits.user_cap, room=room, **uncapped[0]) if uncapped
                     else say("user_cap_room", cap=tool.limits.user_cap, room=room))
    scores = tool.scores.values()
    bonus, bonus_notes = ctx.bonuses(SELF_HOST, tool)
    return Candidate(mode=SELF_HOST, tool=tool.id, hoster=None, scores=scores,
                     score_reasons={c: getattr(tool.scores, c).reason for c in CRITERIA},
                     total=round(ctx.weighted(scores) + bonus - penalty, 2), notes=tuple(bonus_notes + notes))


def _uncapped_hosts(ctx: _Context, tool_id: str) -> list[dict[str, str]]:
    """Where this tool runs without its user cap (hosters.yml cap_lifted): the service and its hoster."""
    return [{"service": o.name or h.name, "hoster": h.id} for h in ctx.catalog.hosters.values()
            for o in h.offers if o.tool == tool_id and o.cap_lifted]


def judge_hosted(ctx: _Context, hoster: Hoster, offer: Offer, need: str) -> Candidate | Exclusion:
    a = ctx.answers
    info = ctx.criteria.needs[need]
    tool = ctx.catalog.tools.get(offer.tool) if offer.tool else None

    def out(reason: Reason) -> Exclusion:
        return Exclusion(tool=offer.tool, hoster=hoster.id, mode=HOSTED, why=reason)

    cap = hoster.eligibility.max_accounts
    if cap is not None and ctx.members > cap:
        return out(say("max_accounts", cap=cap, members=ctx.members))
    if hoster.eligibility.francophone_only and not a.francophone:
        return out(say("francophone_only"))
    notes: list[Reason] = []
    if need == "email":
        if offer.own_domain is False:
            return out(say("no_own_domain"))
        if offer.own_domain is None:
            notes.append(say("own_domain_unknown"))
    if a.sso_required and info.sso_applies and not hoster.single_account:
        return out(say("no_shared_account"))
    e2ee = offer.e2ee or (tool.e2ee.value if tool else "no")
    refused, more_notes, penalty = _content_limits(ctx, need, e2ee, tool.e2ee.note if tool else None, tool)
    if refused:
        return out(refused)
    notes += more_notes
    price = hoster.price.monthly(ctx.members)
    if price is not None and price > ctx.budget:
        return out(say("over_budget_hosted", price=_num(price), budget=_num(ctx.budget)))
    if price is None:
        notes.append(say("hosted_unpriced", note=hoster.price.note or ""))
    elif price == 0:
        notes.append(say("hosted_free"))
    else:
        notes.append(say("hosted_price", price=_num(price)))
    if not hoster.libre:
        notes.append(say("not_libre"))
    if hoster.eligibility.non_commercial_only:
        notes.append(say("non_commercial", note=hoster.eligibility.note or ""))
    if offer.cap_lifted and tool is not None:
        notes.append(say("cap_lifted", tool=tool.id, cap=tool.limits.user_cap))
    feature = offer.features or (tool.scores.features if tool else hoster.scores.features)
    onboarding = offer.onboarding or hoster.scores.onboarding  # the offer's own when its accounts differ
    scores = {"sovereignty": hoster.scores.sovereignty.value, "cost": hoster.scores.cost.value,
              "onboarding": onboarding.value, "features": feature.value}
    reasons = {"sovereignty": hoster.scores.sovereignty.reason, "cost": hoster.scores.cost.reason,
               "onboarding": onboarding.reason, "features": feature.reason}
    bonus, bonus_notes = ctx.bonuses(HOSTED, tool)
    return Candidate(mode=HOSTED, tool=offer.tool, hoster=hoster.id, scores=scores, score_reasons=reasons,
                     total=round(ctx.weighted(scores) + bonus - penalty, 2), notes=tuple(bonus_notes + notes),
                     hosted_eur=price or 0.0, priced=price is not None,
                     end_of_life=offer.end_of_life or (tool.end_of_life if tool else None), software=offer.software)


def _rank_key(c: Candidate) -> tuple:
    # End-of-life software after every other option, whatever its scores: it is taken only when nothing
    # else is left (on its own or in the fit of the whole stack), and the outcome then says so.
    # Then higher total first; ties go to sovereignty, then the cheaper, then self-hosting, then by name.
    return (c.end_of_life is not None, -c.total, -c.scores["sovereignty"], c.hosted_eur, c.mode != SELF_HOST, c.key)


def _eol_values(c: Candidate, ctx: _Context) -> dict[str, str]:
    eol = c.end_of_life  # its note (catalog English) is shown with the facts, not in these sentences
    software = ctx.catalog.tools[c.tool].name if c.tool else c.hoster
    return {"software": software, "since": eol.since.isoformat()}


def candidates_for(ctx: _Context, need: str) -> tuple[list[Candidate], list[Exclusion]]:
    ranked: list[Candidate] = []
    excluded: list[Exclusion] = []
    for tool in ctx.catalog.tools_by_category[need]:
        if tool.role == "addon":
            continue  # offered alongside the tools it completes, never on its own
        verdict = judge_self_host(ctx, tool, need)
        (ranked if isinstance(verdict, Candidate) else excluded).append(verdict)
    for hoster in sorted(ctx.catalog.hosters.values(), key=lambda h: h.id):
        for offer in hoster.offers:
            if offer.need == need:
                verdict = judge_hosted(ctx, hoster, offer, need)
                (ranked if isinstance(verdict, Candidate) else excluded).append(verdict)
    ranked.sort(key=_rank_key)
    return ranked, excluded


# ---------------------------------------------------------------------------------------------
# Companions (webmail) and identity, derived from the picks.

def _not_deployed(ctx: _Context, tool_ids: list[str]) -> Reason | None:
    """Why sovstack would not deploy these tools with everything they require (init's own rule), or None."""
    for tid in ctx.with_requirements(tool_ids):
        ok, why = deployable(ctx.catalog.tools[tid])
        if not ok:
            name = ctx.catalog.tools[tid].name
            return say("not_deployed", why=why) if tid in tool_ids else \
                say("not_deployed_needs", tool=name, why=why)
    return None


def _webmail_addons(ctx: _Context, tool: Tool) -> list[Tool]:
    """The webmails sovstack can add to a mail server that has none, best first."""
    addons = [t for t in ctx.catalog.tools.values() if t.role == "addon" and tool.id in t.addon_for]
    usable = [t for t in addons if t.admin_difficulty.value <= ctx.capacity
              and t.maintenance.status not in ("end-of-life", "archived") and _not_deployed(ctx, [t.id]) is None]
    return sorted(usable, key=lambda t: (-ctx.weighted(t.scores.values()), t.id))


def _companions(ctx: _Context, pick: Candidate) -> list[str]:
    if pick.mode != SELF_HOST:
        return []
    tool = ctx.catalog.tools[pick.tool]
    if tool.webmail is not False:
        return []
    usable = _webmail_addons(ctx, tool)
    return [usable[0].id] if usable else []


def _providers(ctx: _Context, identity: Tool) -> list[str]:
    """The identity tools render wires the others to when this one is deployed (wiring/identity.py
    `providers`: it and those it requires, the directory first; LemonLDAP::NG brings OpenLDAP)."""
    return login_order(ctx.catalog, [t for t in ctx.with_requirements([identity.id])
                                     if "identity" in ctx.catalog.tools[t].categories])


def _connects(ctx: _Context, providers: list[str], tool_id: str) -> str | None:
    """The protocol render connects `tool_id` with (catalog.login_route, the wiring's rule), or None."""
    return login_route(ctx.catalog, providers, tool_id)[0]


def member_tools(ctx: _Context, stack_tools: list[str]) -> list[str]:
    """The stack's tools that members log in to themselves (what an identity tool could connect)."""
    return [t for t in stack_tools if has_member_login(ctx.catalog.tools[t])]


def _through(ctx: _Context, stack_tools: list[str], bases: list[str]) -> list[Reason]:
    """The apps that open from one of `bases` and use its login (sso.via, add-ons): one line per base."""
    lines = []
    for base in bases:
        apps = [t for t in stack_tools if t != base and login_base(ctx.catalog, t, stack_tools) == base]
        if apps:
            lines.append(say("login_through", tools=", ".join(apps), tool=base))
    return lines


def _identity_options(ctx: _Context, stack_tools: list[str]) -> tuple[list[tuple[Tool, list[str]]], list[Exclusion]]:
    """The identity tools that can hold the members of this stack, best first, each with the tools it
    connects, and the others with why not.

    A candidate is deployed by sovstack, its members are managed by `sovstack members`, and it connects
    at least two of the stack's tools by the wiring's own rule (catalog.login_route), so every
    "connects" the report makes is a wire render sets up.
    """
    members = member_tools(ctx, stack_tools)
    options: list[tuple[int, float, str, Tool, list[str]]] = []
    excluded: list[Exclusion] = []

    def out(tool: Tool, reason: Reason) -> None:
        excluded.append(Exclusion(tool.id, None, SELF_HOST, reason))

    for tool in ctx.catalog.tools_by_category["identity"]:
        refused = _not_deployed(ctx, [tool.id])
        if refused:
            out(tool, refused)
            continue
        if tool.maintenance.status in ("end-of-life", "archived"):
            out(tool, say("end_of_life", status=tool.maintenance.status, note=tool.maintenance.note or ""))
            continue
        if tool.admin_difficulty.value > ctx.capacity:
            out(tool, say("too_hard", difficulty=tool.admin_difficulty.value, why=tool.admin_difficulty.reason))
            continue
        providers = _providers(ctx, tool)
        if not manages_members(ctx.catalog, providers[0]):
            out(tool, say("members_unmanaged"))
            continue
        connected = [t for t in members if _connects(ctx, providers, t)]
        # In network mode one tool with group spaces is enough: the groups themselves live in the directory.
        if len(connected) < 2 and not (connected and _network_spaces(ctx, connected)):
            out(tool, say("identity_connects_few", count=len(connected), tools=", ".join(connected) or "-"))
            continue
        # A portal over a directory (LemonLDAP::NG over OpenLDAP) is worth its weight only when it connects a
        # tool the directory alone does not (the wiring takes LDAP first: catalog.login_route).
        if len(providers) > 1 and connected == [t for t in members if _connects(ctx, providers[:1], t)]:
            out(tool, say("portal_adds_nothing", directory=providers[0]))
            continue
        options.append((len(connected), ctx.weighted(tool.scores.values()), tool.id, tool, connected))
    options.sort(key=lambda o: (-o[0], -o[1], o[2]))
    return [(o[3], o[4]) for o in options], excluded


def _network_spaces(ctx: _Context, tools: list[str]) -> list[str]:
    """In network mode, the tools among `tools` that give groups spaces (they need the directory's groups)."""
    if not ctx.answers.partner_groups:
        return []
    return [t for t in tools if ctx.catalog.tools[t].deploy and ctx.catalog.tools[t].deploy.group_spaces]


def choose_identity(ctx: _Context, stack_tools: list[str], rank: int = 0) -> Identity | None:
    """An identity tool for the self-hosted tools, when one can connect at least two of them."""
    options, excluded = _identity_options(ctx, stack_tools)
    if rank:  # a lighter option was needed to fit; the better ones are explained as not fitting
        for tool, _ in options[:rank]:
            excluded.append(Exclusion(tool.id, None, SELF_HOST, say("identity_heavy")))
        options = options[rank:]
    if not options:
        return None
    best, connected = options[0]
    providers = _providers(ctx, best)
    why = [say("identity_why_sso")] if ctx.answers.sso_required else \
        [say("identity_why_many", count=len(connected))] if len(connected) > 1 else []
    if _network_spaces(ctx, connected):
        why.append(say("identity_why_network"))
    used = sorted({_connects(ctx, providers, t) for t in connected})
    unconnected = [(t, _unconnected(ctx, providers[0], t)) for t in member_tools(ctx, stack_tools) if t not in connected]
    reasons = why + [say("identity_covers", tools=", ".join(connected), protocols="/".join(p.upper() for p in used))]
    reasons += _through(ctx, stack_tools, connected)
    through = [t for t in stack_tools if t not in connected and login_base(ctx.catalog, t, stack_tools) in connected]
    for tool, theirs in options[1:]:
        if len(theirs) < len(connected):
            missing = [t for t in connected if t not in theirs]
            excluded.append(Exclusion(tool.id, None, SELF_HOST, say("identity_misses", tools=", ".join(missing))))
    alternatives = [tool.id for tool, theirs in options[1:] if len(theirs) == len(connected)]
    return Identity(tool=best, reasons=reasons, connected=connected, unconnected=unconnected,
                    alternatives=alternatives, excluded=excluded, through=through)


def _unconnected(ctx: _Context, provider: str, tool_id: str) -> Reason:
    """Why render does not wire this tool to the identity tool, in the report's words."""
    tool, by = ctx.catalog.tools[tool_id], ctx.catalog.tools[provider]
    theirs = set(tool.sso.free())
    if not theirs:
        return say("unconnected_no_sso")
    ours = {p for p in by.identity_provides if p in theirs}
    if not ours:
        return say("unconnected_protocols", theirs="/".join(sorted(p.upper() for p in theirs)),
                   ours="/".join(sorted(p.upper() for p in by.identity_provides)))
    return say("unconnected_not_wired", protocols="/".join(sorted(p.upper() for p in ours)))


def own_accounts(ctx: _Context, stack_tools: list[str], identity: Identity | None) -> OwnAccounts | None:
    """When no identity tool is taken, each tool keeps its own accounts: the report says so, and why."""
    members = member_tools(ctx, stack_tools)
    if identity is not None or not members:
        return None
    _, excluded = _identity_options(ctx, stack_tools)
    reasons = [say("own_accounts", tools=", ".join(members))] + _through(ctx, stack_tools, members)
    if ctx.answers.sso_required:
        reasons.append(say("own_accounts_sso"))
    return OwnAccounts(tools=members, reasons=reasons, excluded=excluded)


# ---------------------------------------------------------------------------------------------
# Putting the picks together: totals and the fit of the whole stack.

@dataclass
class _State:
    picks: dict[str, Candidate | None]  # None = keep
    identity_rank: int = 0  # which identity option to use, best first; raised when the best does not fit

    def self_hosted(self) -> list[str]:
        return [c.tool for c in self.picks.values() if c is not None and c.mode == SELF_HOST]


def _assemble(ctx: _Context, state: _State) -> tuple[list[str], dict[str, list[str]], Identity | None]:
    companions = {n: _companions(ctx, c) for n, c in state.picks.items() if c is not None}
    main = state.self_hosted()
    identity = choose_identity(ctx, ctx.with_requirements(main), state.identity_rank) if main else None
    tools = main + [t for ts in companions.values() for t in ts]
    if identity:
        tools.append(identity.tool.id)
    return ctx.with_requirements(tools), companions, identity


def _totals(ctx: _Context, state: _State, tools: list[str]) -> Totals:
    hosted: dict[str, Candidate] = {}
    for c in state.picks.values():
        if c is not None and c.mode == HOSTED:
            hosted.setdefault(c.hoster, c)  # one subscription per hoster, whatever it covers
    hosted_eur = round(sum(c.hosted_eur for c in hosted.values()), 2)
    unpriced = sorted(h for h, c in hosted.items() if not c.priced)
    if tools:
        ram, ram_min, disk = ctx.ram(tools), ctx.ram(tools, "min"), ctx.disk(tools)
        if ctx.server_ram is not None:
            server = {"ram_mb": ctx.server_ram, "disk_gb": None, "eur_month": 0.0, "example": None,
                      "count": 1, "own": True}
            fits = ram <= ctx.server_ram
        else:
            server = {**ctx.server_for(ram, disk), "own": False}
            fits = True
        server_eur = server["eur_month"]
    else:
        ram = ram_min = disk = 0
        server, server_eur, fits = None, 0.0, True
    monthly = round(server_eur + hosted_eur, 2)
    fits = fits and monthly <= ctx.budget
    return Totals(ram_mb=ram, ram_mb_min=ram_min, disk_gb=disk, server=server, server_eur=server_eur,
                  hosted_eur=hosted_eur, monthly_eur=monthly, unpriced=unpriced, self_hosted_tools=tools,
                  fits=fits)


def _overshoot(ctx: _Context, totals: Totals) -> float:
    """How far the stack is from fitting, in MB of RAM (a euro over budget counts as 100 MB).

    Without a server of their own, the RAM limit is the largest server the budget left after
    hosted services can pay for, so that every MB saved counts, not just the step to a cheaper size.
    """
    hosted_over = max(0.0, totals.hosted_eur - ctx.budget)
    if not totals.self_hosted_tools:
        return 100 * hosted_over
    limit = ctx.server_ram if ctx.server_ram is not None else ctx.affordable_ram(ctx.budget - totals.hosted_eur)
    return max(0, totals.ram_mb - limit) + 100 * hosted_over


def _fit_reason(ctx: _Context, totals: Totals) -> Reason:
    """The real constraint: RAM of their own server, or what makes the rented server too dear (its
    RAM or its disk), or the budget itself (hosted services)."""
    if ctx.server_ram is not None and totals.ram_mb > ctx.server_ram:
        return say("fit_ram", need_mb=totals.ram_mb, have_mb=ctx.server_ram)
    cost, budget = _num(totals.monthly_eur), _num(ctx.budget)
    if ctx.server_ram is None and totals.server_eur > 0 and totals.monthly_eur > ctx.budget:
        by_ram = ctx.server_for(totals.ram_mb, 0)["eur_month"]
        by_disk = ctx.server_for(0, totals.disk_gb)["eur_month"]
        cheapest = ctx.criteria.server_sizes[0].eur_month
        if by_disk > max(by_ram, cheapest):
            return say("fit_disk", need_gb=totals.disk_gb, cost=cost, budget=budget)
        if by_ram > cheapest:
            return say("fit_ram_budget", need_mb=totals.ram_mb, cost=cost, budget=budget)
    return say("fit_budget", cost=cost, budget=budget)


def _stack_totals(ctx: _Context, state: _State) -> Totals:
    return _totals(ctx, state, _assemble(ctx, state)[0])


def _fits(ctx: _Context, state: _State) -> bool:
    return _stack_totals(ctx, state).fits


def _fit(ctx: _Context, ranked: dict[str, list[Candidate]], state: _State, kept: set[str]) -> None:
    """Make the whole stack fit the server and the budget: step down, then climb back where room is left."""
    _step_down(ctx, ranked, state)
    _climb_back(ctx, ranked, state, kept)


def _climb_back(ctx: _Context, ranked: dict[str, list[Candidate]], state: _State, kept: set[str]) -> None:
    """Give each need back the best option that still fits; each change only moves a pick up, so this ends."""
    changed = True
    while changed:
        changed = False
        for need in NEEDS:
            if need not in state.picks or need in kept:
                continue
            current = state.picks[need]
            better = ranked[need] if current is None else ranked[need][:ranked[need].index(current)]
            for candidate in better:
                trial = _State({**state.picks, need: candidate}, state.identity_rank)
                if _fits(ctx, trial):
                    state.picks[need] = candidate
                    changed = True
                    break
        while state.identity_rank > 0 and _fits(ctx, _State(dict(state.picks), state.identity_rank - 1)):
            state.identity_rank -= 1
            changed = True


def _step_down(ctx: _Context, ranked: dict[str, list[Candidate]], state: _State) -> None:
    """Step picks down their ranking until the stack fits.

    Each step takes the move that brings the stack closest to fitting per point of score lost;
    every step moves one need one place down (or the identity to a lighter option), so this ends.
    """
    while True:
        tools, companions, identity = _assemble(ctx, state)
        totals = _totals(ctx, state, tools)
        if totals.fits:
            return
        before = _overshoot(ctx, totals)
        moves = []  # (gain, loss, order, need or None for identity, new candidate)
        for order, need in enumerate(NEEDS):
            current = state.picks.get(need)
            if current is None or (current.mode == HOSTED and current.hosted_eur == 0):
                continue  # kept, or free: moving it cannot help
            options = ranked[need]
            index = options.index(current)
            nxt = options[index + 1] if index + 1 < len(options) else None
            trial = _State({**state.picks, need: nxt}, state.identity_rank)
            after = _overshoot(ctx, _stack_totals(ctx, trial))
            loss = current.total - (nxt.total if nxt else 0.0)
            if nxt is not None and nxt.end_of_life is not None and current.end_of_life is None:
                loss = max(loss, current.total)  # onto end-of-life software: as bad as losing the option
            moves.append((before - after, loss, order, need, nxt))
        if identity is not None:
            trial = _State(dict(state.picks), state.identity_rank + 1)
            t_tools, _, t_identity = _assemble(ctx, trial)
            if t_identity is not None or not ctx.answers.sso_required:
                after = _overshoot(ctx, _totals(ctx, trial, t_tools))
                loss = ctx.weighted(identity.tool.scores.values()) - (
                    ctx.weighted(t_identity.tool.scores.values()) if t_identity else 0.0)
                moves.append((before - after, max(loss, 0.0), len(NEEDS), None, None))
        if not moves:  # nothing left to move: everything is kept or free
            return
        helpful = [m for m in moves if m[0] > 0]
        # A lighter option (another tool, the identity tool, a paid hoster) comes before dropping a need.
        helpful = [m for m in helpful if m[3] is None or m[4] is not None] or helpful
        if helpful:  # the most fit per point of score lost
            gain, loss, _, need, nxt = min(helpful, key=lambda m: (-(m[0] / (m[1] + 0.5)), m[1], m[2]))
        else:  # no single step helps yet: take the cheapest step and look again
            gain, loss, _, need, nxt = min(moves, key=lambda m: (m[1], m[2]))
        if need is None:
            state.identity_rank += 1
        else:
            state.picks[need] = nxt


def _required_mail_server(ctx: _Context, tool: Tool) -> str | None:
    """The mail server a tool hands its mail through (Mailman: Postfix+Dovecot), or None."""
    return next((t for t in tool.requires_tools if ctx.catalog.tools[t].smtp.method == "is-mail-server"), None)


def _mail_server_mismatches(ctx: _Context, state: _State, ranked: dict[str, list[Candidate]],
                            excluded: dict[str, list[Exclusion]]) -> bool:
    """A pick that requires a mail server (Mailman beside Postfix+Dovecot) stands only when email's own pick
    is that server: a second mail server beside another, or beside mail kept elsewhere, would take the
    association's domain from it. Such picks leave the ranking, with the reason; True if any did."""
    email = state.picks.get("email")
    removed = False
    for need, pick in state.picks.items():
        if pick is None or pick.mode != SELF_HOST or need == "email":
            continue
        server = _required_mail_server(ctx, ctx.catalog.tools[pick.tool])
        if not server or (email is not None and email.mode == SELF_HOST and email.tool == server):
            continue
        where = (say("mail_server_elsewhere_kept") if email is None
                 else say("mail_server_elsewhere_other", chosen=_label(email)))
        reason = say("mail_server_elsewhere", server=ctx.catalog.tools[server].name, email=where)
        ranked[need] = [c for c in ranked[need] if c.key != pick.key]
        excluded[need].append(Exclusion(pick.tool, None, SELF_HOST, reason))
        removed = True
    return removed


def decide(answers: Answers, catalog: Catalog) -> Recommendation:
    ctx = _Context(answers, catalog)
    needs = [n for n in NEEDS if n in answers.needs]
    covered = set(answers.already_covered)
    ranked: dict[str, list[Candidate]] = {}
    excluded: dict[str, list[Exclusion]] = {}
    for need in needs:
        ranked[need], excluded[need] = candidates_for(ctx, need)
    if answers.sso_required:
        _one_account_system(ctx, [n for n in needs if n not in covered], ranked, excluded)
    # After the one-account filter: a bonus must not lift an offer that filter then removes.
    _rank_together(ctx, [n for n in needs if n not in covered], ranked)
    state = _State({n: (None if n in covered or not ranked[n] else ranked[n][0]) for n in needs})
    _fit(ctx, ranked, state, kept=covered)
    while _mail_server_mismatches(ctx, state, ranked, excluded):  # each round removes a pick: it ends
        state = _State({n: (None if n in covered or not ranked[n] else ranked[n][0]) for n in needs})
        _fit(ctx, ranked, state, kept=covered)
    tools, companions, identity = _assemble(ctx, state)
    totals = _totals(ctx, state, tools)

    outcomes: dict[str, Outcome] = {}
    for need in needs:
        pick = state.picks[need]
        lost = _did_not_fit(ctx, ranked[need], state, need) if need not in covered else []
        fit_excluded = [Exclusion(c.tool, c.hoster, c.mode,
                                  say("stack_fit", what=why, chosen=_label(pick) if pick else "keep"))
                        for c, why in lost]
        gone = {c.key for c, _ in lost}
        feasible = [c for c in ranked[need] if c.key not in gone]
        eol_excluded = []
        if pick is not None and pick.end_of_life is None:  # another option was eligible: end of life is out
            eol_excluded = [Exclusion(c.tool, c.hoster, c.mode, say("end_of_life_other", **_eol_values(c, ctx)))
                            for c in feasible if c.end_of_life is not None]
            feasible = [c for c in feasible if c.end_of_life is None]
        elif pick is not None:  # nothing else was left: taken, and said
            pick = replace(pick, notes=(say("end_of_life_only", **_eol_values(pick, ctx)),) + pick.notes)
            feasible = [pick if c.key == pick.key else c for c in feasible]
        outcome = Outcome(need=need, mode=pick.mode if pick else KEEP, pick=pick, ranked=feasible,
                          excluded=eol_excluded + fit_excluded + excluded[need], companions=companions.get(need, []))
        outcome.reasons = _explain(ctx, outcome, covered, lost)
        outcomes[need] = outcome
    return Recommendation(answers=answers, outcomes=outcomes, identity=identity, totals=totals,
                          own_accounts=own_accounts(ctx, tools, identity),
                          split=account_split(ctx, outcomes, tools, identity))


def account_of(ctx: _Context, need: str, pick: Candidate | None, stack_tools: list[str],
               identity: Identity | None) -> tuple[str, Reason] | None:
    """The account members use for a need (a key, and the account in words), or None when they need none
    (kept, or a need without member accounts: video rooms, page counts)."""
    if pick is None or not ctx.criteria.needs[need].sso_applies:
        return None
    if pick.mode == HOSTED:
        hoster = ctx.catalog.hosters[pick.hoster]
        if hoster.single_account:
            return f"hoster:{hoster.id}", say("split_hoster", hoster=hoster.id)
        return f"hoster:{hoster.id}:{need}", say("split_hoster_own", hoster=hoster.id)
    base = login_base(ctx.catalog, pick.tool, stack_tools)
    if not has_member_login(ctx.catalog.tools[base]):
        return None
    if identity is not None and base in identity.connected:
        return SELF_HOST, say("split_identity", identity=identity.tool.id)
    if identity is not None:
        return f"tool:{base}", say("split_unconnected", tool=base, identity=identity.tool.id,
                                   why=_unconnected(ctx, _providers(ctx, identity.tool)[0], base))
    return f"tool:{base}", say("split_no_identity", tool=base)


def account_split(ctx: _Context, outcomes: dict[str, Outcome], stack_tools: list[str],
                  identity: Identity | None) -> AccountSplit | None:
    """With `sso_required`, the needs grouped by the account members use for them, when that is more
    than one account (never a silent split); None when one account is kept or was not asked for."""
    if not ctx.answers.sso_required:
        return None
    groups: dict[str, tuple[list[str], Reason]] = {}
    for need, outcome in outcomes.items():
        account = account_of(ctx, need, outcome.pick, stack_tools, identity)
        if account is not None:
            groups.setdefault(account[0], ([], account[1]))[0].append(need)
    if len(groups) <= 1:
        return None
    return AccountSplit(groups=list(groups.values()))


def _did_not_fit(ctx: _Context, options: list[Candidate], state: _State, need: str) -> list[tuple[Candidate, Reason]]:
    """The options ranked above the pick, each with what taking it would have cost the stack."""
    pick = state.picks[need]
    above = options if pick is None else options[:options.index(pick)]
    lost = []
    for candidate in above:
        trial = _State({**state.picks, need: candidate}, state.identity_rank)
        totals = _stack_totals(ctx, trial)
        if not totals.fits:  # one that fits stays an option (and then a keep would not say every option was out)
            lost.append((candidate, _fit_reason(ctx, totals)))
    return lost


def _rank_together(ctx: _Context, needs: list[str], ranked: dict[str, list[Candidate]]) -> None:
    """Favour options that go with the first choices of the other needs, then rank again.

    A tool that runs inside a tool chosen for another need costs little more (Nextcloud Office
    beside Nextcloud), and a second service from the same hoster adds no new account or contract.
    """
    first = {n: ranked[n][0] for n in needs if ranked[n]}
    bonus, one_account = ctx.criteria.together_bonus, ctx.criteria.one_account_bonus
    for need in needs:
        others = {n: c for n, c in first.items() if n != need}
        tools_elsewhere = {}
        for n, c in others.items():
            if c.mode == SELF_HOST:
                for tid in ctx.with_requirements([c.tool]):
                    tools_elsewhere.setdefault(tid, n)
        # Only a hoster whose services share one account saves the members a second account.
        hosters_elsewhere: dict[str, list[str]] = {}
        for n, c in others.items():
            if c.mode == HOSTED and ctx.catalog.hosters[c.hoster].single_account:
                hosters_elsewhere.setdefault(c.hoster, []).append(n)
        updated = []
        for c in ranked[need]:
            note, gain = None, bonus
            if c.mode == SELF_HOST:
                shared = [t for t in ctx.catalog.tools[c.tool].requires_tools if t in tools_elsewhere]
                if c.tool in tools_elsewhere:  # already on the server for another need (Nextcloud under its Forms)
                    note = say("together_same", tool=c.tool, need=tools_elsewhere[c.tool], bonus=_num(bonus))
                elif shared:
                    note = say("together_tool", tool=shared[0], need=tools_elsewhere[shared[0]], bonus=_num(bonus))
            elif c.hoster in hosters_elsewhere:
                served = hosters_elsewhere[c.hoster]
                if len(served) >= 2:  # one account already holds several needs: a second sign-up costs more
                    gain = one_account
                    note = say("together_one_account", hoster=ctx.catalog.hosters[c.hoster].name,
                               tool=c.tool or c.software, needs=", ".join(served), bonus=_num(one_account))
                else:
                    note = say("together_hoster", hoster=ctx.catalog.hosters[c.hoster].name,
                               tool=c.tool or c.software, need=served[0], bonus=_num(bonus))
            updated.append(replace(c, total=round(c.total + gain, 2), notes=c.notes + (note,)) if note else c)
        ranked[need] = sorted(updated, key=_rank_key)


def _account_system(c: Candidate) -> str:
    return SELF_HOST if c.mode == SELF_HOST else c.hoster


def _one_account_system(ctx: _Context, needs: list[str], ranked: dict[str, list[Candidate]],
                        excluded: dict[str, list[Exclusion]]) -> None:
    """One account per member: keep the needs that use accounts within one account system.

    The system is your own server (behind the identity tool) or one hoster whose services share an
    account; the one chosen serves the most needs, then has the best scores.
    """
    sso_needs = [n for n in needs if ctx.criteria.needs[n].sso_applies]
    systems: dict[str, tuple[int, float]] = {}
    for need in sso_needs:
        best: dict[str, float] = {}
        for c in ranked[need]:
            if c.mode == HOSTED and not ctx.catalog.hosters[c.hoster].single_account:
                continue
            best.setdefault(_account_system(c), c.total)
        for system, total in best.items():
            count, value = systems.get(system, (0, 0.0))
            systems[system] = (count + 1, value + total)
    if not systems:
        return
    chosen = min(systems, key=lambda s: (-systems[s][0], -systems[s][1], s != SELF_HOST, s))
    where = say("account_self") if chosen == SELF_HOST else \
        say("account_hoster", hoster=ctx.catalog.hosters[chosen].name)
    for need in sso_needs:
        inside = [c for c in ranked[need] if _account_system(c) == chosen]
        if not inside:
            ranked[need] = [replace(c, notes=c.notes + (say("own_account_only", where=where),))
                            for c in ranked[need]]
            continue
        excluded[need] = [Exclusion(c.tool, c.hoster, c.mode, say("other_account_domain", where=where))
                          for c in ranked[need] if _account_system(c) != chosen] + excluded[need]
        ranked[need] = inside


def _name(ctx: _Context, e: Exclusion) -> str:
    if e.hoster:
        return ctx.catalog.hosters[e.hoster].name
    return ctx.catalog.tools[e.tool].name


def _label(c: Candidate) -> str:
    return c.hoster if c.mode == HOSTED else c.tool


def _explain(ctx: _Context, outcome: Outcome, covered: set[str], lost: list) -> list[Reason]:
    pick = outcome.pick
    if pick is None:
        if outcome.need in covered:
            return [say("keep_covered")]
        # Only when every option was excluded (on its own, or by the fit of the whole stack), and then it says so.
        # The options by name only: why each was excluded is in the exclusions (the report's details),
        # where a reason may quote the catalog's English (e.g. why sovstack does not deploy a tool).
        return [say("keep_all_excluded", what=", ".join(_name(ctx, e) for e in outcome.excluded))]
    detail = ", ".join(f"{c} {pick.scores[c]}" for c in CRITERIA)
    reasons = [say("pick_best", total=_num(pick.total), detail=detail)]
    if ctx.priority in CRITERIA:
        reasons.append(say("priority", criterion=ctx.priority))
    alternatives = outcome.alternatives
    if alternatives:
        runner = alternatives[0]
        diffs = [c for c in CRITERIA if pick.scores[c] != runner.scores[c]]
        ahead = [c for c in diffs if pick.scores[c] > runner.scores[c]]
        why = "; ".join(f"{c}: {pick.score_reasons[c].rstrip('.')}" for c in ahead or CRITERIA[:1])
        reasons.append(say("pick_over", runner_up=_label(runner), runner_total=_num(runner.total), why=why))
    else:
        reasons.append(say("pick_alone"))
    reasons.extend(pick.notes)
    for companion in outcome.companions:
        reasons.append(say("companion", tool=companion, server=pick.tool))
    conflict = _preference_conflict(ctx, outcome)
    if conflict:
        reasons.append(conflict)
    return reasons


def _preference_conflict(ctx: _Context, outcome: Outcome) -> Reason | None:
    """A stated hosting preference the pick does not follow, and why: the best option that follows it
    scored lower even with the preference's bonus, or was excluded (its reason), or there is none."""
    wanted = {"own-server": SELF_HOST, "trusted-hoster": HOSTED}.get(ctx.preference)
    pick = outcome.pick
    if wanted is None or pick is None or pick.mode == wanted:
        return None
    where = say("where_own") if wanted == SELF_HOST else say("where_hoster")
    behind = [c for c in outcome.alternatives if c.mode == wanted]
    if behind:
        return say("preference_outscored", where=where, runner_up=_label(behind[0]),
                   runner_total=_num(behind[0].total), total=_num(pick.total),
                   bonus=_num(ctx.criteria.preference_bonus))
    out = [e for e in outcome.excluded if e.mode == wanted]
    if not out:
        return say("preference_none", where=where)
    # Shown in the main text, in its brief form (wording.BRIEF_PLACEHOLDERS): without the catalog's English.
    first = say("preference_excluded", where=where, runner_up=out[0].hoster or out[0].tool, why=out[0].why)
    if len(out) == 1:
        return first
    return say("preference_excluded_more", first=first, more=len(out) - 1)
