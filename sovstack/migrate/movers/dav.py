"""Calendars and contacts into Radicale, item by item, from Takeout files or from a CalDAV/CardDAV
server (davserver.py reads it with vdirsyncer on this machine, into a temporary folder).

Item by item, not one PUT per collection: each item is its own PUT with `If-None-Match: *`, so a
re-run, or a run after an interruption, copies exactly the items the destination lacks (the others
answer 412), and a member's collection that already exists (made on their phone, or by a run that
stopped half-way) is completed rather than refused or replaced. A whole-collection PUT would answer
412 for such a collection and copy nothing. The cost, one request per item, is small because the
requests are handled inside one process on the server (migrate/radicale.py), not one HTTP round trip
each.
"""

from __future__ import annotations

from typing import Any

from sovstack.errors import UserError
from sovstack.migrate import dav, davhoster, davserver
from sovstack.migrate.davhoster import DavHoster
from sovstack.migrate.model import Inventory, Item, Progress, SourceSecrets, Verification
from sovstack.migrate.radicale import PROPFIND, Radicale, mkcol

NEXTCLOUD_DAV = "/remote.php/dav/"
CHUNK = 100  # items per SSH call: progress is shown after each, and a dropped connection loses no more


class DavMover:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def needs_stack(self, source: str) -> bool:
        return False  # Takeout files, or a server read from this machine: a dry run needs no stack

    def inventory(self, source: str, secrets: SourceSecrets) -> Inventory:
        if davserver.is_server(source):
            with davserver.pulled(source, self.kind, secrets) as folder:
                return dav.inventory_vdir(folder, source, self.kind)
        return dav.inventory(source, self.kind)

    def destination(self, loaded: Any, to: str) -> Radicale | DavHoster:
        from sovstack.members.accounts import check_username
        from sovstack.members.directory import open_directory

        member = to.partition("=")[0]
        check_username(member, f"--to {to}")
        if "=" in to:  # a server outside the stack (a hoster's Nextcloud): MEMBER=https://[USER@]HOST/PATH
            member, url, user = davhoster.parse_to(to, self.kind)
            return DavHoster(url, user, "", self.kind)
        stack, catalog = loaded.stack, loaded.catalog
        if "radicale" not in stack.tools and "nextcloud" in stack.tools:
            # The stack's Nextcloud: its DAV address (Nextcloud's user manual, groupware/sync_*), where the
            # member logs in with an app password (--to-password-file): root has no way in without it.
            return DavHoster(f"https://{stack.fqdn('nextcloud', catalog)}{NEXTCLOUD_DAV}", member, "", self.kind)
        if "radicale" not in stack.tools:
            raise UserError(f"{loaded.path}: {self.kind} move into Radicale, and the stack has no radicale",
                            "add radicale (or nextcloud) to 'tools', deploy, then run again; "
                            f"or move them to a hoster's server: --to {to}=https://HOST/remote.php/dav/ "
                            "--to-password-file FILE")
        members = {m.username for m in open_directory(loaded.wiring, loaded.target).list()}
        if to not in members:
            raise UserError(f"--to {to}: no such member in the directory",
                            "add the member first (sovstack members add), or see `sovstack members list`")
        return Radicale(loaded.target(stack.tools["radicale"].server), to, f"https://{stack.fqdn('radicale', catalog)}/")

    def _open(self, dest: Radicale | DavHoster, secrets: SourceSecrets) -> Radicale | DavHoster:
        """A hoster's server: the member's app password from its file, and their collections' home."""
        if not isinstance(dest, DavHoster) or dest.home:
            return dest
        dest.password = secrets.destination_secret(f"the member's app password at {dest.url}")
        return dest.discover()

    def copy(self, source: str, secrets: SourceSecrets, inventory: Inventory, dest: Radicale,
             progress: Progress) -> int:
        payloads = [inventory.extra[item] for item in sorted(inventory.items)]
        collections = list({p.collection.slug: p.collection for p in payloads}.values())
        dest = self._open(dest, secrets)
        found = dest.call([{"method": "PROPFIND", "path": dest.collection_path(c.slug), "want_body": True,
                            "headers": {"Depth": "0", "Content-Type": "application/xml"}, "body": PROPFIND}
                           for c in collections])
        wanted = "calendar" if self.kind == "calendars" else "addressbook"
        what = "a calendar" if self.kind == "calendars" else "an address book"
        requests = []
        for coll, answer in zip(collections, found):
            if answer["status"] == 404:
                requests.append({"method": "MKCOL", "path": dest.collection_path(coll.slug),
                                 "headers": {"Content-Type": "application/xml"}, "body": mkcol(self.kind, coll.name)})
            elif answer["status"] != 207 or f":{wanted}" not in answer["body"]:
                raise UserError(f"{dest}{coll.slug}/ ({coll.name}) exists and is not {what} "
                                f"({dest.what} answered {answer['status']})",
                                "rename or remove that collection of the member's (or rename the source file), "
                                "then run again")
        made = dest.call(requests) if requests else []
        for request, answer in zip(requests, made):
            if answer["status"] != 201:
                raise UserError(f"{dest}: {dest.what} refused to create {request['path']} ({answer['status']})",
                                dest.log_hint)
        copied, done = 0, 0
        progress(0, len(payloads))
        for start in range(0, len(payloads), CHUNK):
            chunk = payloads[start:start + CHUNK]
            answers = dest.call([{"method": "PUT", "path": dest.collection_path(p.collection.slug) + p.href,
                                  "want_body": True, "body": p.body,
                                  "headers": {"Content-Type": dav.CONTENT_TYPE[self.kind], "If-None-Match": "*"}}
                                 for p in chunk])
            for payload, answer in zip(chunk, answers):
                status = answer["status"]
                if status == 201:
                    copied += 1
                elif status == 412:
                    pass  # already there (a re-run, or a resumed run)
                elif status == 409 and "no-uid-conflict" in answer["body"]:
                    inventory.notes.append(f"{payload.collection.name}: {payload.href} was already in the "
                                           "collection under another file name; kept as it was")
                else:
                    # 400 (the server refused the item) or anything but "created" or "already there"
                    inventory.notes.append(f"{payload.collection.name}: {dest.what} answered HTTP {status} for "
                                           f"{payload.href} (not 201 or 412); {dest.log_hint}")
            done += len(chunk)
            progress(done, len(payloads))
        return copied

    def verify(self, source: str, secrets: SourceSecrets, inventory: Inventory,
               dest: Radicale | DavHoster) -> Verification:
        payloads = {item: inventory.extra[item] for item in inventory.items}
        collections = list({p.collection.slug: p.collection for p in payloads.values()}.values())
        dest = self._open(dest, secrets)
        held: dict[str, dict[str, tuple]] = {}
        for coll in collections:
            texts = dest.read_collection(coll.slug)
            held[coll.slug] = dav.fingerprints(self.kind, texts, f"{dest}{coll.slug}/") if texts else {}
        found: set[Item] = set()
        altered: dict[Item, str] = {}
        for item, payload in payloads.items():
            there = held[payload.collection.slug].get(item.id)
            if there is None:
                continue
            found.add(item)
            differs = dav.difference(payload.fingerprint, there, self.kind)
            if differs:
                altered[item] = differs
        return Verification(expected=list(inventory.items), found=found, altered=altered)
