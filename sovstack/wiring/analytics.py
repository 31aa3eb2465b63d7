"""Analytics wiring: which public pages of the association are counted, by which tool, and why not.

Decisions from the stack and the catalog (no server, no output): the tracked pages ("properties")
and their site ids, the tracking code each page carries (templates/apps/<tool>/snippet.html.j2),
the `analytics` context tool templates see, and the Links `sovstack check` and render report.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from sovstack.catalog import Catalog
from sovstack.paths import templates_dir
from sovstack.stack.stackfile import Stack
from sovstack.wiring import core as wiring

PORTAL = "portal"
PORTAL_NAME = "members' portal"


@dataclass(frozen=True)
class Property:
    """A public web page of the association that the stack's tracker counts."""

    key: str  # PORTAL, or the id of the tool whose pages these are
    name: str
    fqdn: str
    server: str
    site_id: str

    @property
    def url(self) -> str:
        return f"https://{self.fqdn}/"


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


def properties(stack: Stack, catalog: Catalog) -> list[Property]:
    """The pages the script tracker counts, portal first (Matomo numbers sites in creation order)."""
    tracker_id = tracker(stack, catalog)
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
                   "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://{fqdn}/"))}[scheme]
        found.append(Property(key, name, fqdn, server, site_id))
    return found


def snippet(stack: Stack, catalog: Catalog, page: Property) -> Markup:
    """The tracking code `page` carries: the tracker's snippet.html.j2, values escaped for HTML and JS."""
    tracker_id = tracker(stack, catalog)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    fqdn = stack.fqdn(tracker_id, catalog)
    html = env.get_template(f"apps/{tracker_id}/snippet.html.j2").render(
        tracker={"id": tracker_id, "fqdn": fqdn, "url": f"https://{fqdn}"},
        site={"id": page.site_id, "fqdn": page.fqdn, "url": page.url})
    return Markup(html.strip())


def portal_property(stack: Stack, catalog: Catalog) -> Property | None:
    return next((p for p in properties(stack, catalog) if p.key == PORTAL), None)


def template_context(stack: Stack, catalog: Catalog, tool_id: str) -> dict[str, Any] | None:
    """What a tool's templates see as `analytics`: for an analytics tool, the sites it must have (`sites`);
    for a tool whose pages carry its code, `tool`, `name`, `url`, `site_id` and `snippet`; else None."""
    tracker_id = tracker(stack, catalog)
    pages = properties(stack, catalog)
    if catalog.tools[tool_id].analytics:  # a second tracker in the stack counts nothing: no sites
        return {"sites": [{"key": p.key, "id": p.site_id, "fqdn": p.fqdn, "url": p.url}
                          for p in pages if tool_id == tracker_id]}
    if tracker_id is None:
        return None
    page = next((p for p in pages if p.key == tool_id), None)
    if page is None:
        return None
    fqdn = stack.fqdn(tracker_id, catalog)
    return {"tool": tracker_id, "name": catalog.tools[tracker_id].name, "url": f"https://{fqdn}",
            "site_id": page.site_id, "snippet": str(snippet(stack, catalog, page))}


def analytics_links(stack: Stack, catalog: Catalog) -> list[wiring.Link]:
    """Where analytics is installed and where it could not be, and why (wiring.links adds these)."""
    found: list[wiring.Link] = []
    website = f"https://{stack.domain}/"
    tracker_id = tracker(stack, catalog)
    if tracker_id:
        name = catalog.tools[tracker_id].name
        setup = catalog.tools[tracker_id].analytics.site_setup
        todo = f"; {setup.note}" if setup.how == "manual" else ""
        pages = properties(stack, catalog)
        for page in pages:
            # A portal link belongs to the tracker (its name comes first in reports); a tool's, to the tool.
            how = (f"tracking code on the {PORTAL_NAME} {page.url}" if page.key == PORTAL
                   else f"{name} tracking code on {page.url}")
            found.append(wiring.Link(tracker_id if page.key == PORTAL else page.key, "analytics", True,
                                     f"{how} (site {page.site_id}){todo}"))
        found.append(wiring.Link(tracker_id, "analytics", False, "",
                                 f"sovstack does not serve the association's website {website}: if there is "
                                 f"one, create a site for it in {name} and add {name}'s tracking code to its pages"))
        for other in (t for t in sorted(stack.tools) if t != tracker_id and catalog.tools[t].analytics
                      and catalog.tools[t].analytics.collects == "script"):
            found.append(wiring.Link(other, "analytics", False, "", f"the stack has two tools that count with a "
                                     f"tracking code; sovstack installs {name}'s only"))
        tracked = {p.key for p in pages}
        for tool_id in web_tools(stack, catalog):
            if tool_id not in tracked:
                found.append(wiring.Link(tool_id, "analytics", False, "", page_fit(catalog, tool_id, tracker_id)[1]))
    reader = tracker(stack, catalog, "logs")
    if reader:
        name = catalog.tools[reader].name
        server = stack.tools[reader].server
        portal_server = stack.portal_server()

        def covered(tool_id: str, where: str, on: str) -> wiring.Link:
            if on == server:
                who = "reads" if tool_id == reader else f"{name} reads"
                return wiring.Link(tool_id, "analytics", True, f"{who} Caddy's access log of {where} on {server}")
            return wiring.Link(tool_id, "analytics", False, "", f"{where} is served by Caddy on {on}; {name} reads "
                               f"the access log of {server} only")
        if portal_server:
            found.append(covered(reader, f"the {PORTAL_NAME} https://{stack.portal_fqdn()}/", portal_server))
        for tool_id in web_tools(stack, catalog):
            found.append(covered(tool_id, f"https://{stack.fqdn(tool_id, catalog)}/", stack.tools[tool_id].server))
        found.append(wiring.Link(reader, "analytics", False, "", f"the association's website {website} is not served "
                                 f"by sovstack's Caddy, so {name} does not see its visits"))
    return found
