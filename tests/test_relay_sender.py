"""Who tools send as through a hosted relay: their own address on the domain (sender: per-tool), or the
relay's login when the hoster accepts only the mailbox's own address (sender: login, what init drafts
unless the hoster documents that any address on the domain is accepted)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sovstack.catalog import load_catalog
from sovstack.errors import UserError
from sovstack.members.welcome import sender as welcome_sender
from sovstack.stack.draft import mail_relay
from sovstack.stack.stackfile import parse_stack
from sovstack.wiring import mail
from sovstack.wiring.dns_records import notes
from sovstack.wiring.wire import wire

BASE = {"organisation": "Les Voisins", "domain": "voisins.example.org", "admin_email": "admin@voisins.example.org",
        "servers": {"main": {"address": "203.0.113.5"}, "web": {"address": "203.0.113.6"}},
        "tools": {"nextcloud": {"server": "main"}, "hedgedoc": {"server": "web"}}}

# (mail_relay, a tool's From, a server's own From, the welcome mail's From, the domain its SPF/DKIM live on)
SENDERS = [
    ({"host": "smtp.example.net", "username": "asso@example.net"},
     "nextcloud@voisins.example.org", "sovstack-web@voisins.example.org", "postmaster@voisins.example.org",
     "voisins.example.org"),
    ({"host": "smtp.example.net", "username": "asso@example.net", "from_domain": "lists.voisins.example.org"},
     "nextcloud@lists.voisins.example.org", "sovstack-web@lists.voisins.example.org",
     "postmaster@lists.voisins.example.org", "lists.voisins.example.org"),
    ({"host": "smtp.example.net", "username": "contact@voisins.example.org", "sender": "login"},
     "contact@voisins.example.org", "contact@voisins.example.org", "contact@voisins.example.org",
     "voisins.example.org"),
    ({"host": "smtp.example.net", "username": "asso@hoster.example", "sender": "login"},
     "asso@hoster.example", "asso@hoster.example", "asso@hoster.example", "hoster.example"),
]


def _wired(relay):
    catalog = load_catalog()
    stack = parse_stack(dict(BASE, mail_relay=relay), "sovstack.yml", catalog)
    return wire(stack, catalog)


@pytest.mark.parametrize("relay,tool_from,server_from,welcome_from,domain", SENDERS)
def test_every_sender_on_a_relay_uses_the_address_the_relay_accepts(relay, tool_from, server_from, welcome_from,
                                                                    domain):
    w = _wired(relay)
    assert mail.context(w, "nextcloud", {}, "pw")["from_address"] == tool_from
    assert mail.server_context(w, {}, "pw", "web")["from_address"] == server_from
    assert welcome_sender(w.stack) == welcome_from
    assert any(f"documents for {domain} " in n for n in notes(w))


# (mail_relay, words of the error)
BAD_RELAYS = [
    ({"host": "smtp.example.net", "username": "asso", "sender": "login"}, ["mail_relay", "'username' must be an address",
                                                                           "'asso'"]),
    ({"host": "smtp.example.net", "username": "a@example.net", "sender": "login", "from_domain": "example.org"},
     ["mail_relay", "from_domain has no use with sender: login"]),
    ({"host": "smtp.example.net", "username": "a@example.net", "sender": "anyone"}, ["mail_relay.sender", "'anyone'"]),
]


@pytest.mark.parametrize("relay,words", BAD_RELAYS)
def test_a_relay_sender_that_cannot_work_is_refused_with_the_key(relay, words):
    with pytest.raises(UserError) as err:
        parse_stack(dict(BASE, mail_relay=relay), "sovstack.yml", load_catalog())
    for word in words:
        assert word in err.value.message, (word, err.value.message)


@pytest.mark.parametrize("documented,drafted", [("login", "login"), (None, "login"), ("any", "per-tool")])
def test_init_drafts_per_tool_senders_only_where_the_hoster_documents_them(documented, drafted):
    smtp = SimpleNamespace(host="smtp.example.net", port=587, security="starttls", sender=documented)
    assert mail_relay(smtp, "asso@example.net")["sender"] == drafted


def test_proton_documents_that_the_token_address_is_the_sender():
    # https://proton.me/support/smtp-submission: mail sent with an SMTP token has its address as the From.
    proton = load_catalog().hosters["proton"]
    assert proton.offer_for("email", None).smtp.sender == "login"
