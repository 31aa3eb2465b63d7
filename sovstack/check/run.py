"""`sovstack check`: a diagnosis as a list of findings, each with what is wrong, why it matters and the fix.

Each check is a function from what it may look at (CheckInput) to findings; CHECKS names them for
`--only`. The server checks (services ... backup) come from one SSH call per server (check/servers.py).
"""

from __future__ import annotations

from collections.abc import Callable

from sovstack.check.findings import CheckInput, Finding
from sovstack.wiring.model import Link, Wiring
from sovstack.wiring.wire import wire


def dns_findings(given: CheckInput) -> list[Finding]:
    from sovstack.check.dns import check_dns  # dnspython loads only when DNS is checked

    return check_dns(wiring_of(given), given.secrets, given.resolver, given.stack_file)


def wiring_of(given: CheckInput) -> Wiring:
    """The stack's wiring, computed once for all the checks of a run (kept in the run's cache)."""
    if "wiring" not in given.cache:
        given.cache["wiring"] = wire(given.stack, given.catalog)
    return given.cache["wiring"]


def wiring_findings(given: CheckInput) -> list[Finding]:
    """Every wire between a tool and the member directory or the mail, and why the missing ones are missing."""
    w = wiring_of(given)
    catalog, provider = w.catalog, w.provider
    found: list[Finding] = []
    if not w.stack.tools:
        found.append(Finding("wiring", "identity", True, "info", "nothing is self-hosted: members get their accounts "
                             "from the hosters"))
    elif provider is None:
        found.append(Finding("wiring", "identity", False, "info", "the stack has no identity tool: every tool "
                             "keeps its own accounts", "members get one account and password per tool",
                             "add an identity tool (e.g. openldap) to 'tools' in the stack file to give each member "
                             "one account"))
    for links in _by_subject(w.links):
        link = links[0]
        name = catalog.tools[link.tool].name
        subject = link.subject
        if link.wired:
            found.append(Finding("wiring", subject, True, "info",
                                 "; ".join(f"{catalog.tools[k.tool].name}: {k.aspect} wired ({k.how})"
                                           for k in links if k.wired)))
        elif link.aspect == "identity":
            found.append(Finding(
                "wiring", subject, False, "warning",
                f"{name} is not connected to {catalog.tools[provider].name}: {link.reason}",
                f"members need a separate account and password on {name}",
                f"create the members' accounts in {name}'s own admin page, or choose a tool that logs in through "
                f"{catalog.tools[provider].name} (`sovstack catalog list`)"))
        elif link.aspect == "analytics":
            found.append(Finding(
                "wiring", subject, False, "info", f"{name}: no analytics: {'; '.join(k.reason for k in links)}",
                "visits to these pages are not counted",
                "nothing to do if these pages need no statistics; otherwise see the reason"))
        else:
            found.append(Finding(
                "wiring", subject, False, "warning", f"{name} cannot send mail: {link.reason}",
                f"{name} sends invitations, notifications and password resets by mail",
                "add a mail_relay (your mail provider's SMTP) to the stack file, or add postfix-dovecot to 'tools'"))
    return found


def _by_subject(links: tuple[Link, ...]) -> list[list[Link]]:
    """The links grouped by subject, wired ones first: one finding each. A page two counters see (a
    tracker and a log reader) is counted when either counts it; an app that logs in through its base
    has no identity link of its own (catalog `sso.via`), so its base's finding covers it."""
    groups: dict[str, list[Link]] = {}
    for link in links:
        groups.setdefault(link.subject, []).append(link)
    return [sorted(g, key=lambda k: not k.wired) for g in groups.values()]


def _server_check(name: str) -> Callable[[CheckInput], list[Finding]]:
    def check(given: CheckInput) -> list[Finding]:
        from sovstack.check.servers import server_findings

        return server_findings(given, name)
    check.__name__ = f"{name}_findings"
    return check


CHECKS: dict[str, Callable[[CheckInput], list[Finding]]] = {
    "dns": dns_findings,
    "wiring": wiring_findings,
    # On each server (bin/sovstack-diagnose): services and failed units, health endpoints, listening ports,
    # TLS certificates, free disk, available memory, security updates, reboot required, last backup.
    **{name: _server_check(name) for name in
       ("services", "health", "ports", "tls", "disk", "memory", "updates", "reboot", "backup")},
}


def run_checks(given: CheckInput, only: list[str] | tuple[str, ...] = ()) -> list[Finding]:
    found: list[Finding] = []
    for name, check in CHECKS.items():
        if not only or name in only:
            found += check(given)
    return found


def failed(findings: list[Finding]) -> bool:
    """Whether anything is broken (warnings and notes do not fail a check)."""
    return any(not f.ok and f.severity == "error" for f in findings)
