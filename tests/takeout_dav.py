"""Stand-ins for Google Takeout's Calendar (.ics, one calendar per file) and Contacts (.vcf) exports,
shaped like the samples in the migration facts (Google's PRODID, X-WR-CALNAME, VTIMEZONE, vCard 3.0
without UID). They hold the cases that lose data when mishandled: a recurring event with a moved
instance, cards without UID, a UID written twice (identically, and with different content), non-ASCII
names, a UID that is not a safe file name."""

from __future__ import annotations

from pathlib import Path

CALENDAR_NAME = "Réunions du CA"
CALENDAR = """BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Réunions du CA
X-WR-TIMEZONE:Europe/Paris
BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=Europe/Paris:20240110T180000
DTEND;TZID=Europe/Paris:20240110T200000
RRULE:FREQ=MONTHLY;BYDAY=2WE
DTSTAMP:20240101T000000Z
UID:ca-mensuel@google.com
SUMMARY:Conseil d'administration
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Paris:20240215T190000
DTEND;TZID=Europe/Paris:20240215T210000
RECURRENCE-ID;TZID=Europe/Paris:20240214T180000
DTSTAMP:20240101T000000Z
UID:ca-mensuel@google.com
SUMMARY:Conseil d'administration (déplacé au jeudi)
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20240301
DTEND;VALUE=DATE:20240302
DTSTAMP:20240101T000000Z
UID:ag-2024@google.com
SUMMARY:Assemblée générale
END:VEVENT
BEGIN:VEVENT
DTSTART:20240615T160000Z
DTEND:20240615T220000Z
DTSTAMP:20240101T000000Z
UID:fete/quartier@google.com
SUMMARY:Fête de quartier — été 2024
DESCRIPTION:Apporter des gâteaux\\, des chaises et de la bonne humeur
END:VEVENT
BEGIN:VEVENT
DTSTART:20240415T080000Z
DTEND:20240415T090000Z
DTSTAMP:20240101T000000Z
UID:permanence@google.com
SUMMARY:Permanence
END:VEVENT
BEGIN:VEVENT
DTSTART:20240415T080000Z
DTEND:20240415T090000Z
DTSTAMP:20240101T000000Z
UID:permanence@google.com
SUMMARY:Permanence
END:VEVENT
BEGIN:VEVENT
DTSTART:20240501T080000Z
DTSTAMP:20240101T000000Z
UID:doublon@google.com
SUMMARY:Version A
END:VEVENT
BEGIN:VEVENT
DTSTART:20240502T080000Z
DTSTAMP:20240101T000000Z
UID:doublon@google.com
SUMMARY:Version B
END:VEVENT
END:VCALENDAR
"""
# (collection, id): what the calendar's dry run lists as items, and as skipped.
CALENDAR_ITEMS = {(CALENDAR_NAME, uid) for uid in
                  ("ca-mensuel@google.com", "ag-2024@google.com", "fete/quartier@google.com", "permanence@google.com")}
CALENDAR_SKIPPED = {(CALENDAR_NAME, "doublon@google.com")}

CONTACTS_NAME = "All Contacts"
CONTACTS = """BEGIN:VCARD
VERSION:3.0
FN:Dominique Martin
N:Martin;Dominique;;;
EMAIL;TYPE=INTERNET:dominique@example.org
TEL;TYPE=CELL:+33 6 00 00 00 00
CATEGORIES:myContacts,Bénévoles
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Zoé Lefèvre-Nguyễn
N:Lefèvre-Nguyễn;Zoé;;;
EMAIL;TYPE=INTERNET:zoe@example.org
NOTE:Trésorière depuis 2021\\, à relancer pour les reçus fiscaux de l'année
  prochaine
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Mairie
N:;Mairie;;;
EMAIL;TYPE=INTERNET:contact@mairie.example
UID:c2a5e1f0-mairie
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Mairie (copie)
N:;Mairie;;;
EMAIL;TYPE=INTERNET:accueil@mairie.example
UID:c2a5e1f0-mairie
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Épicerie solidaire
EMAIL;TYPE=INTERNET:bonjour@epicerie.example
UID:epicerie-42
END:VCARD
"""
# Cards without UID get one derived from their content: counted here, their ids checked by prefix.
CONTACTS_WITH_UID = {(CONTACTS_NAME, "epicerie-42")}
CONTACTS_WITHOUT_UID = 2
CONTACTS_SKIPPED = {(CONTACTS_NAME, "c2a5e1f0-mairie")}


def write_takeout(folder: Path) -> tuple[Path, Path]:
    """Takeout's layout: Takeout/Calendar/<calendar>.ics and Takeout/Contacts/All Contacts/All Contacts.vcf."""
    calendar = folder / "Takeout" / "Calendar" / "Réunions du CA.ics"
    contacts = folder / "Takeout" / "Contacts" / "All Contacts" / "All Contacts.vcf"
    for path, text in ((calendar, CALENDAR), (contacts, CONTACTS)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("\n", "\r\n"), encoding="utf-8")  # Takeout writes CRLF
    return calendar, contacts
