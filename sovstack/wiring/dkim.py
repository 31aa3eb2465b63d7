"""DKIM: the public half of the signing key, as the DNS TXT record receivers verify signatures with.

The private key is generated once into secrets.yml (tools.<mail server>.dkim_key_pem) so the DNS
record never has to change when a server is rebuilt.
"""

from __future__ import annotations

import base64

# The selector names the key in DNS: <selector>._domainkey.<domain> (RFC 6376 §3.6.2.1).
SELECTOR = "dkim"


def record_name(domain: str) -> str:
    return f"{SELECTOR}._domainkey.{domain}"


def public_key_base64(private_key_pem: str) -> str:
    """Base64 of the DER SubjectPublicKeyInfo: the p= tag (RFC 6376 §3.6.1). ValueError if not a key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM private key without passphrase ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):  # k=rsa in the record; Rspamd signs with RSA
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()
    raise ValueError("not an RSA private key")


def txt_value(private_key_pem: str) -> str:
    """The DKIM key record's text, e.g. 'v=DKIM1; k=rsa; p=MIIBIjAN…'."""
    return f"v=DKIM1; k=rsa; p={public_key_base64(private_key_pem)}"
