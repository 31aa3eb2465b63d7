"""Analytics wiring: which public pages of the association are counted, by which tool, and why not.

Decisions from the stack and the catalog (no server, no output): the tracked pages ("properties")
and their site ids, which wire() keeps in the Wiring; from the Wiring, the tracking code each page
carries (templates/apps/<tool>/snippet.html.j2), the `analytics` context tool templates see, and the
Links `sovstack check` and render report (wiring/links.py gathers them with the others).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import jinja2
from markupsafe import Markup

from sovstack.catalog import Catalog
from sovstack.paths import templates_dir
from sovstack.stack.stackfile import Stack
from sovstack.wiring.model import Link, Property, Wiring

PORTAL = "portal"
PORTAL_NAME = "members' portal"


def tracker(stack: Stack, catalog: Catalog, collects: str = "script") -> str | None:
    """The stack's analytics tool that counts with a script in the pages ("script") or reads logs ("logs")."""
    found = [t for t in sorted(stack.tools)
             if catalog.tools[t].analytics and catalog.tools[t].analytics.collects == collects]
    return found[0] if found else None


def web_tools(stack: Stack, catalog: Catalog) -> list[str]:
    """Deployed tools with public pages of their own (analytics dashboards are not counted)."""
    return [t for t in sorted(stack.tools)
            if stack.fqdn(t, catalog) and "analytics" not in catalog.tools[t].categories]


def page_fit(catalog: Catalog, tool_id: str, tracker_id: str) -> tuple[bool, str]:
    """Whether sovstack puts `tracker_id`'s tracking code in `tool_id`'s pages, and if not, why."""
    tool, by = catalog.tools[tool_id], catalog.tools[tracker_id]
    tracking = tool.tracking
    if tracking is None:
        return False, f"sovstack knows of no documented setting of {tool.name} for a tracking code or custom page head"
    if not tracking.settings:
        return False, f"{tool.name} has no documented setting for a tracking code or custom page head ({tracking.source})"
    settings = ", ".join(tracking.settings)
    if tracking.accepts and tracker_id not in tracking.accepts:
        takes = ", ".join(catalog.tools[t].name if t in catalog.tools else t for t in tracking.accepts)
        return False, f"{tool.name}'s tracking settings ({settings}) take {takes} only, not {by.name}"
    if not tracking.rendered:
        return False, f"{tool.name} documents {settings}, but sovstack does not write them yet"
    return True, ""


def properties(stack: Stack, catalog: Catalog, tracker_id: str | None) -> list[Property]:
    """The pages the script tracker counts, portal first (Matomo numbers sites in creation order)."""
    if tracker_id is None:
        return []
    pages: list[tuple[str, str, str, str]] = []
    portal_fqdn = stack.portal_fqdn()
    if portal_fqdn:
        pages.append((PORTAL, PORTAL_NAME, portal_fqdn, stack.portal_server()))
    for tool_id in web_tools(stack, catalog):
        if page_fit(catalog, tool_id, tracker_id)[0]:
            pages.append((tool_id, catalog.tools[tool_id].name, stack.fqdn(tool_id, catalog), stack.tools[tool_id].server))
    scheme = catalog.tools[tracker_id].analytics.site_id
    tracker_fqdn = stack.fqdn(tracker_id, catalog)
    found = []
    for number, (key, name, fqdn, server) in enumerate(pages, start=1):
        site_id = {"tracker-host": tracker_fqdn, "page-host": fqdn, "number": str(number),
                   # Stable across renders and machines, so the site the deploy step creates keeps its data.
                   "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://{fqdn}/")),
                   # What the tracker itself makes of the site's URL (Open Web Analytics: md5 of it).
                   "md5-url": hashlib.md5(f"https://{fqdn}".encode(), usedforsecurity=False).hexdigest()}[scheme]
        found.append(Property(key, name, fqdn, server, site_id))
    return found


def snippet(w: Wiring, page: Property) -> Markup:
    """The tracking code `page` carries: the tracker's snippet.html.j2, values escaped for HTML and JS."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    fqdn = w.stack.fqdn(w.tracker, w.catalog)
    html = env.get_template(f"apps/{w.tracker}/snippet.html.j2").render(
        tracker={"id": w.tracker, "fqdn": fqdn, "url": f"https://{fqdn}"},
        site={"id": page.site_id, "fqdn": page.fqdn, "url": page.url})
    return Markup(html.strip())


def portal_property(w: Wiring) -> Property | None:
    return next((p for p in w.properties if p.key == PORTAL), None)


def template_context(w: Wiring, tool_id: str) -> dict[str, Any] | None:
    """What a tool's templates see as `analytics`: for an analytics tool, the sites it must have (`sites`);
    for a tool whose pages carry its code, `tool`, `name`, `url`, `site_id` and `snippet`; else None."""
    if w.catalog.tools[tool_id].analytics:  # a second tracker in the stack counts nothing: no sites
        return {"sites": [{"key": p.key, "name": p.name, "id": p.site_id, "fqdn": p.fqdn, "url": p.url}
                          for p in w.properties if tool_id == w.tracker]}
    if w.tracker is None:
        return None
    page = next((p for p in w.properties if p.key == tool_id), None)
    if page is None:
        return None
    fqdn = w.stack.fqdn(w.tracker, w.catalog)
    return {"tool": w.tracker, "name": w.catalog.tools[w.tracker].name, "url": f"https://{fqdn}",
            "site_id": page.site_id, "snippet": str(snippet(w, page))}


def links(w: Wiring) -> list[Link]:
    """Where analytics is installed and where it could not be, and why (wiring/links.py adds these)."""
    stack, catalog = w.stack, w.catalog
    found: list[Link] = []
    website = f"https://{stack.domain}/"
    tracker_id = w.tracker
    if tracker_id:
        name = catalog.tools[tracker_id].name
        setup = catalog.tools[tracker_id].analytics.site_setup
        todo = f"; {setup.note}" if setup.how == "manual" else ""
        for page in w.properties:
            # A portal link belongs to the tracker (its name comes first in reports); a tool's, to the tool.
            how = (f"tracking code on the {PORTAL_NAME} {page.url}" if page.key == PORTAL
                   else f"{name} tracking code on {page.url}")
            found.append(Link(tracker_id if page.key == PORTAL else page.key, "analytics", True,
                              f"{how} (site {page.site_id}){todo}", about="portal" if page.key == PORTAL else ""))
        found.append(Link(tracker_id, "analytics", False, "",
                          f"sovstack does not serve the association's website {website}: if there is "
                          f"one, create a site for it in {name} and add {name}'s tracking code to its pages",
                          about="website"))
        for other in (t for t in sorted(stack.tools) if t != tracker_id and catalog.tools[t].analytics
                      and catalog.tools[t].analytics.collects == "script"):
            found.append(Link(other, "analytics", False, "", f"the stack has two tools that count with a "
                              f"tracking code; sovstack installs {name}'s only"))
        tracked = {p.key for p in w.properties}
        for tool_id in web_tools(stack, catalog):
            if tool_id not in tracked:
                found.append(Link(tool_id, "analytics", False, "", page_fit(catalog, tool_id, tracker_id)[1]))
    if w.log_reader:
        found += _log_links(w, website)
    return found


def _log_links(w: Wiring, website: str) -> list[Link]:
    """What the log reader sees: Caddy's access log of its own server only."""
    stack, reader = w.stack, w.log_reader
    name = w.catalog.tools[reader].name
    server = stack.tools[reader].server
    portal_server = stack.portal_server()

    def covered(tool_id: str, where: str, on: str, about: str = "") -> Link:
        if on == server:
            who = "reads" if tool_id == reader else f"{name} reads"
            return Link(tool_id, "analytics", True, f"{who} Caddy's access log of {where} on {server}", about=about)
        return Link(tool_id, "analytics", False, "", f"{where} is served by Caddy on {on}; {name} reads "
                    f"the access log of {server} only", about=about)
    found = []
    if portal_server:
        found.append(covered(reader, f"the {PORTAL_NAME} https://{stack.portal_fqdn()}/", portal_server, "portal"))
    for tool_id in web_tools(stack, w.catalog):
        found.append(covered(tool_id, f"https://{stack.fqdn(tool_id, w.catalog)}/", stack.tools[tool_id].server))
    found.append(Link(reader, "analytics", False, "", f"the association's website {website} is not served "
                      f"by sovstack's Caddy, so {name} does not see its visits", about="website"))
    return found
