"""Roles × scopes × endpoints against an oracle in SQL; logins; the PDPA access log."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from api.auth import Permission
from layers.settings import Settings
from tests.api.test_cli import run
from tests.conftest import engine_for, serve, token_for

# Ubon's synthetic survey: the officer's own subdistrict, a sibling in the same district, the
# parent district, and another province.
RELATIONS = ("own", "sibling", "parent", "other")


def _permissions(dependant: Dependant) -> list[str]:
    found = [d.call.name for d in dependant.dependencies if isinstance(d.call, Permission)]
    for sub in dependant.dependencies:
        found += _permissions(sub)
    return found


def test_every_route_declares_its_permission() -> None:
    app = create_app(Settings(database_url="postgresql://unused/none"))
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in app.routes
        if isinstance(r, APIRoute) and not _permissions(r.dependant)
    ]
    assert not missing, f"routes without a permission: {missing}"


@pytest.fixture(scope="module")
def world(analysis_settings: Settings) -> dict[str, Any]:
    """Codes for each relation, a household of each, and the users of every role."""
    assert analysis_settings.database_url is not None
    url = analysis_settings.database_url
    engine = engine_for(url)
    with engine.connect() as conn:
        own, sibling = conn.execute(
            text(
                "SELECT subdistrict_code FROM household WHERE round = 2567 "
                "AND district_code = (SELECT district_code FROM household WHERE round = 2567 "
                "GROUP BY 1 ORDER BY count(DISTINCT subdistrict_code) DESC, 1 LIMIT 1) "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2"
            )
        ).scalars()
    with engine.begin() as conn:
        # A municipal community across the own subdistrict and its sibling.
        community = "ชุมชนหนองบัว"
        moved = conn.execute(
            text(
                "UPDATE household SET community = :c WHERE subdistrict_code IN (:a, :b) "
                "AND right(household_id, 1) IN ('1', '2', '3')"
            ),
            {"c": community, "a": own, "b": sibling},
        )
        assert moved.rowcount > 0
    with engine.connect() as conn:
        citizen_home = conn.scalar(
            text(
                "SELECT household_id FROM household WHERE subdistrict_code = :s "
                "ORDER BY household_id LIMIT 1"
            ),
            {"s": own},
        )
    engine.dispose()
    assignments: dict[str, dict[str, Any]] = {
        "citizen": {"area": own, "household": citizen_home},
        "officer": {"area": own},
        "district_officer": {"area": own[:4]},
        "governor": {"area": "34"},
        "agency_officer": {"area": own[:4], "categories": ["no_land_title", "illiteracy"]},
        "community_leader": {"area": own[:4], "community": community},
        "reviewer": {},
        "analyst": {},
        "admin": {},
    }
    tokens = {
        name: token_for(url, "officer" if name == "district_officer" else name, **given)
        for name, given in assignments.items()
    }
    return {
        "url": url,
        "areas": {"own": own, "sibling": sibling, "parent": own[:4], "other": "10"},
        "assignments": assignments,
        "tokens": tokens,
    }


@pytest.fixture(scope="module")
def anonymous(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as client:
        yield client


def conditions(
    role: str, given: dict[str, Any], area: str
) -> tuple[list[str], list[str], dict[str, Any]]:
    """What a role may see, as SQL written independently of the product: conditions on the
    household ``h``, conditions on its problem ``p`` (category ``c``), and their parameters."""
    on_household = ["h.subdistrict_code LIKE :area"]
    on_problem: list[str] = []
    params: dict[str, Any] = {"area": area + "%"}
    if given.get("area"):
        on_household.append("h.subdistrict_code LIKE :own")
        params["own"] = given["area"] + "%"
    if role == "citizen":
        on_household.append("h.household_id = :home")
        params["home"] = given["household"]
    if role == "community_leader":
        on_household.append("h.community = :community")
        params["community"] = given["community"]
    if role == "agency_officer":
        on_problem.append("p.category = ANY(:categories)")
        params["categories"] = given["categories"]
    if role == "reviewer":
        on_problem.append("NOT c.within_mandate")
    return on_household, on_problem, params


WITH_PROBLEMS = (
    "JOIN problem p ON p.household_id = h.household_id AND p.round = h.round "
    "JOIN problem_category c ON c.code = p.category"
)


def oracle(
    engine: Engine, role: str, given: dict[str, Any], area: str, every_round: bool = False
) -> set[str]:
    """The households a role may see in an area (in round 2567, or in any)."""
    on_household, on_problem, params = conditions(role, given, area)
    if not every_round:
        on_household.append("h.round = 2567")
    # Roles limited to some problems see the households that have one of them.
    joined = WITH_PROBLEMS if on_problem else ""
    where = " AND ".join(on_household + on_problem)
    sql = f"SELECT DISTINCT h.household_id FROM household h {joined} WHERE {where}"  # noqa: S608
    with engine.connect() as conn:
        return set(conn.scalars(text(sql), params))


def problem_oracle(engine: Engine, role: str, given: dict[str, Any], area: str) -> set[str]:
    """The households whose problems (any round) a role may see in an area."""
    on_household, on_problem, params = conditions(role, given, area)
    where = " AND ".join(on_household + on_problem)
    sql = f"SELECT DISTINCT h.household_id FROM household h {WITH_PROBLEMS} WHERE {where}"  # noqa: S608
    with engine.connect() as conn:
        return set(conn.scalars(text(sql), params))


def test_the_authorization_matrix_has_no_leaks_and_no_wrongful_denials(
    analysis_settings: Settings, world: dict[str, Any]
) -> None:
    engine = engine_for(world["url"])
    failures = []
    for name, relation in itertools.product(world["tokens"], RELATIONS):
        role = "officer" if name == "district_officer" else name
        given = world["assignments"][name]
        area = world["areas"][relation]
        with serve(analysis_settings, world["tokens"][name]) as client:
            listed = client.get("/households", params={"area": area, "round": 2567, "limit": 1000})
            outside = (
                area
                and given.get("area")
                and not (area.startswith(given["area"]) or given["area"].startswith(area))
            )
            expected = set() if outside else oracle(engine, role, given, area)
            if outside:
                if listed.status_code != 404:
                    failures.append(f"{name}/{relation}: list {listed.status_code}, want 404")
                continue
            if listed.status_code != 200:
                failures.append(f"{name}/{relation}: list {listed.status_code}")
                continue
            body = listed.json()
            key = "household_ref" if role == "analyst" else "household_id"
            got = {item[key] for item in body["items"]}
            if role == "analyst":
                if body["total"] != len(expected) or any("house_no" in i for i in body["items"]):
                    failures.append(f"{name}/{relation}: pseudonymised list wrong")
            elif got != expected or body["total"] != len(expected):
                failures.append(f"{name}/{relation}: list {len(got)} vs oracle {len(expected)}")
            problems = client.get("/problems", params={"area": area, "limit": 1000}).json()
            if role != "analyst":
                seen = {p["household_id"] for p in problems["items"]}
                allowed = problem_oracle(engine, role, given, area)
                if not seen <= allowed or (problems["total"] <= 1000 and seen != allowed):
                    failures.append(f"{name}/{relation}: problems {len(seen)} vs {len(allowed)}")
            # Single objects: one visible household answers 200; one outside the scope 404 with
            # nothing of it in the body.
            with engine.connect() as conn:
                anyone = conn.scalar(
                    text(
                        "SELECT household_id FROM household WHERE round = 2567 AND "
                        "subdistrict_code LIKE :a ORDER BY household_id LIMIT 1"
                    ),
                    {"a": area + "%"},
                )
            if anyone is None:
                continue
            everyone = oracle(engine, role, given, "", every_round=True)
            answer = client.get(f"/households/{anyone}")
            want = 200 if anyone in everyone else 404
            if answer.status_code != want:
                failures.append(f"{name}/{relation}: object {answer.status_code}, want {want}")
            if want == 404 and anyone in answer.text:
                failures.append(f"{name}/{relation}: the 404 body names the household")
    engine.dispose()
    assert not failures, "\n".join(failures)


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
