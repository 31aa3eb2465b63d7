"""Calendars and address books as files (Google Takeout's .ics, one calendar per file, and .vcf):
what they hold, item by item, keyed by UID, and each item as the one file Radicale stores for it.

Pure: reads the source files (or a server's collections, as davserver.py stored them), writes nothing. The identity key is the UID. A moved instance of a
recurring event (same UID, with RECURRENCE-ID) travels with its series in one item, as CalDAV
stores it (RFC 4791 4.1). A card without a UID gets one derived from its content, the same on every
run, and that UID is written into what is uploaded.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from sovstack.errors import UserError
from sovstack.migrate.model import Inventory, Item, Skipped

SUFFIX = {"calendars": ".ics", "contacts": ".vcf"}
TAG = {"calendars": "VCALENDAR", "contacts": "VADDRESSBOOK"}
CONTENT_TYPE = {"calendars": "text/calendar; charset=utf-8", "contacts": "text/vcard; charset=utf-8"}
# Components of a calendar that are items (VTIMEZONE travels with the items that use it).
ITEM_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
SAFE_HREF = re.compile(r"[A-Za-z0-9@_+-][A-Za-z0-9@._+-]{0,120}")
DERIVED_PREFIX = "sovstack-"


@dataclass(frozen=True)
class Collection:
    """One calendar or address book of the source: `name` as the member sees it, `slug` its URL part."""

    name: str
    slug: str
    path: Path


@dataclass(frozen=True)
class Payload:
    """What one item becomes at the destination, and what verify compares (`fingerprint`)."""

    collection: Collection
    href: str  # file name inside the collection
    body: str
    fingerprint: tuple


def slug(name: str, default: str) -> str:
    """A collection's URL part from its name: ASCII letters, digits and hyphens only, so nothing from
    the source can reach a path, a URL or a shell unquoted ("Réunions du CA" -> "reunions-du-ca")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cut = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
    return cut or default


def href(uid: str, suffix: str) -> str:
    """The item's file name: the UID when it is a safe file name, else a hash of it (UIDs may hold '/')."""
    if SAFE_HREF.fullmatch(uid):
        return uid + suffix
    return hashlib.sha256(uid.encode()).hexdigest()[:40] + suffix


def source_files(source: str, kind: str) -> list[Path]:
    """--from: one file, or a folder (Takeout's Calendar/ or Contacts/) whose files of this kind are read."""
    suffix = SUFFIX[kind]
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == suffix)
        if not files:
            raise UserError(f"--from {source}: no {suffix} file in this folder",
                            f"give a Takeout {suffix} file or the folder that holds them")
        return files
    if not path.is_file():
        raise UserError(f"--from {source}: no such file or folder",
                        f"give a Takeout {suffix} file (or its folder), or a server's address: "
                        "https://USER@HOST/PATH with --password-file")
    if path.suffix.lower() != suffix:
        other = "contacts" if kind == "calendars" else "calendars"
        raise UserError(f"--from {source}: {kind} are read from {suffix} files, not {path.suffix or 'this file'}",
                        f"give a {suffix} file" + (f" (use `sovstack migrate {other}` for a {SUFFIX[other]} file)"
                                                   if path.suffix.lower() == SUFFIX[other] else ""))
    return [path]


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"--from {path}: not UTF-8 text (byte {exc.start})",
                        "give the file as Google Takeout exported it (UTF-8)") from None
    except OSError as exc:
        raise UserError(f"--from {path}: cannot read it ({exc.strerror})", "give a readable file") from None


def inventory(source: str, kind: str) -> Inventory:
    """Every item of every file of the source, exactly once: in `items` (with its Payload in `extra`)
    or in `skipped` with the reason."""
    read = _calendar if kind == "calendars" else _cards
    return _inventory(source, kind, ((path, *read(path, read_text(path))) for path in source_files(source, kind)),
                      "rename a file, or its X-WR-CALNAME")


def inventory_vdir(folder: Path, source: str, kind: str) -> Inventory:
    """The same from a server's collections as vdirsyncer stores them (davserver.pulled): a folder per
    collection, one file per item, the collection's name in its `displayname` file."""
    def collections():
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            named = path / "displayname"
            name = " ".join(named.read_text(encoding="utf-8", errors="replace").split()) if named.is_file() else ""
            files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() == SUFFIX[kind])
            if kind == "contacts":
                yield (path, *_cards(path, "\n".join(read_text(f) for f in files), name or path.name))
                continue
            from icalendar import Calendar

            merged, zones = Calendar(), set()
            for f in files:
                calendar = parse_calendar(read_text(f), f"{source} ({path.name}/{f.name})")
                if "PRODID" not in merged and "PRODID" in calendar:
                    merged.add("PRODID", calendar["PRODID"])
                for component in calendar.subcomponents:
                    zone = str(component.get("TZID", "")) if component.name == "VTIMEZONE" else None
                    if zone is None or zone not in zones:
                        merged.add_component(component)
                        zones.add(zone)
            yield (path, *_calendar_items(merged, name or path.name, path))

    return _inventory(source, kind, collections(), "rename one of them on the server")


def _inventory(source: str, kind: str, read, rename: str) -> Inventory:
    found = Inventory(kind, source)
    slugs: dict[str, Path] = {}
    for path, name, groups in read:
        coll = Collection(name, slug(name, "calendar" if kind == "calendars" else "contacts"), path)
        if coll.slug in slugs:
            raise UserError(f"--from {source}: {slugs[coll.slug].name} and {path.name} would both become the "
                            f"collection {coll.slug!r}",
                            f"move them one at a time with different names ({rename})")
        slugs[coll.slug] = path
        for uid, entry in groups.items():
            if isinstance(entry, str):
                found.skipped.append(Skipped(name, uid, entry))
                continue
            body, fingerprint, note = entry
            if note:
                found.notes.append(f"{path.name}: {note}")
            item = Item(name, uid)
            found.items.append(item)
            found.extra[item] = Payload(coll, href(uid, SUFFIX[kind]), body, fingerprint)
    return found


# --- calendars -----------------------------------------------------------------------------------

def _moment(value) -> str:
    """DTSTART or RECURRENCE-ID as one string however it was written: a time with a zone becomes UTC,
    so verify is not fooled by a server that rewrites TZID."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return value.strftime("%Y%m%dT%H%M%S")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return str(value)


def _decoded(component, name: str) -> str:
    if name not in component:
        return ""
    try:
        return _moment(component.decoded(name))
    except Exception:  # an unknown TZID: compare the text as written
        return str(component[name].to_ical().decode())


def event_fingerprint(components: list) -> tuple:
    """What verify compares for one calendar item: the series' SUMMARY and DTSTART, and which moved
    instances it has (a lost moved instance is an altered item)."""
    master = next((c for c in components if "RECURRENCE-ID" not in c), components[0])
    moved = sorted(_decoded(c, "RECURRENCE-ID") for c in components if "RECURRENCE-ID" in c)
    return (str(master.get("SUMMARY", "")), _decoded(master, "DTSTART"), tuple(moved))


def parse_calendar(text: str, where: str):
    from icalendar import Calendar

    try:
        return Calendar.from_ical(text)
    except Exception as exc:
        raise UserError(f"--from {where}: not an iCalendar file ({str(exc)[:200]})",
                        "give the .ics file as Google Takeout exported it") from None


def group_events(calendar) -> dict[str, list]:
    """Item components by UID, in file order (a series and its moved instances share one UID)."""
    groups: dict[str, list] = {}
    for component in calendar.subcomponents:
        if component.name in ITEM_COMPONENTS:
            uid = str(component.get("UID", "")).strip() or _derived_uid(component.to_ical().decode())
            groups.setdefault(uid, []).append(component)
    return groups


def _calendar(path: Path, text: str):
    calendar = parse_calendar(text, str(path))
    return _calendar_items(calendar, " ".join(str(calendar.get("X-WR-CALNAME", "")).split()) or path.stem, path)


def _calendar_items(calendar, name: str, path: Path):
    from icalendar import Calendar

    zones = {str(z.get("TZID")): z for z in calendar.subcomponents if z.name == "VTIMEZONE"}
    out: dict[str, object] = {}
    for uid, components in group_events(calendar).items():
        keys = [_decoded(c, "RECURRENCE-ID") if "RECURRENCE-ID" in c else None for c in components]
        unique, note = _dedupe(components, keys, uid, path)
        if unique is None:
            out[uid] = note
            continue
        item = Calendar()
        item.add("VERSION", "2.0")
        item.add("PRODID", str(calendar.get("PRODID", "-//sovstack//migrate//EN")))
        used = {str(p.params["TZID"]) for c in unique for sub in c.walk() for _, p in sub.property_items()
                if hasattr(p, "params") and "TZID" in p.params}
        for tzid in sorted(used & zones.keys()):
            item.add_component(zones[tzid])
        for component in unique:
            if "UID" not in component:
                component.add("UID", uid)
            item.add_component(component)
        out[uid] = (item.to_ical().decode(), event_fingerprint(unique), note)
    return name, out


def _dedupe(components: list, keys: list, uid: str, path: Path):
    """A UID repeated in one file (not as a series' moved instance): identical copies are one item (with
    a note); copies that differ cannot be told apart, so the UID is skipped with the reason."""
    seen: dict[object, str] = {}
    unique, note = [], ""
    for component, key in zip(components, keys):
        text = component.to_ical().decode() if hasattr(component, "to_ical") else component
        if key in seen:
            if seen[key] != text:
                return None, (f"the UID is repeated in {path.name} with different content; which copy is right "
                              "cannot be told: keep one in the file and run again")
            note = f"UID {uid} is written twice, identically; moved once"
            continue
        seen[key] = text
        unique.append(component)
    return unique, note


# --- contacts ------------------------------------------------------------------------------------

CARD = re.compile(r"^BEGIN:VCARD\s*$.*?^END:VCARD\s*$", re.M | re.S | re.I)
UNFOLD = re.compile(r"\r?\n[ \t]")
# Lines that say nothing about who the card is: left out of the derived UID so it stays the same.
NOT_CONTENT = ("VERSION", "PRODID", "REV")


def _derived_uid(text: str) -> str:
    """A UID for an item that has none, from its normalised content: unfolded lines, without the
    version, producer and revision, in sorted order, so it is the same on every run."""
    lines = [line.strip() for line in UNFOLD.sub("", text).splitlines()]
    kept = sorted(line for line in lines if line and re.split(r"[;:]", line, 1)[0].upper() not in NOT_CONTENT
                  and not line.upper().startswith(("BEGIN:", "END:")))
    return DERIVED_PREFIX + hashlib.sha256("\n".join(kept).encode()).hexdigest()[:32]


def card_fingerprint(card) -> tuple:
    """What verify compares for one card: its formatted name and its addresses."""
    fn = str(card.fn.value) if hasattr(card, "fn") else ""
    emails = sorted(str(e.value).strip().lower() for e in card.contents.get("email", []))
    return (" ".join(fn.split()), tuple(emails))


def parse_cards(text: str, where: str) -> list[tuple[str, object]]:
    """(card text, vobject card) for each vCard in the text."""
    import vobject

    cards = []
    for number, match in enumerate(CARD.finditer(text), start=1):
        try:
            cards.append((match.group(0), vobject.readOne(match.group(0))))
        except Exception as exc:
            raise UserError(f"--from {where}: card {number} is not a vCard ({str(exc)[:200]})",
                            "give the .vcf file as Google Takeout exported it") from None
    return cards


def _cards(path: Path, text: str, name: str = ""):
    cards = parse_cards(text, str(path))
    if not cards and text.strip():
        raise UserError(f"--from {path}: no vCard in it (no BEGIN:VCARD ... END:VCARD)",
                        "give the .vcf file as Google Takeout exported it")
    groups: dict[str, list] = {}
    for raw, card in cards:
        uid = str(card.uid.value).strip() if hasattr(card, "uid") and str(card.uid.value).strip() else ""
        if not uid:
            uid = _derived_uid(raw)
            card.add("uid").value = uid  # written into what is uploaded, so a re-run finds it
        groups.setdefault(uid, []).append(card)
    out: dict[str, object] = {}
    for uid, found in groups.items():
        texts = [c.serialize() for c in found]
        unique, note = _dedupe(texts, [None] * len(texts), uid, path)
        if unique is None:
            out[uid] = note
            continue
        out[uid] = (unique[0], card_fingerprint(found[0]), note)
    return name or path.stem, out


# --- what the destination holds ------------------------------------------------------------------

def fingerprints(kind: str, texts: str | list[str], where: str) -> dict[str, tuple]:
    """UID -> fingerprint of a collection as the destination serves it: one text (Radicale's GET on the
    collection) or one text per item (a REPORT's calendar-data or address-data)."""
    events: dict[str, list] = {}
    cards: dict[str, tuple] = {}
    for text in [texts] if isinstance(texts, str) else texts:
        if not text.strip():
            continue
        if kind == "calendars":
            for uid, components in group_events(parse_calendar(text, where)).items():
                events.setdefault(uid, []).extend(components)
        else:
            cards |= {str(card.uid.value).strip(): card_fingerprint(card)
                      for _, card in parse_cards(text, where) if hasattr(card, "uid")}
    if kind == "calendars":
        return {uid: event_fingerprint(components) for uid, components in events.items()}
    return cards


def difference(expected: tuple, found: tuple, kind: str) -> str:
    """Says what differs between two fingerprints, for the report ('' when nothing does)."""
    names = (("SUMMARY", "DTSTART", "moved instances") if kind == "calendars" else ("FN", "EMAIL"))
    return "; ".join(f"{name} {want!r} became {got!r}" for name, want, got in zip(names, expected, found)
                     if want != got)
