"""A CalDAV/CardDAV server outside the stack as the destination of calendars and contacts: a hoster's
Nextcloud (a CHATONS member's, say), SOGo or Radicale, reached over HTTPS with the member's app password.

It answers the same requests as migrate/radicale.py (movers/dav.py sends them): PROPFIND, MKCOL (RFC
5689), and one PUT per item with `If-None-Match: *`, so an existing item answers 412 and is never
replaced. The member's collections are found as a calendar app finds them (RFC 4791 6.2.1, RFC 6352
7.1.1, RFC 5397): the principal of the address given, then its calendar-home-set or
addressbook-home-set. A collection is read back with a REPORT (calendar-query, addressbook-query), which
every CalDAV/CardDAV server answers; a GET on a collection is Radicale's own (Nextcloud wants `?export`).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from sovstack.errors import UserError
from sovstack.migrate.model import server_address

DAV, CALDAV, CARDDAV = "DAV:", "urn:ietf:params:xml:ns:caldav", "urn:ietf:params:xml:ns:carddav"
HOME = {"calendars": (CALDAV, "calendar-home-set"), "contacts": (CARDDAV, "addressbook-home-set")}
DATA = {"calendars": (CALDAV, "calendar-data"), "contacts": (CARDDAV, "address-data")}
QUERY = {
    "calendars": ('<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
                  'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
                  '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'),
    "contacts": ('<?xml version="1.0" encoding="utf-8"?><CR:addressbook-query xmlns:D="DAV:" '
                 'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><CR:address-data/></D:prop>'
                 '<CR:filter/></CR:addressbook-query>'),
}
TIMEOUT = 120  # seconds for one request; a chunk of items is many requests, each bounded


def _propfind(props: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="{CALDAV}" '
            f'xmlns:CR="{CARDDAV}"><D:prop>{props}</D:prop></D:propfind>')


def parse_to(to: str, kind: str) -> tuple[str, str, str]:
    """--to MEMBER=https://[USER@]HOST/PATH -> (member, address without the user, login user: USER, else
    MEMBER)."""
    member, _, url = to.partition("=")
    example = f"--to {member or 'alice'}=https://cloud.example.org/remote.php/dav/ --to-password-file alice.app"
    address = server_address(url, f"--to {to}", f"--to {member}=...", what="CalDAV/CardDAV server",
                             example=example, secret=f"{member}'s app password", secret_option="--to-password-file")
    return member, replace(address, query="").url, address.user or member


@dataclass
class DavHoster:
    """A member's collections on a CalDAV/CardDAV server outside the stack."""

    url: str  # the address given; the collections' home is discovered from it
    user: str
    password: str = field(repr=False)
    kind: str = "calendars"
    home: str = ""  # the calendar or address-book home's path, once discovered
    opened: Any = field(default=None, repr=False, compare=False)  # the requests session, once made

    what = "the server"
    log_hint = "the hoster's server refused it: try that item in a calendar app, or ask the hoster"

    def __str__(self) -> str:
        return urljoin(self.url, self.home) if self.home else self.url

    def _session(self):
        """One HTTPS session for the whole move: each chunk of items reuses its connection."""
        import requests

        if self.opened is None:
            self.opened = requests.Session()
            self.opened.auth = (self.user, self.password)
            self.opened.verify = os.environ.get("SSL_CERT_FILE") or True  # a hoster's private CA, as for vdirsyncer
        return self.opened

    def _request(self, session, method: str, url: str, headers: dict | None = None, body: str = ""):
        import requests

        try:
            return session.request(method, url, headers=headers or {}, data=body.encode("utf-8"),
                                   timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise UserError(f"--to {self.url}: the server did not answer {method} ({type(exc).__name__})",
                            "check the address and that the server is up, then run again: what was copied "
                            "stays, a re-run copies the rest") from None

    def _multistatus(self, answer, what: str) -> ET.Element:
        if answer.status_code == 401:
            raise UserError(f"--to {self.url}: the server refused {self.user}'s login (HTTP 401)",
                            "check the user name and the app password in --to-password-file")
        if answer.status_code != 207:
            raise UserError(f"--to {self.url}: {what} answered HTTP {answer.status_code}, not a DAV multistatus",
                            "give the server's CalDAV/CardDAV address (Nextcloud: https://HOST/remote.php/dav/)")
        try:
            return ET.fromstring(answer.content)
        except ET.ParseError as exc:
            raise UserError(f"--to {self.url}: {what} answered unreadable XML ({exc})",
                            "give the server's CalDAV/CardDAV address") from None

    def _href(self, tree: ET.Element, namespace: str, name: str) -> str | None:
        found = tree.find(f".//{{{namespace}}}{name}/{{{DAV}}}href")
        return found.text.strip() if found is not None and found.text else None

    def discover(self) -> DavHoster:
        """Find the home of the member's calendars (or address books): principal, then home set."""
        session = self._session()
        principal = self._href(self._multistatus(
            self._request(session, "PROPFIND", self.url, {"Depth": "0", "Content-Type": "application/xml"},
                          _propfind("<D:current-user-principal/>")), "asking for the member's principal"),
            DAV, "current-user-principal")
        if not principal:
            raise UserError(f"--to {self.url}: the server names no principal for {self.user}",
                            "give the server's CalDAV/CardDAV address (Nextcloud: https://HOST/remote.php/dav/)")
        namespace, name = HOME[self.kind]
        prefix = "C" if namespace == CALDAV else "CR"
        home = self._href(self._multistatus(
            self._request(session, "PROPFIND", urljoin(self.url, principal),
                          {"Depth": "0", "Content-Type": "application/xml"}, _propfind(f"<{prefix}:{name}/>")),
            f"asking for the {name}"), namespace, name)
        if not home:
            raise UserError(f"--to {self.url}: the server has no {name} for {self.user}",
                            "check that the member's account there has calendars and contacts turned on")
        self.home = urlsplit(urljoin(self.url, home)).path.rstrip("/") + "/"
        return self

    def collection_path(self, slug: str) -> str:
        return f"{self.home}{slug}/"

    def call(self, requests: list[dict[str, Any]], timeout: int = 600) -> list[dict[str, Any]]:
        """Each request in order over HTTPS (the same shape as radicale.Radicale.call)."""
        session = self._session()
        answers = []
        for request in requests:
            answer = self._request(session, request["method"], urljoin(self.url, request["path"]),
                                   request.get("headers"), request.get("body", ""))
            answers.append({"status": answer.status_code,
                            "body": answer.text if request.get("want_body") else ""})
        return answers

    def read_collection(self, slug: str) -> list[str] | None:
        """Every item's data in one collection (None when it does not exist)."""
        answer = self._request(self._session(), "REPORT", urljoin(self.url, self.collection_path(slug)),
                               {"Depth": "1", "Content-Type": "application/xml"}, QUERY[self.kind])
        if answer.status_code == 404:
            return None
        tree = self._multistatus(answer, f"reading {self.collection_path(slug)} back")
        namespace, name = DATA[self.kind]
        return [node.text for node in tree.iter(f"{{{namespace}}}{name}") if node.text]
