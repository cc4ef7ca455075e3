"""Every response the test servers send, and whether it carried personal data: replaying the
suite must leave exactly one access-log row per such response (and none for the others).

Personal data is recognised here independently of the product: any JSON object holding a
household's id, pseudonymous reference or house number, a refused row as read from a file, or,
in any other body (a map page), a household id of the synthetic surveys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

PERSONAL_KEYS = frozenset({"household_id", "household_ref", "house_no"})
#: The API's own description names those keys: it is not data.
DOCUMENTS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True)
class Seen:
    database_url: str
    request_id: str
    method: str
    path: str
    status: int
    personal: bool


SEEN: list[Seen] = []
#: The synthetic surveys' household ids: subdistrict, moo, then a number.
HOUSEHOLD_ID = re.compile(rb"\b\d{8}-\d{5}\b")
#: A pseudonymous household reference (a keyed BLAKE2b-256, in hex), as a page shows it: whole,
#: or its first 12 characters in a table cell.
HOUSEHOLD_REF = re.compile(rb"\b[0-9a-f]{64}\b|>[0-9a-f]{12}<")
#: A household id inside a binary file (a GeoPackage's records run values together).
PACKED_ID = re.compile(rb"(?<!\d)\d{8}-\d{5}")


#: A schema's field types (TileJSON's ``fields``): a field named ``household_id`` there is not data.
FIELD_TYPES = {"String", "Number", "Boolean"}


def personal(body: bytes) -> bool:
    if body.lstrip()[:1] not in (b"{", b"["):
        try:
            body.decode()
        except UnicodeDecodeError:
            return PACKED_ID.search(body) is not None or HOUSEHOLD_REF.search(body) is not None
        return HOUSEHOLD_ID.search(body) is not None or HOUSEHOLD_REF.search(body) is not None
    if not any(f'"{key}"'.encode() in body for key in (*PERSONAL_KEYS, "row_number")):
        return False
    try:
        stack = [json.loads(body)]
    except ValueError:
        return True  # names a personal key but is not JSON: counted, to be looked at
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            named = {k for k, v in item.items() if v is not None}  # a community's case: no one
            if PERSONAL_KEYS & named and not all(
                isinstance(v, str) and v in FIELD_TYPES for v in item.values()
            ):
                return True
            if "row_number" in item and item.get("values"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


#: A file attached to a case, or a photo of a report, is about its household: personal, whatever
#: it holds.
ATTACHMENT = re.compile(r"/cases/\d+/attachments/\d+|/reports/\d+/photos/\d+")


class Recorder:
    """ASGI middleware around the app under test that notes each response in ``SEEN``."""

    def __init__(self, app: ASGIApp, database_url: str) -> None:
        self.app = app
        self.database_url = database_url

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["path"] in DOCUMENTS:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        body = bytearray()

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, noting)
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        SEEN.append(
            Seen(
                self.database_url,
                headers.get("x-request-id", ""),
                scope["method"],
                scope["path"],
                int(start.get("status", 0)),
                personal(bytes(body))
                or (ATTACHMENT.fullmatch(scope["path"]) is not None and start.get("status") == 200),
            )
        )
