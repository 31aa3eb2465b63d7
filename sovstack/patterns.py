"""Patterns for values that end up in shells, SQL, PHP, mail headers and LDIF: one definition, used by
the stack file (admin_email) and the members commands (a member's address)."""

from __future__ import annotations

# A DNS label: letters, digits and inner hyphens, at most 63 characters.
LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
# An address a shell, SQL, PHP and a mail header all take: RFC 5321's dot-atom local part, narrowed to
# letters, digits and . _ % + - ' (the apostrophe of o'brien@ stays legal; $ ` ( ) ; | { } ! do not),
# and a domain of DNS labels. Templates still quote it for their language. Match it case-insensitively
# and with re.fullmatch (a `$` alone lets a trailing newline through).
EMAIL_LOCAL = r"[A-Za-z0-9_%+'-]+(\.[A-Za-z0-9_%+'-]+)*"
EMAIL = rf"^(?=.{{1,254}}$)(?=[^@]{{1,64}}@){EMAIL_LOCAL}@({LABEL}\.)+[a-z]{{2,63}}$"
# A member's user name: their uid in the directory, the local part of their mailbox, a path on disk.
USERNAME = r"^[a-z][a-z0-9._-]{0,31}$"
