"""Password hashes sovstack writes into rendered files (directory service accounts, mail senders).

The salt is derived from the password so a re-render writes the same bytes (no drift, no
restart); this is sound only for the long random machine secrets sovstack generates, never for
people's passwords (those are hashed by the directory itself, with a random salt).
"""

from __future__ import annotations

import base64
import hashlib


def _salt(password: str) -> bytes:
    return hashlib.sha256(b"sovstack-salt\0" + password.encode()).digest()[:8]


def ssha(password: str) -> str:
    """RFC 2307 {SSHA} (salted SHA-1): what slapd verifies without extra modules."""
    salt = _salt(password)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def ssha512(password: str) -> str:
    """Dovecot's {SSHA512} (salted SHA-512)."""
    salt = _salt(password)
    return "{SSHA512}" + base64.b64encode(hashlib.sha512(password.encode() + salt).digest() + salt).decode()
