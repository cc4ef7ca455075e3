"""What every request must respect and every response carries, as ASGI middleware.

- ``Guard``: our own request id (the client's kept apart when well-formed), a 422 for control
  characters in the path or query string, the body limit counted while the body streams in, and
  the security headers of every answer (``nosniff``, referrer policy, no framing, a
  Content-Security-Policy, and ``Cache-Control: private, no-store`` whenever a caller is
  authenticated or a token is issued).
- ``html_page``: an HTML answer whose policy allows exactly its own inline scripts (by hash),
  the app's files, and the basemap's tile server; framed only by the app's own pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import folium
from fastapi.responses import HTMLResponse

from layers.store.settings import Settings

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

#: A client's own request id is kept (beside ours) only when it looks like one.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CONTROL_CHARACTERS = r"\x00-\x1f\x7f"
"""C0 controls and DEL: none belongs in a parameter (and PostgreSQL text cannot hold U+0000)."""
CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
#: For answers that are not pages: nothing may load, nothing may frame them.
WORKER_POLICY = "default-src 'none'; connect-src 'self'; frame-ancestors 'none'"
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: Routes whose answer is a secret (a login token, a session cookie): never kept by a cache.
SECRET_PATHS = frozenset({"/auth/token", "/login"})
#: The web session's cookie (``api.auth`` reads it; named here, where privacy is decided).
SESSION_COOKIE = "bamrung_session"
_SCRIPT = re.compile(r"<script(?P<attributes>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.I)


def request_id() -> str:
    return secrets.token_hex(16)


class Guard:
    """The checks and headers of every HTTP exchange (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limit = settings.upload_max_bytes

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ours = request_id()
        given = headers.get("x-request-id", "")
        state = scope.setdefault("state", {})
        state["request_id"] = ours
        state["client_request_id"] = given if CLIENT_REQUEST_ID.fullmatch(given) else None
        private = (
            "authorization" in headers
            or SESSION_COOKIE in headers.get("cookie", "")
            or scope["path"] in SECRET_PATHS
        )
        started = refused = False

        async def sending(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's own answer, after ours
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _secured(message.get("headers", []), ours, private)
            await send(message)

        async def refuse(status: int, detail: object) -> None:
            nonlocal refused
            body = json.dumps({"detail": detail}).encode()
            kind = [(b"content-type", b"application/json")]
            await sending({"type": "http.response.start", "status": status, "headers": kind})
            await sending({"type": "http.response.body", "body": body})
            refused = True

        bad = _control_characters(scope)
        if bad is not None:
            message = "control characters (such as NUL) are not allowed"
            await refuse(422, [{"loc": list(bad), "msg": message, "type": "value_error"}])
            return
        declared = headers.get("content-length", "")
        too_large = f"the request is larger than the limit of {self.limit:,} bytes"
        if declared.isdigit() and int(declared) > self.limit:
            await refuse(413, too_large)
            return
        received = 0

        async def receiving() -> Message:
            nonlocal received
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                # Counted as it streams in: a body without a length stops at the limit too.
                received += len(message.get("body", b""))
                if received > self.limit:
                    if not started:
                        await refuse(413, too_large)
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, receiving, sending)


def _secured(
    headers: list[tuple[bytes, bytes]], ours: str, private: bool
) -> list[tuple[bytes, bytes]]:
    have = {k.lower() for k, _ in headers}
    out = [(k, v) for k, v in headers if not (private and k.lower() == b"cache-control")]
    out += [
        (b"x-request-id", ours.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"vary", b"Authorization, Cookie"),
    ]
    if b"x-frame-options" not in have:
        out.append((b"x-frame-options", b"DENY"))
    if b"content-security-policy" not in have:
        kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        # A script's own policy binds it only when it runs as a worker: the map's worker
        # (MapLibre) fetches the app's tiles.
        policy = WORKER_POLICY if kind.startswith(b"text/javascript") else DATA_POLICY
        out.append((b"content-security-policy", policy.encode()))
    if private:
        out += [(b"cache-control", b"private, no-store"), (b"pragma", b"no-cache")]
    return out


def _control_characters(scope: Message) -> tuple[str, str] | None:
    """Where the path or the query string holds a control character: ("path", path) or
    ("query", the parameter's name)."""
    if CONTROL.search(scope["path"]):
        return "path", scope["path"].replace("\x00", "\\x00")[:80]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if CONTROL.search(name) or CONTROL.search(value):
            return "query", CONTROL.sub("?", name)[:80]
    return None


def html_page(page: str, settings: Settings, status: int = 200) -> HTMLResponse:
    """An HTML answer whose Content-Security-Policy allows its own inline scripts (by their
    SHA-256), scripts and styles of the app, inline styles (Leaflet and Folium set them), and
    images from the app, data URIs and the basemap's tile server."""
    hashes = sorted(
        {
            "'sha256-"
            + base64.b64encode(hashlib.sha256(m["body"].encode()).digest()).decode()
            + "'"
            for m in _SCRIPT.finditer(page)
            if "src=" not in m["attributes"]
        }
    )
    images = " ".join(["'self'", "data:", "blob:", *tile_origins(settings.map_tiles)])
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self' " + " ".join(hashes),
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-src 'self'",
            "frame-ancestors 'self'",
        ]
    )
    # The web application's map viewer frames the app's own map pages.
    headers = {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(page, status_code=status, headers=headers)


def tile_origins(tiles: str) -> list[str]:
    """The origins a basemap's tiles come from: ``tiles`` is what the maps give Folium (a tile
    name, or a URL template), resolved the way Folium resolves it; a ``{s}`` subdomain allows
    every subdomain of the host."""
    if tiles == "none":
        return []
    url = tiles
    if "://" not in tiles:
        with warnings.catch_warnings():  # Folium's notes on some providers' terms
            warnings.simplefilter("ignore")
            try:
                url = str(folium.TileLayer(tiles).tiles)
            except (ValueError, KeyError):
                return []
    parts = urlsplit(url.replace("{s}", "subdomain"))
    host = parts.netloc.replace("subdomain", "*")
    return [f"{parts.scheme}://{host}"] if parts.scheme in ("http", "https") and host else []
