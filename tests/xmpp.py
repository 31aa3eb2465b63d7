"""A real XMPP client (slixmpp) for the sandbox tests: log in, join a room, talk, ask for an upload slot.

Every call connects to the sandbox's address and checks TLS against the server's Caddy CA for the
chat name (xmpp.<domain>), as a member's app would with public DNS.
"""

from __future__ import annotations

import asyncio
import ssl
from xml.etree import ElementTree

import slixmpp

UPLOAD_NS = "{urn:xmpp:http:upload:0}"


class Member(slixmpp.ClientXMPP):
    def __init__(self, jid: str, password: str, tls: ssl.SSLContext):
        super().__init__(jid, password)
        self.ssl_context = tls
        self.register_plugin("xep_0030")  # service discovery: the room's features
        self.register_plugin("xep_0045")  # group chats
        loop = asyncio.get_event_loop()
        self.logged_in: asyncio.Future = loop.create_future()
        self.heard: asyncio.Queue = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: self._settle(True))
        self.add_event_handler("failed_auth", lambda _: self._settle(False))
        self.add_event_handler("groupchat_message", lambda msg: self.heard.put_nowait((msg["mucnick"], msg["body"])))

    def _settle(self, ok: bool) -> None:
        if not self.logged_in.done():
            self.logged_in.set_result(ok)


async def _connect(address: str, jid: str, password: str, tls: ssl.SSLContext) -> Member:
    member = Member(jid, password, tls)
    member.connect(host=address, port=5222)
    await asyncio.wait_for(member.logged_in, 30)
    return member


def login_ok(address: str, jid: str, password: str, tls: ssl.SSLContext) -> bool:
    """Whether the server accepts this JID and password (SASL over STARTTLS on 5222)."""
    async def run() -> bool:
        member = await _connect(address, jid, password, tls)
        member.disconnect()
        return member.logged_in.result()
    return asyncio.run(run())


def room_exchange(address: str, speaker: tuple[str, str], listener: tuple[str, str], room: str, text: str,
                  tls: ssl.SSLContext) -> dict:
    """`speaker` and `listener` (jid, password) join `room`; the speaker says `text`. Returns the room's
    disco features, what the listener heard from the speaker, and an upload slot the speaker got."""
    async def run() -> dict:
        a = await _connect(address, *speaker, tls)
        b = await _connect(address, *listener, tls)
        try:
            assert a.logged_in.result() and b.logged_in.result(), "both members must log in"
            info = await a.plugin["xep_0030"].get_info(jid=room, timeout=20)
            await b.plugin["xep_0045"].join_muc_wait(room, "listener", maxchars=0, timeout=20)
            await a.plugin["xep_0045"].join_muc_wait(room, "speaker", maxchars=0, timeout=20)
            a.send_message(mto=room, mbody=text, mtype="groupchat")
            heard = None
            while heard is None:
                nick, body = await asyncio.wait_for(b.heard.get(), 20)
                if nick == "speaker":
                    heard = body
            return {"features": list(info["disco_info"]["features"]), "heard": heard}
        finally:
            a.disconnect()
            b.disconnect()
    return asyncio.run(run())


def upload_slot(address: str, member: tuple[str, str], service: str, name: str, size: int,
                tls: ssl.SSLContext) -> dict:
    """An HTTP upload slot (XEP-0363): the PUT URL with its headers, and the GET URL."""
    async def run() -> dict:
        a = await _connect(address, *member, tls)
        try:
            iq = a.make_iq_get(ito=service)
            request = ElementTree.Element(f"{UPLOAD_NS}request", filename=name, size=str(size))
            request.set("content-type", "text/plain")
            iq.append(request)
            slot = (await iq.send(timeout=20)).xml.find(f"{UPLOAD_NS}slot")
            put = slot.find(f"{UPLOAD_NS}put")
            return {"put": put.get("url"), "get": slot.find(f"{UPLOAD_NS}get").get("url"),
                    "headers": {h.get("name"): h.text for h in put.findall(f"{UPLOAD_NS}header")}}
        finally:
            a.disconnect()
    return asyncio.run(run())


def can_join(address: str, member: tuple[str, str], room: str, tls: ssl.SSLContext) -> str:
    """What the room answers the member's join: "joined" (its own presence comes back) or the error condition
    of the error presence a members-only room sends a stranger (registration-required)."""
    async def run() -> str:
        a = await _connect(address, *member, tls)
        answer: asyncio.Future = asyncio.get_event_loop().create_future()

        def presence(stanza) -> None:
            if stanza["from"].bare != room or answer.done():
                return
            if stanza["type"] == "error":
                answer.set_result(stanza["error"]["condition"])
            elif stanza["from"].resource == "joiner":
                answer.set_result("joined")
        try:
            assert a.logged_in.result(), "the member must log in"
            a.add_event_handler("presence", presence)
            # A join presence (with the MUC element), as join_muc_wait sends it; its wait misses Prosody's error.
            a.plugin["xep_0045"].make_join_stanza(room=room, nick="joiner", maxchars=0).send()
            return await asyncio.wait_for(answer, 20)
        finally:
            a.disconnect()
    return asyncio.run(run())
