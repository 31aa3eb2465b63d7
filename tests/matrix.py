"""A real Matrix client (matrix-nio) for the sandbox tests: log in, register, talk in a room, read history.

Every call goes to the sandbox's address under the homeserver's name (matrix.<domain>) and checks TLS
against the server's Caddy CA, as a member's app would with public DNS.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from nio import AsyncClient, JoinResponse, LoginResponse, RoomCreateResponse, RoomMessagesResponse, RoomSendResponse

TIMEOUT = 60


class OneName(AbstractResolver):
    """Resolves the homeserver's name to the sandbox, as public DNS would."""

    def __init__(self, name: str, address: str):
        self.name, self.address = name, address

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if host != self.name:
            raise OSError(f"{host} is not the homeserver {self.name}")
        return [{"hostname": host, "host": self.address, "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


class Homeserver:
    def __init__(self, name: str, address: str, tls: ssl.SSLContext):
        self.name, self.address, self.tls = name, address, tls

    def client(self, user: str = "") -> AsyncClient:
        client = AsyncClient(f"https://{self.name}", user, ssl=self.tls)
        client.client_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=OneName(self.name, self.address), ssl=self.tls),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        return client

    def run(self, coroutine):
        return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT * 3))

    def login_ok(self, user: str, password: str) -> bool:
        async def attempt() -> bool:
            client = self.client(f"@{user}:{self.name}")
            try:
                return isinstance(await client.login(password), LoginResponse)
            finally:
                await client.close()
        return self.run(attempt())

    def token_login(self, token: str) -> str | None:
        """The Matrix ID a login token (what Synapse hands a client after single sign-on) logs in as."""
        async def attempt() -> str | None:
            client = self.client()
            try:
                answer = await client.login(token=token)
                return answer.user_id if isinstance(answer, LoginResponse) else None
            finally:
                await client.close()
        return self.run(attempt())

    def register(self, user: str, password: str) -> tuple[int, dict]:
        """Open sign-up, as Element's "Create account" asks for it (the dummy flow)."""
        async def attempt() -> tuple[int, dict]:
            client = self.client()
            try:
                async with client.client_session.post(
                        f"https://{self.name}/_matrix/client/v3/register",
                        json={"username": user, "password": password, "auth": {"type": "m.login.dummy"}}) as answer:
                    return answer.status, await answer.json()
            finally:
                await client.close()
        return self.run(attempt())

    def talk(self, sender: tuple[str, str], reader: tuple[str, str], text: str) -> list[str]:
        """`sender` opens a private room, invites `reader`, who joins; `sender` says `text`; returns what
        `reader` reads in the room's history (newest first)."""
        async def conversation() -> list[str]:
            a, b = self.client(f"@{sender[0]}:{self.name}"), self.client(f"@{reader[0]}:{self.name}")
            try:
                for client, (_, password) in ((a, sender), (b, reader)):
                    assert isinstance(await client.login(password), LoginResponse)
                created = await a.room_create(name="sovstack test", invite=[f"@{reader[0]}:{self.name}"])
                assert isinstance(created, RoomCreateResponse), created
                assert isinstance(await b.join(created.room_id), JoinResponse)
                sent = await a.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": text})
                assert isinstance(sent, RoomSendResponse), sent
                return await self.history(b, created.room_id)
            finally:
                await a.close()
                await b.close()
        return self.run(conversation())

    def read(self, reader: tuple[str, str]) -> list[str]:
        """Every text `reader` reads in the rooms they are in, newest first (after a restore)."""
        async def reading() -> list[str]:
            client = self.client(f"@{reader[0]}:{self.name}")
            try:
                assert isinstance(await client.login(reader[1]), LoginResponse)
                rooms = await client.joined_rooms()
                texts: list[str] = []
                for room in rooms.rooms:
                    texts += await self.history(client, room)
                return texts
            finally:
                await client.close()
        return self.run(reading())

    @staticmethod
    async def history(client: AsyncClient, room_id: str) -> list[str]:
        sync = await client.sync(timeout=0)
        start = sync.next_batch
        answer = await client.room_messages(room_id, start=start, limit=50)
        assert isinstance(answer, RoomMessagesResponse), answer
        return [event.body for event in answer.chunk if hasattr(event, "body")]
