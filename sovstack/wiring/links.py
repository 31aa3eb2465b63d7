"""Every wire of the stack in one list, for render's "not wired" lines, the report and `sovstack check`.

The one place links are gathered: identity and mail links here, analytics links from analytics.py
(which, like this module, builds on model.Link; nothing below imports this module).
"""

from __future__ import annotations

from sovstack.catalog import has_member_login
from sovstack.wiring import analytics, mail
from sovstack.wiring.model import Link, Wiring


def links(w: Wiring) -> list[Link]:
    found: list[Link] = []
    for tool_id in sorted(w.stack.tools):
        found += identity_links(w, tool_id) + mail_links(w, tool_id)
    return found + analytics.links(w)


def identity_links(w: Wiring, tool_id: str) -> list[Link]:
    # A log reader (GoAccess) has no accounts at all, an add-on logs in through its base: nothing to connect.
    if not w.provider or not has_member_login(w.catalog.tools[tool_id]):
        return []
    wired = w.tools[tool_id]
    return [Link(tool_id, "identity", wired.identity is not None, wired.identity or "", wired.identity_why)]


def mail_links(w: Wiring, tool_id: str) -> list[Link]:
    if not w.tools[tool_id].sends_mail:
        return []
    if w.mail_route == "relay":
        return [Link(tool_id, "mail", True, f"smtp through {w.stack.mail_relay.host}")]
    if w.mail_route == "self-hosted":
        return [Link(tool_id, "mail", True, f"smtp through {w.catalog.tools[w.mail_server].name}")]
    servers = ", ".join(mail.with_accounts(w.catalog))
    return [Link(tool_id, "mail", False, "", "the stack has neither a mail relay nor a mail "
                 f"server sovstack can make accounts on ({servers})")]
