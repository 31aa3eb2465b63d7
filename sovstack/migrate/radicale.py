"""Radicale as the destination of calendars and contacts: root on the server writes into a member's
collections without the member's password.

How: over SSH, as root, `runuser -u radicale -- python3 -I -c RADICALE_CALL` runs Radicale's own
WSGI application (Debian's python3-radicale, the code the daemon runs) inside that one short process,
with the deployed /etc/radicale/config except `[auth] type = http_x_remote_user`: the member's name
is set by sovstack in each request's environ. Rights stay owner_only, so every request only reaches
that member's own collections. The requests (JSON) come on standard input, one JSON answer a line
goes back on standard output.

Why not a second Radicale listening on 127.0.0.1 for the run: any local user could reach that port
and act as any member for as long as it listens. Here no socket is opened at all, and only root can
start the process. Why this is safe next to the running daemon: Radicale locks its storage with
fcntl.flock on collections/.Radicale.lock (radicale/pathutils.py RwLock, taken by
storage/multifilesystem/lock.py for every request: shared to read, exclusive to write), an
inter-process lock, so the daemon and this process take turns; each item is written atomically
(a temporary file renamed), as for the daemon. Read in Kozea/Radicale at tag v3.5.3, the version
Debian 13 ships.

Every PUT carries `If-None-Match: *`: an existing item answers 412 ("already there") instead of
being replaced, and no PUT ever targets a whole collection (which Radicale would replace silently).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sovstack.engines.remote import Target
from sovstack.errors import UserError

CONFIG = "/etc/radicale/config"

# Runs on the server as the radicale user; reads {"user", "requests": [...]} on stdin. Kept free of
# any value from the source: those arrive as JSON data only.
RADICALE_CALL = r'''
import io, json, sys
from radicale import Application, config, log
job = json.load(sys.stdin)
configuration = config.load([(sys.argv[1], False)])
configuration.update({"auth": {"type": "http_x_remote_user"}, "rights": {"type": "owner_only"},
                      "logging": {"level": "error"}}, "sovstack migrate", privileged=True)
log.setup()
log.set_level("error", False)
app = Application(configuration)
for request in job["requests"]:
    body = request.get("body", "").encode("utf-8")
    environ = {"REQUEST_METHOD": request["method"], "PATH_INFO": request["path"], "SCRIPT_NAME": "",
               "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "0",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(body)),
               "HTTP_X_REMOTE_USER": job["user"]}
    for name, value in request.get("headers", {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    status = []
    answer = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    print(json.dumps({"status": int(status[0].split()[0]),
                      "body": answer.decode("utf-8", "replace") if request.get("want_body") else ""}), flush=True)
'''

MKCOL = {
    "calendars": ('<C:calendar/>', '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
                  '<C:comp name="VTODO"/><C:comp name="VJOURNAL"/></C:supported-calendar-component-set>'),
    "contacts": ('<CR:addressbook/>', ''),
}


@dataclass(frozen=True)
class Radicale:
    """A member's collections in the stack's Radicale."""

    target: Target
    user: str  # checked against the directory and members.accounts.USERNAME before it gets here
    url: str
    what = "Radicale"
    log_hint = "check Radicale's log on the server: journalctl -u radicale"

    def __str__(self) -> str:
        return f"radicale {self.url}{self.user}/"

    def call(self, requests: list[dict[str, Any]], timeout: int = 600) -> list[dict[str, Any]]:
        """Run the requests through Radicale on the server, in order; one answer per request."""
        command = (f"cd / && runuser -u radicale -- python3 -I -c {shlex.quote(RADICALE_CALL)} "
                   f"{shlex.quote(CONFIG)}")
        result = self.target.run(command, timeout=timeout, as_root=True,
                                 stdin=json.dumps({"user": self.user, "requests": requests}))
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or len(answers) != len(requests):
            raise UserError(f"server {self.target.name!r}: Radicale did not answer every request "
                            f"({len(answers)} of {len(requests)}): {result.stderr.strip()[-600:]}",
                            "check that `sovstack deploy` completed (Radicale from Debian), then run again: "
                            "what was copied stays, a re-run copies the rest")
        return answers

    def collection_path(self, slug: str) -> str:
        return f"/{self.user}/{slug}/"

    def read_collection(self, slug: str) -> list[str] | None:
        """The whole collection as Radicale serves it on a GET (None when it does not exist)."""
        answer = self.call([{"method": "GET", "path": self.collection_path(slug), "want_body": True}])[0]
        if answer["status"] == 404:
            return None
        if answer["status"] != 200:
            raise UserError(f"{self}: reading {slug}/ back failed (HTTP {answer['status']})",
                            "check Radicale's log on the server (journalctl -u radicale), then run again")
        return [answer["body"]]


def mkcol(kind: str, name: str) -> str:
    """The extended MKCOL body (RFC 5689) that makes a calendar or an address book with its name."""
    resourcetype, extra = MKCOL[kind]
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
            'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
            f'<D:resourcetype><D:collection/>{resourcetype}</D:resourcetype>'
            f'<D:displayname>{escape(name)}</D:displayname>{extra}</D:prop></D:set></D:mkcol>')


PROPFIND = ('<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
            '</D:prop></D:propfind>')
