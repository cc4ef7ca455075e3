"""What an outside tester attacked: login guessing, headers, request ids, tokens without an
expiry, hostile parameters, chunked bodies without a length."""

from __future__ import annotations

import base64
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from api.auth import ALGORITHM, signing_key
from layers.store.settings import Settings
from tests.api.browser import app_only, watch
from tests.factories import engine_for, run, serve, token_for

PASSWORD = "a long enough secret"


def add_login(url: str, name: str) -> None:
    added = run("users", "add", name, "--role", "analyst", "--password", PASSWORD, url=url)
    assert added.returncode == 0, added.stderr


def login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post("/auth/token", data={"username": name, "password": password})


def test_failed_logins_are_throttled_per_user_name_and_per_address(loaded_url: str) -> None:
    settings = Settings(database_url=loaded_url, login_failures_per_address=8, login_window_s=60)
    for name in ("guessed", "neighbour"):
        add_login(loaded_url, name)
    with serve(settings) as client:
        statuses = [login(client, "guessed", "wrong password").status_code for _ in range(5)]
        assert statuses == [401] * 5
        # The sixth try, even with the right password, waits for the window.
        refused = login(client, "guessed", PASSWORD)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 60 and "try again in" in refused.json()["detail"]
        # Another name from the same address still gets its tries, up to the address's limit.
        assert login(client, "neighbour", PASSWORD).status_code == 200
        assert [login(client, f"nobody-{i}", "x").status_code for i in range(3)] == [401] * 3
        assert login(client, "neighbour", PASSWORD).status_code == 429  # 8 from this address
    engine = engine_for(loaded_url)
    with engine.connect() as conn:
        kept = conn.scalar(text("SELECT count(*) FROM login_failure WHERE user_name = 'guessed'"))
    engine.dispose()
    assert kept == 5


def test_a_throttled_user_may_log_in_again_after_the_window(loaded_url: str) -> None:
    settings = Settings(database_url=loaded_url, login_failures_per_user=2, login_window_s=2)
    add_login(loaded_url, "patient")
    with serve(settings) as client:
        assert [login(client, "patient", "no").status_code for _ in range(2)] == [401, 401]
        refused = login(client, "patient", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) <= 2
        time.sleep(int(refused.headers["retry-after"]) + 0.2)
        assert login(client, "patient", PASSWORD).status_code == 200


SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


def test_every_answer_carries_security_headers_and_personal_ones_are_not_cached(
    loaded_url: str, api: httpx.Client
) -> None:
    anonymous = httpx.Client(base_url=api.base_url)
    for client, path in (
        (anonymous, "/health"),
        (anonymous, "/areas?level=province&limit=2"),
        (anonymous, "/areas/9999"),
        (api, "/auth/me"),
        (api, "/households?area=34"),
        (api, "/openapi.json"),
    ):
        response = client.get(path)
        for header, value in SECURITY.items():
            assert response.headers.get(header) == value, (path, header)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "Authorization" in response.headers["vary"]
        private = response.headers.get("cache-control") == "private, no-store"
        assert private == (client is api), path
    add_login(loaded_url, "cached")
    issued = login(anonymous, "cached", PASSWORD)
    assert issued.status_code == 200 and issued.headers["cache-control"] == "private, no-store"
    anonymous.close()


def test_request_ids_are_ours_and_a_clients_own_is_kept_apart(
    analysis_settings: Settings,
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    params = {"area": "34", "limit": 2}
    with serve(analysis_settings, token_for(url)) as client:
        huge = client.get("/households", params=params, headers={"X-Request-ID": "x" * 8000})
        named = client.get("/households", params=params, headers={"X-Request-ID": "qgis-42.a"})
    assert huge.json()["items"] and named.json()["items"]
    ours = huge.headers["x-request-id"]
    assert len(ours) == 32 and named.headers["x-request-id"] != "qgis-42.a"
    engine = engine_for(url)
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT request_id, client_request_id FROM access_log "
                    "WHERE request_id = ANY(:ids)"
                ),
                {"ids": [ours, named.headers["x-request-id"]]},
            ).all()
        )
    engine.dispose()
    assert rows == {ours: None, named.headers["x-request-id"]: "qgis-42.a"}


def test_login_tokens_must_carry_an_expiry_and_an_issue_time(loaded_url: str) -> None:
    settings = Settings(database_url=loaded_url)
    add_login(loaded_url, "claims")
    now = datetime.now(UTC)
    key = signing_key(settings)
    forged = {
        "no exp": {"sub": "claims", "iat": now},
        "no iat": {"sub": "claims", "exp": now + timedelta(minutes=5)},
        "no sub": {"iat": now, "exp": now + timedelta(minutes=5)},
    }
    with serve(settings) as client:
        for why, claims in forged.items():
            token = jwt.encode(claims, key, algorithm=ALGORITHM)
            answer = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, why
        whole = jwt.encode({"sub": "claims", "iat": now, "exp": now + timedelta(minutes=5)}, key)
        assert client.get("/auth/me", headers={"Authorization": f"Bearer {whole}"}).is_success


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/areas", {"offset": str(2**63)}, 422),
        ("/areas/34\x00", {}, 422),
        ("/areas", {"parent": "34\x00"}, 422),
        ("/households", {"area": "34", "offset": str(2**63)}, 422),
        ("/problems", {"category": "drugs\x00"}, 422),
        ("/problems", {"status": "open\x00"}, 422),
        ("/stats", {"area": "34", "level": "district\x00"}, 422),
        ("/maps/choropleth", {"area": "34", "indicator": "problems\x00"}, 422),
        ("/layers/water_sources/features", {"bbox": "-inf,-inf,inf,inf"}, 422),
        ("/layers/water_sources/features", {"bbox": "100,10,1e309,20"}, 422),
        ("/layers/water_sources/features", {"bbox": "nan,10,101,20"}, 422),
        ("/layers/no_such_kind/features", {}, 404),
        ("/rasters/" + "r" * 300, {}, 422),
    ],
)
def test_hostile_parameters_answer_4xx_never_5xx(
    api: httpx.Client, path: str, params: dict[str, str], status: int
) -> None:
    url = httpx.URL(path.replace("\x00", "%00"), params=params)
    response = api.get(url)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], list | str)


def test_a_chunked_body_without_a_length_is_refused_as_it_passes_the_limit(
    loaded_url: str,
) -> None:
    settings = Settings(database_url=loaded_url, upload_max_bytes=64 * 1024)
    token = token_for(loaded_url)
    with serve(settings, token) as client:
        host, port = client.base_url.host, client.base_url.port
        assert port is not None
        with socket.create_connection((host, port), timeout=10) as raw:
            raw.sendall(
                (
                    "POST /imports HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\n"
                    f"Authorization: Bearer {token}\r\n"
                    "Content-Type: multipart/form-data; boundary=b0undary\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            head = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            raw.sendall(b"%x\r\n%s\r\n" % (len(head), head))
            chunk = b"x" * 16384
            # Four times the limit, a chunk at a time; the answer must come before the end.
            sent, answer = 0, b""
            raw.settimeout(0.05)
            while sent < 4 * settings.upload_max_bytes and not answer:
                raw.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                try:
                    answer = raw.recv(4096)
                except TimeoutError:
                    continue
            raw.settimeout(10)
            while b"\r\n\r\n" not in answer:
                answer += raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 3 * settings.upload_max_bytes, f"the answer came only after {sent:,} bytes"
    uploads = settings.home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_the_docs_work_offline_under_their_content_security_policy(
    api: httpx.Client, browser: Browser
) -> None:
    base = str(api.base_url)
    context, outside = app_only(browser, base)
    page = context.new_page()
    errors = watch(page)
    answer = page.goto(f"{base}/docs")
    assert answer is not None
    assert "script-src 'self' 'sha256-" in answer.headers["content-security-policy"]
    page.wait_for_selector(".opblock-tag", timeout=20_000)
    tags = page.locator(".opblock-tag").all_inner_texts()
    context.close()
    assert any("imports" in t for t in tags) and not errors and not outside, (errors, outside)


#: A 1×1 transparent PNG, served in place of every basemap tile.
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_map_pages_load_their_basemap_under_their_policy(
    analysis_settings: Settings, browser: Browser
) -> None:
    """With the default basemap (OpenStreetMap), a map page's policy lets its tiles in."""
    url = analysis_settings.database_url
    assert url is not None
    settings = analysis_settings.model_copy(update={"map_tiles": "OpenStreetMap"})
    with serve(settings) as client:
        base = str(client.base_url)
        context = browser.new_context()
        tiles: list[str] = []
        outside: list[str] = []

        def route(request_route: Any) -> None:
            address = request_route.request.url
            if address.startswith(base):
                request_route.continue_()
            elif address.startswith("https://tile.openstreetmap.org/"):
                tiles.append(address)
                request_route.fulfill(status=200, content_type="image/png", body=TILE)
            else:
                outside.append(address)
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors = watch(page)
        page.goto(f"{base}/maps/choropleth?area=34")
        page.wait_for_selector(".leaflet-tile-loaded", state="attached", timeout=20_000)
        context.close()
    assert tiles and not outside and not errors, (errors, outside)


def test_a_burst_of_guesses_in_parallel_is_counted_like_guesses_in_a_row(
    loaded_url: str,
) -> None:
    settings = Settings(database_url=loaded_url, login_window_s=60)
    add_login(loaded_url, "burst")
    with serve(settings) as client:
        base = client.base_url

        def guess(_: int) -> int:
            with httpx.Client(base_url=base, timeout=60) as own:
                return login(own, "burst", "wrong password").status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(guess, range(24)))
    engine = engine_for(loaded_url)
    with engine.connect() as conn:
        checked = conn.scalar(text("SELECT count(*) FROM login_failure WHERE user_name = 'burst'"))
    engine.dispose()
    assert statuses.count(401) == checked == 5 and statuses.count(429) == 19
