"""Moving in: an association's data (mail, files, calendars, contacts, lists) comes off Big Tech.

Each kind has a mover in movers/ that knows its sources; every run has three phases, inventory
(read the source only), copy (idempotent, resumable) and verify (identity keys compared, never an
exit code trusted). model.py holds what the phases hand each other, report.py the report beside the
stack file. Above members/ and render/, below cli/.
"""
