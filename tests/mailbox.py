"""A member's mail client for sandbox tests: IMAP over implicit TLS and submission with STARTTLS, reached at
the sandbox's address while TLS checks the mail server's name (mail.<domain>) against Caddy's CA."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
import time


def imap(address: str, tls: ssl.SSLContext, host: str) -> imaplib.IMAP4_SSL:
    class Client(imaplib.IMAP4_SSL):  # connect to the sandbox's address, check the mail server's name
        def _create_socket(self, timeout):
            return tls.wrap_socket(socket.create_connection((address, 993), timeout), server_hostname=host)
    return Client(host, 993, ssl_context=tls, timeout=30)


def submission(address: str, tls: ssl.SSLContext, host: str, port: int = 587) -> smtplib.SMTP:
    client = smtplib.SMTP(address, port, timeout=30)
    client._host = host  # the name STARTTLS checks the certificate against
    client.starttls(context=tls)
    return client


def find(address: str, tls: ssl.SSLContext, host: str, user: str, password: str, subject: str) -> list[bytes]:
    """Every message in the member's INBOX whose subject contains `subject`."""
    client = imap(address, tls, host)
    try:
        client.login(user, password)
        client.select("INBOX")
        _, found = client.search(None, "SUBJECT", f'"{subject}"')
        return [client.fetch(n, "(RFC822)")[1][0][1] for n in found[0].split()]
    finally:
        client.logout()


def wait_for(address: str, tls: ssl.SSLContext, host: str, user: str, password: str, subject: str,
             timeout: float = 90) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find(address, tls, host, user, password, subject)
        if found:
            return found[-1]
        time.sleep(2)
    raise AssertionError(f"no message {subject!r} for {user} within {timeout} s")
