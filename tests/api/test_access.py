"""Refusals, logins and tokens, and the PDPA access log."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from layers.store.settings import Settings
from tests.factories import engine_for, run, serve


@pytest.fixture(scope="module")
def anonymous(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as client:
        yield client


def test_functions_a_role_may_not_use_answer_403_and_anonymous_callers_401(
    world: dict[str, Any], analysis_settings: Settings, anonymous: httpx.Client
) -> None:
    with serve(analysis_settings, world["tokens"]["citizen"]) as citizen:
        assert citizen.get("/stats", params={"level": "district", "area": "34"}).status_code == 403
        assert citizen.post("/hotspots", json={}).status_code == 403
    with serve(analysis_settings, world["tokens"]["reviewer"]) as reviewer:
        assert reviewer.get("/households/x/export").status_code == 403
    denied = anonymous.get("/households")
    assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
    assert anonymous.get("/health").status_code == 200
    with serve(analysis_settings, world["tokens"]["governor"]) as governor:
        assert governor.get("/stats", params={"level": "district", "area": "30"}).status_code == 404
        mine = governor.get("/stats", params={"level": "district"})
        assert mine.status_code == 200 and {r["code"][:2] for r in mine.json()} == {"34"}


def test_password_login_tokens_and_revocation(
    analysis_settings: Settings, anonymous: httpx.Client
) -> None:
    assert analysis_settings.database_url is not None
    url = analysis_settings.database_url
    added = run(
        "users",
        "add",
        "somchai",
        "--role",
        "governor",
        "--area",
        "34",
        "--password",
        "correct horse battery",
        url=url,
    )
    assert added.returncode == 0, added.stderr
    wrong = anonymous.post("/auth/token", data={"username": "somchai", "password": "nope"})
    assert wrong.status_code == 401
    login = anonymous.post(
        "/auth/token", data={"username": "somchai", "password": "correct horse battery"}
    )
    assert login.status_code == 200
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = anonymous.get("/auth/me", headers=bearer).json()
    assert (me["role"], me["area"]) == ("governor", "34")
    issued = run("users", "token", "somchai", url=url)
    token = issued.stdout.strip()
    assert token.startswith("bmr_")
    assert (
        anonymous.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert run("users", "revoke", "somchai", url=url).returncode == 0
    assert (
        anonymous.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb21jaGFpIn0.x"}
    assert anonymous.get("/auth/me", headers=forged).status_code == 401
    listed = run("users", "list", "--json", url=url)
    assert "password" not in listed.stdout and "somchai" in listed.stdout


def test_gis_clients_log_in_as_qgis_does_and_by_http_basic_with_an_api_token(
    analysis_settings: Settings, anonymous: httpx.Client
) -> None:
    """QGIS 3.22 sends no bearer header of its own: its OAuth2 "Resource Owner" method posts the
    password form with a ``client_id`` once, then sends the token; or HTTP Basic."""
    url = analysis_settings.database_url
    assert url is not None
    password = "a gis client's password"
    added = run("users", "add", "qgis-user", "--role", "analyst", "--password", password, url=url)
    assert added.returncode == 0, added.stderr
    form = {"grant_type": "password", "username": "qgis-user", "password": password}
    issued = anonymous.post("/auth/token", data=form | {"client_id": "qgis"})
    assert issued.status_code == 200
    answer = issued.json()
    assert answer["token_type"] == "bearer" and answer["expires_in"] > 0
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    assert anonymous.get("/auth/me", headers=bearer).json()["name"] == "qgis-user"

    token = run("users", "token", "qgis-user", url=url).stdout.strip()

    def basic(name: str, secret: str) -> dict[str, str]:
        pair = base64.b64encode(f"{name}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}

    me = anonymous.get("/auth/me", headers=basic("qgis-user", token))
    assert me.status_code == 200 and me.json()["name"] == "qgis-user"
    assert me.headers["cache-control"] == "private, no-store"
    refused = {
        "the password instead of a token": basic("qgis-user", password),
        "another user's name": basic("somebody-else", token),
        "no token at all": basic("qgis-user", ""),
        "not base64": {"Authorization": "Basic %%%"},
        "another scheme": {"Authorization": f"Token {token}"},
    }
    for why, headers in refused.items():
        assert anonymous.get("/auth/me", headers=headers).status_code == 401, why
    assert run("users", "revoke", "qgis-user", url=url).returncode == 0
    assert anonymous.get("/auth/me", headers=basic("qgis-user", token)).status_code == 401


def test_every_personal_response_writes_one_log_row_and_the_log_is_append_only(
    analysis_settings: Settings, world: dict[str, Any]
) -> None:
    engine = engine_for(world["url"])
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM access_log"))
    with serve(analysis_settings, world["tokens"]["officer"]) as client:
        responses = [
            client.get("/households", params={"limit": 5}, headers={"X-Purpose": "home visit"}),
            client.get("/problems", params={"limit": 5}),
        ]
        home = responses[0].json()["items"][0]["household_id"]
        responses.append(client.get(f"/households/{home}"))
        responses.append(client.get(f"/households/{home}/export"))
        assert all(r.status_code == 200 for r in responses)
        assert (
            client.get(
                "/stats", params={"level": "village", "area": world["areas"]["own"]}
            ).status_code
            == 200
        )
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT request_id, purpose, households FROM access_log ORDER BY id OFFSET :n"),
            {"n": before},
        ).all()
    assert [r.request_id for r in rows] == [r.headers["x-request-id"] for r in responses]
    assert rows[0].purpose == "home visit" and home in rows[0].households
    export = responses[3].json()
    assert export["household_id"] == home and export["access_log"]
    saw = run("audit", "who-saw", "--household", home, "--json", url=world["url"])
    assert saw.returncode == 0 and saw.stdout.count('"request_id"') >= 3
    for statement in (
        "UPDATE access_log SET purpose = 'x'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ):
        with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    engine.dispose()
