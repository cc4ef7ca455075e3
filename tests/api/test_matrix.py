"""The authorization matrix: every endpoint and method × every role × scope relation (own unit,
sibling, parent, other province), against a statement of the policy written here and an oracle
in SQL (``tests.api.oracle``): zero leaks, zero wrongful denials.

The probes are keyed by route; a route of the app without a probe fails the test, so every
endpoint added later joins the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from sqlalchemy import Engine, text

from api.app import create_app
from api.auth import Permission
from layers.store.settings import Settings
from tests.api.oracle import (
    RELATIONS,
    ROUND,
    case_oracle,
    figures_oracle,
    oracle,
    problem_oracle,
    role_of,
)
from tests.factories import engine_for, serve
from tests.recorder import personal

# The policy, by user of ``tests.api.oracle.make_world`` (two officers: a subdistrict's and a
# district's). "anonymous" is a caller without a token.
USERS = frozenset(
    {
        "citizen",
        "community_leader",
        "officer",
        "district_officer",
        "governor",
        "agency_officer",
        "reviewer",
        "analyst",
        "admin",
    }
)
PUBLIC = USERS | {"anonymous"}
EXPORTERS = USERS - {"reviewer", "analyst"}
READERS = USERS - {"citizen"}
#: Analyses over every problem of an area: not for scopes narrower than an area.
AREA_WIDE = frozenset({"officer", "district_officer", "governor", "analyst", "admin"})
IMPORT_READERS = frozenset({"officer", "district_officer", "governor", "admin"})
IMPORTERS = frozenset({"officer", "district_officer", "admin"})
REFERRERS = frozenset({"officer", "district_officer", "governor", "admin"})
CASEWORKERS = USERS - {"analyst"}
#: The district team: issues enrolment codes and verifies citizens' reports.
ENROLLERS = frozenset({"officer", "district_officer", "community_leader", "admin"})
REPORT_READERS = ENROLLERS | {"citizen"}

Call = Callable[[httpx.Client, "Case"], httpx.Response | None]
#: A survey file without rows: accepted, imported as nothing.
HEADER_ONLY = b"household_id,round,subdistrict_code,problem_code\n"
#: The smallest file a case takes: the first bytes of a PNG.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: the relation's area, and what the probe needs of the world."""

    relation: str
    area: str
    world: dict[str, Any]
    objects: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """Who may call an endpoint, and how its answer depends on the caller's area.

    ``shape``: "open" (the same for every allowed caller), "area" (the area asked for must lie
    inside the caller's, else 404), "list" (a list filtered by the scope: 404 only when the area
    and the caller's do not overlap), or "object" (``visible`` says whether the caller may see
    the object the probe asks for, else 404).
    """

    who: frozenset[str]
    shape: str
    call: Call
    visible: Callable[[Engine, str, Case], bool] | None = None


def _level(area: str) -> str:
    return {6: "village", 4: "subdistrict", 2: "district"}[len(area)]


def _household(engine: Engine, case: Case) -> str:
    with engine.connect() as conn:
        found = conn.scalar(
            text(
                "SELECT household_id FROM household WHERE round = :r AND "
                "subdistrict_code LIKE :a ORDER BY household_id LIMIT 1"
            ),
            {"r": ROUND, "a": case.area + "%"},
        )
    return found or "no-such-household"


def _sees_household(engine: Engine, name: str, case: Case) -> bool:
    given = case.world["assignments"].get(name, {})
    home = case.objects["households"][case.relation]
    return home in oracle(engine, role_of(name), given, "", every_round=True)


def _sees_run(engine: Engine, name: str, case: Case) -> bool:
    area = case.objects["runs"][case.relation][1]
    return area.startswith(case.world["assignments"].get(name, {}).get("area", ""))


def _sees_case(engine: Engine, name: str, case: Case) -> bool:
    given = case.world["assignments"].get(name, {})
    return case_oracle(engine, role_of(name), given, case.objects["cases"][case.relation])


def _case(c: httpx.Client, k: Case, tail: str = "") -> str:
    return f"/cases/{k.objects['cases'][k.relation]}{tail}"


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/health"): Probe(PUBLIC, "open", lambda c, _: c.get("/health")),
    ("GET", "/"): Probe(PUBLIC, "open", lambda c, _: c.get("/")),
    ("GET", "/gallery/{name}"): Probe(
        PUBLIC, "object", lambda c, _: c.get("/gallery/none.html"), lambda *_: False
    ),
    ("GET", "/areas"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/areas", params={"level": "province", "limit": 3})
    ),
    ("GET", "/areas/locate"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/areas/locate", params={"lat": 15.24, "lon": 105.23})
    ),
    ("GET", "/areas/{code}"): Probe(PUBLIC, "open", lambda c, k: c.get(f"/areas/{k.area}")),
    ("POST", "/auth/token"): Probe(
        PUBLIC,
        "open",
        lambda c, k: c.post("/auth/token", data=k.objects["login"]),
    ),
    ("GET", "/auth/me"): Probe(USERS, "open", lambda c, _: c.get("/auth/me")),
    ("GET", "/households"): Probe(
        USERS,
        "list",
        lambda c, k: c.get("/households", params={"area": k.area, "round": ROUND, "limit": 5}),
    ),
    ("GET", "/households/{household_id}"): Probe(
        USERS,
        "object",
        lambda c, k: c.get(f"/households/{k.objects['households'][k.relation]}"),
        _sees_household,
    ),
    ("GET", "/households/{household_id}/export"): Probe(
        EXPORTERS,
        "object",
        lambda c, k: c.get(f"/households/{k.objects['households'][k.relation]}/export"),
        _sees_household,
    ),
    ("GET", "/problems"): Probe(
        USERS, "list", lambda c, k: c.get("/problems", params={"area": k.area, "limit": 5})
    ),
    ("GET", "/stats"): Probe(
        READERS | {"anonymous"},
        "area",
        lambda c, k: c.get(
            "/stats", params={"area": k.area, "level": _level(k.area), "round": ROUND}
        ),
    ),
    ("GET", "/density/hexagons"): Probe(
        READERS,
        "area",
        lambda c, k: c.get("/density/hexagons", params={"area": k.area, "round": ROUND}),
    ),
    ("POST", "/density/surface"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: c.post("/density/surface", json={"area": k.area, "cell_m": 2000}),
    ),
    ("POST", "/hotspots"): Probe(
        AREA_WIDE,
        "area",
        # Hotspots run over a district or a province: not asked for a subdistrict.
        lambda c, k: (
            None
            if len(k.area) == 6
            else c.post("/hotspots", json={"area": k.area, "permutations": 99})
        ),
    ),
    ("GET", "/hotspots/{run_id}"): Probe(
        AREA_WIDE,
        "object",
        lambda c, k: c.get(f"/hotspots/{k.objects['runs'][k.relation][0]}"),
        _sees_run,
    ),
    ("GET", "/overlay/zones"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: c.get(
            "/overlay/zones",
            params={"area": k.area, "level": "subdistrict", "kind": "flood_zones"},
        ),
    ),
    ("GET", "/overlay/water-access"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: c.get(
            "/overlay/water-access", params={"area": k.area, "level": "subdistrict"}
        ),
    ),
    ("GET", "/overlay/zonal"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: c.get(
            "/overlay/zonal",
            params={"area": k.area, "level": "subdistrict", "raster": "syn-elevation"},
        ),
    ),
    ("GET", "/targeting"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: c.get("/targeting", params={"area": k.area, "level": "subdistrict"}),
    ),
    ("POST", "/targeting"): Probe(
        AREA_WIDE,
        "area",
        lambda c, k: (
            None
            if len(k.area) == 6
            else c.post("/targeting", json={"area": k.area, "level": "subdistrict"})
        ),
    ),
    ("GET", "/layers"): Probe(READERS, "open", lambda c, _: c.get("/layers")),
    ("GET", "/exports"): Probe(PUBLIC, "open", lambda c, _: c.get("/exports")),
    ("POST", "/exports/jobs"): Probe(
        USERS,
        "area",
        lambda c, k: c.post("/exports/jobs", json={"layers": ["outline"], "area": k.area}),
    ),
    ("GET", "/exports/jobs"): Probe(USERS, "open", lambda c, _: c.get("/exports/jobs")),
    # Nobody's job: every caller is told there is none (a job is seen by its owner only).
    ("GET", "/exports/jobs/{job_id}"): Probe(
        USERS, "object", lambda c, _: c.get(f"/exports/jobs/{2**31 - 1}"), lambda *_: False
    ),
    ("GET", "/exports/jobs/{job_id}/file"): Probe(
        USERS, "object", lambda c, _: c.get(f"/exports/jobs/{2**31 - 1}/file"), lambda *_: False
    ),
    **{
        ("GET", route): Probe(PUBLIC, "open", lambda c, _, path=path: c.get(path))
        for route, path in (
            ("/ogc", "/ogc"),
            ("/ogc/conformance", "/ogc/conformance"),
            ("/ogc/api", "/ogc/api"),
            ("/ogc/collections", "/ogc/collections"),
            ("/ogc/collections/{collection_id}", "/ogc/collections/boundaries_district"),
            (
                "/ogc/collections/{collection_id}/queryables",
                "/ogc/collections/boundaries_district/queryables",
            ),
        )
    },
    ("GET", "/ogc/collections/{collection_id}/items"): Probe(
        USERS - {"analyst"},
        "open",
        lambda c, _: c.get("/ogc/collections/households/items", params={"limit": 5}),
    ),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): Probe(
        USERS - {"analyst"},
        "object",
        lambda c, k: c.get(
            f"/ogc/collections/households/items/{k.objects['households'][k.relation]}.{ROUND}"
        ),
        _sees_household,
    ),
    **{
        ("GET", route): Probe(
            READERS | {"anonymous"},
            "list",
            lambda c, k, path=path, fmt=fmt: (
                None
                if len(k.area) == 6
                else c.get(path, params={"area": k.area, "level": "subdistrict", "format": fmt})
            ),
        )
        for route, path, fmt in (
            ("/exports/{layer}", "/exports/rollup", "csv"),
            ("/exports/{layer}/style", "/exports/rollup/style", "sld"),
        )
    },
    ("GET", "/layers/{kind}/features"): Probe(
        READERS,
        "open",
        lambda c, _: c.get("/layers/water_sources/features", params={"bbox": "104,14,106,16"}),
    ),
    ("GET", "/rasters"): Probe(READERS, "open", lambda c, _: c.get("/rasters")),
    ("GET", "/rasters/{raster_id}"): Probe(
        READERS, "open", lambda c, _: c.get("/rasters/syn-elevation")
    ),
    ("POST", "/imports"): Probe(
        IMPORTERS,
        "open",
        lambda c, _: c.post(
            "/imports",
            files={"file": ("m.csv", HEADER_ONLY, "text/csv")},
        ),
    ),
    **{
        ("GET", f"/maps/{kind}"): Probe(
            who,
            "area",
            # Maps of areas one level down need an area above a subdistrict.
            lambda c, k, kind=kind: (
                None
                if kind in ("choropleth", "targeting") and len(k.area) == 6
                else c.get(f"/maps/{kind}", params={"area": k.area, "level": "subdistrict"})
            ),
        )
        for kind, who in (
            ("choropleth", READERS | {"anonymous"}),
            ("hexbin", READERS | {"anonymous"}),
            ("heatmap", READERS),
            ("water", AREA_WIDE),
            ("targeting", AREA_WIDE),
            ("households", USERS - {"analyst"}),
            ("cases", USERS),
        )
    },
    ("GET", "/maps/hotspots"): Probe(
        AREA_WIDE,
        "object",
        lambda c, k: c.get(
            "/maps/hotspots",
            params={
                "run": k.objects["runs"][k.relation][0],
                "area": k.objects["runs"][k.relation][1],
            },
        ),
        _sees_run,
    ),
    ("GET", "/cases"): Probe(
        USERS, "list", lambda c, k: c.get("/cases", params={"area": k.area, "limit": 5})
    ),
    ("GET", "/cases/kpis"): Probe(
        USERS, "open", lambda c, _: c.get("/cases/kpis", params={"by": "office"})
    ),
    ("POST", "/cases/refer"): Probe(
        REFERRERS,
        "area",
        lambda c, k: c.post("/cases/refer", json={"areas": [k.area], "dry_run": True}),
    ),
    ("GET", "/cases/dead-letters"): Probe(
        frozenset({"admin"}), "open", lambda c, _: c.get("/cases/dead-letters")
    ),
    ("POST", "/cases/dead-letters/replay"): Probe(
        frozenset({"admin"}),
        "open",
        lambda c, _: c.post("/cases/dead-letters/replay", json={"ids": []}),
    ),
    ("GET", "/cases/{case_id}"): Probe(
        USERS, "object", lambda c, k: c.get(_case(c, k)), _sees_case
    ),
    # Without If-Match: 428 for whoever may see the case (nothing changes), else 404.
    ("POST", "/cases/{case_id}/attachments"): Probe(
        CASEWORKERS,
        "object",
        lambda c, k: c.post(_case(c, k, "/attachments"), files={"file": ("a.png", PNG)}),
        _sees_case,
    ),
    ("GET", "/cases/{case_id}/attachments/{attachment_id}"): Probe(
        USERS,
        "object",
        lambda c, k: c.get(_case(c, k, f"/attachments/{k.objects['attachments'][k.relation]}")),
        _sees_case,
    ),
    ("POST", "/cases/{case_id}/{action}"): Probe(
        CASEWORKERS,
        "object",
        lambda c, k: c.post(_case(c, k, "/progress"), json={"note": "probe"}),
        _sees_case,
    ),
    # The web application's pages (their forms sent with a bearer token: no CSRF token needed).
    ("GET", "/login"): Probe(PUBLIC, "open", lambda c, _: c.get("/login")),
    ("POST", "/login"): Probe(  # an empty name: refused before any password is checked
        PUBLIC, "open", lambda c, _: c.post("/login", data={"username": "", "password": "x"})
    ),
    ("POST", "/logout"): Probe(USERS, "open", lambda c, _: c.post("/logout")),
    ("POST", "/lang"): Probe(PUBLIC, "open", lambda c, _: c.post("/lang", data={"lang": "th"})),
    ("GET", "/app"): Probe(USERS, "open", lambda c, _: c.get("/app")),
    ("POST", "/app/targeting"): Probe(
        AREA_WIDE, "open", lambda c, k: c.post("/app/targeting") if k.relation == "own" else None
    ),
    ("GET", "/app/areas"): Probe(
        USERS, "open", lambda c, _: c.get("/app/areas", params={"q": "อุบล"})
    ),
    ("GET", "/app/areas/{code}"): Probe(USERS, "area", lambda c, k: c.get(f"/app/areas/{k.area}")),
    ("GET", "/app/map"): Probe(
        PUBLIC, "open", lambda c, k: c.get("/app/map", params={"area": k.area})
    ),
    ("GET", "/app/atlas"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/app/atlas", params={"tileset": "households"})
    ),
    ("GET", "/tiles/{tileset}.json"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/tiles/cases.json")
    ),
    # A tile of Ubon at zoom 14: points for those who may see them there, areas for the others.
    ("GET", "/tiles/{tileset}/{z}/{x}/{y}.mvt"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/tiles/households/14/12964/7490.mvt")
    ),
    ("GET", "/app/households"): Probe(
        USERS,
        "list",
        lambda c, k: c.get("/app/households", params={"area": k.area, "purpose": "data check"}),
    ),
    ("GET", "/app/households/{household_id}"): Probe(
        USERS,
        "object",
        lambda c, k: c.get(
            f"/app/households/{k.objects['households'][k.relation]}",
            params={"purpose": "data check"},
        ),
        _sees_household,
    ),
    ("GET", "/app/problems"): Probe(
        USERS,
        "list",
        lambda c, k: c.get("/app/problems", params={"area": k.area, "purpose": "data check"}),
    ),
    ("GET", "/app/imports"): Probe(IMPORT_READERS, "open", lambda c, _: c.get("/app/imports")),
    ("POST", "/app/imports"): Probe(
        IMPORTERS,
        "open",
        lambda c, _: c.post("/app/imports", files={"file": ("w.csv", HEADER_ONLY, "text/csv")}),
    ),
    ("GET", "/app/imports/{job_id}"): Probe(
        IMPORT_READERS, "open", lambda c, k: c.get(f"/app/imports/{k.objects['job']}")
    ),
    ("GET", "/app/imports/{job_id}/refused.csv"): Probe(
        IMPORT_READERS, "open", lambda c, k: c.get(f"/app/imports/{k.objects['job']}/refused.csv")
    ),
    ("GET", "/app/cases"): Probe(
        USERS, "list", lambda c, k: c.get("/app/cases", params={"area": k.area})
    ),
    ("GET", "/app/review"): Probe(
        USERS, "list", lambda c, k: c.get("/app/review", params={"area": k.area})
    ),
    ("POST", "/app/cases/refer"): Probe(  # top 0: refused after the permission, nothing referred
        REFERRERS, "open", lambda c, _: c.post("/app/cases/refer", data={"run": 1, "top": 0})
    ),
    ("GET", "/app/cases/{case_id}"): Probe(
        USERS, "object", lambda c, k: c.get(f"/app{_case(c, k)}"), _sees_case
    ),
    # A version the case never had: the stale-page answer for whoever may see the case.
    ("POST", "/app/cases/{case_id}"): Probe(
        CASEWORKERS,
        "object",
        lambda c, k: c.post(
            f"/app{_case(c, k)}",
            data={"action": "progress", "version": 2**31 - 1, "note": "probe"},
        ),
        _sees_case,
    ),
    ("GET", "/app/admin"): Probe(frozenset({"admin"}), "open", lambda c, _: c.get("/app/admin")),
    ("POST", "/app/admin/users"): Probe(  # an unknown role: refused, nobody is added
        frozenset({"admin"}),
        "open",
        lambda c, _: c.post(
            "/app/admin/users", data={"name": "x", "role": "nobody", "password": "x" * 12}
        ),
    ),
    ("POST", "/app/admin/users/{name}/token"): Probe(
        frozenset({"admin"}), "open", lambda c, _: c.post("/app/admin/users/matrix-login/token")
    ),
    ("POST", "/app/admin/users/{name}/revoke"): Probe(
        frozenset({"admin"}), "open", lambda c, _: c.post("/app/admin/users/matrix-login/revoke")
    ),
    ("GET", "/imports/{job_id}"): Probe(
        IMPORT_READERS, "open", lambda c, k: c.get(f"/imports/{k.objects['job']}")
    ),
    ("GET", "/imports/{job_id}/quarantine"): Probe(
        IMPORT_READERS, "open", lambda c, k: c.get(f"/imports/{k.objects['job']}/quarantine")
    ),
    # A household's code, for the teams whose scope holds the household (a code replaces the
    # one before: nothing else changes).
    ("POST", "/enrolment/codes"): Probe(
        ENROLLERS,
        "object",
        lambda c, k: c.post(
            "/enrolment/codes", json={"household_id": k.objects["households"][k.relation]}
        ),
        _sees_household,
    ),
    # A code that cannot be one: 422 for everyone, and no failure counted against the address.
    ("POST", "/enrolment"): Probe(
        PUBLIC,
        "open",
        lambda c, _: c.post(
            "/enrolment", json={"code": "!", "username": "nobody", "password": "x" * 12}
        ),
    ),
    ("POST", "/reports"): Probe(
        frozenset({"citizen"}),
        "open",
        lambda c, _: c.post("/reports", json={"category": "no-such-category", "detail": "x"}),
    ),
    ("GET", "/reports"): Probe(
        REPORT_READERS, "list", lambda c, k: c.get("/reports", params={"area": k.area})
    ),
    # The reports below were decided already: verify, reject and confirm answer 422 to whoever
    # may see them (nothing changes), else 404.
    ("GET", "/reports/{report_id}"): Probe(
        REPORT_READERS, "object", lambda c, k: c.get(_report(k)), _sees_household
    ),
    ("POST", "/reports/{report_id}/verify"): Probe(
        ENROLLERS, "object", lambda c, k: c.post(_report(k, "/verify")), _sees_household
    ),
    ("POST", "/reports/{report_id}/reject"): Probe(
        ENROLLERS,
        "object",
        lambda c, k: c.post(_report(k, "/reject"), json={"reason": "matrix"}),
        _sees_household,
    ),
    ("GET", "/search"): Probe(
        REPORT_READERS, "open", lambda c, _: c.get("/search", params={"q": "หลังคารั่ว"})
    ),
    ("GET", "/open311/v2/discovery.{fmt}"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/open311/v2/discovery.json")
    ),
    ("GET", "/open311/v2/services.{fmt}"): Probe(
        PUBLIC, "open", lambda c, _: c.get("/open311/v2/services.xml")
    ),
    ("GET", "/open311/v2/requests.{fmt}"): Probe(
        REPORT_READERS, "open", lambda c, _: c.get("/open311/v2/requests.json")
    ),
    ("POST", "/open311/v2/requests.{fmt}"): Probe(
        frozenset({"citizen"}),
        "open",
        lambda c, _: c.post("/open311/v2/requests.json", data={"service_code": "no-such"}),
    ),
    ("GET", "/open311/v2/requests/{request_id}.{fmt}"): Probe(
        REPORT_READERS,
        "object",
        lambda c, k: c.get(f"/open311/v2/requests/{k.objects['reports'][k.relation]}.xml"),
        _sees_household,
    ),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): Probe(
        REPORT_READERS,
        "object",
        lambda c, k: c.get(f"/open311/v2/tokens/{k.objects['reports'][k.relation]}.json"),
        _sees_household,
    ),
    ("POST", "/reports/{report_id}/confirm"): Probe(
        frozenset({"citizen"}),
        "object",
        lambda c, k: c.post(_report(k, "/confirm"), json={"solved": True, "version": 1}),
        _sees_household,
    ),
    # Communities: public progress; a meeting dated tomorrow and a move of a done issue are
    # refused (422) for whoever may record for the community, and change nothing.
    ("GET", "/communities"): Probe(PUBLIC, "open", lambda c, _: c.get("/communities")),
    ("GET", "/communities/{code}"): Probe(
        PUBLIC, "open", lambda c, k: c.get(f"/communities/{k.objects['community']}")
    ),
    ("POST", "/communities/{code}/meetings"): Probe(
        ENROLLERS,
        "open",
        lambda c, k: c.post(
            f"/communities/{k.objects['community']}/meetings",
            json={"held_on": "2999-01-01", "attendance": 1, "issues": []},
        ),
    ),
    ("POST", "/communities/issues/{issue_id}/state"): Probe(
        ENROLLERS,
        "open",
        lambda c, k: c.post(
            f"/communities/issues/{k.objects['issue']}/state", json={"state": "in_progress"}
        ),
    ),
    ("GET", "/app/communities"): Probe(PUBLIC, "open", lambda c, _: c.get("/app/communities")),
    ("GET", "/app/communities/{code}"): Probe(
        PUBLIC, "open", lambda c, k: c.get(f"/app/communities/{k.objects['community']}")
    ),
    # Not a photo: 415 for the household's citizen, before anything is kept; 404 elsewhere.
    ("POST", "/reports/{report_id}/photos"): Probe(
        frozenset({"citizen"}),
        "object",
        lambda c, k: c.post(_report(k, "/photos"), files={"file": ("x.jpg", b"not a photo")}),
        _sees_household,
    ),
    # No report has this photo: 404 for whoever may read reports, else 401/403.
    ("GET", "/reports/{report_id}/photos/{photo_id}"): Probe(
        REPORT_READERS,
        "object",
        lambda c, k: c.get(_report(k, f"/photos/{2**40}")),
        lambda *_: False,
    ),
    # LINE is not configured in the world: its webhook does not exist (404 for everyone).
    ("POST", "/line/webhook"): Probe(
        PUBLIC, "object", lambda c, _: c.post("/line/webhook", content=b"{}"), lambda *_: False
    ),
    ("POST", "/app/reports/line"): Probe(
        frozenset({"citizen"}), "open", lambda c, _: c.post("/app/reports/line")
    ),
    # The citizens' pages: as their JSON routes (the passwords differ: nothing is redeemed).
    ("GET", "/enrol"): Probe(PUBLIC, "open", lambda c, _: c.get("/enrol")),
    ("POST", "/enrol"): Probe(
        PUBLIC,
        "open",
        lambda c, _: c.post(
            "/enrol", data={"code": "!", "username": "nobody", "password": "x" * 12, "again": "y"}
        ),
    ),
    ("POST", "/app/households/{household_id}/enrolment"): Probe(
        ENROLLERS,
        "object",
        lambda c, k: c.post(f"/app/households/{k.objects['households'][k.relation]}/enrolment"),
        _sees_household,
    ),
    ("GET", "/app/reports"): Probe(REPORT_READERS, "open", lambda c, _: c.get("/app/reports")),
    ("GET", "/app/reports/new"): Probe(
        frozenset({"citizen"}), "open", lambda c, _: c.get("/app/reports/new")
    ),
    ("POST", "/app/reports/new"): Probe(
        frozenset({"citizen"}),
        "open",
        lambda c, _: c.post("/app/reports/new", data={"category": "no-such", "detail": "x"}),
    ),
    ("GET", "/app/reports/{report_id}"): Probe(
        REPORT_READERS, "object", lambda c, k: c.get(f"/app{_report(k)}"), _sees_household
    ),
    ("POST", "/app/reports/{report_id}/decision"): Probe(
        ENROLLERS,
        "object",
        lambda c, k: c.post(f"/app{_report(k, '/decision')}", data={"action": "verify"}),
        _sees_household,
    ),
    ("POST", "/app/reports/{report_id}"): Probe(
        frozenset({"citizen"}),
        "object",
        lambda c, k: c.post(f"/app{_report(k)}", data={"action": "confirm", "solved": "yes"}),
        _sees_household,
    ),
}


def _permissions(dependant: Dependant | None) -> list[str]:
    if dependant is None:
        return []
    found = [d.call.name for d in dependant.dependencies if isinstance(d.call, Permission)]
    for sub in dependant.dependencies:
        found += _permissions(sub)
    return found


def endpoints(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """Every (method, path) the app serves, with the permissions it declares.

    FastAPI keeps included routers lazily: their routes (with the router's dependencies) are
    read through ``effective_route_contexts``.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for route in app.routes:
        for context in getattr(route, "effective_route_contexts", list)():
            for method in context.methods:
                found[(method, context.path)] = _permissions(context.dependant)
    return found


def test_every_route_declares_its_permission_and_has_a_matrix_probe() -> None:
    served = endpoints(create_app(Settings(database_url="postgresql://unused/none")))
    assert len(served) >= 25, f"the walk found only {sorted(served)}"
    missing = sorted(route for route, declared in served.items() if not declared)
    assert not missing, f"routes without a permission: {missing}"
    assert set(served) == set(PROBES), (
        f"routes without a probe: {sorted(set(served) - set(PROBES))}; "
        f"probes without a route: {sorted(set(PROBES) - set(served))}"
    )


def test_request_bodies_refuse_unknown_fields() -> None:
    """No JSON body takes a field it does not declare (no mass assignment of scope or owner)."""
    document = create_app(Settings(database_url="postgresql://unused/none")).openapi()
    schemas = document["components"]["schemas"]
    bodies = [
        content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for methods in document["paths"].values()
        for operation in methods.values()
        for content in [operation.get("requestBody", {}).get("content", {})]
        if "application/json" in content
    ]
    assert bodies, "no JSON request bodies found"
    assert all(schemas[name].get("additionalProperties") is False for name in bodies), bodies


@pytest.fixture(scope="module")
def objects(world: dict[str, Any], analysis_settings: Settings) -> dict[str, Any]:
    """One household per relation, hotspot runs, an import job and a user who can log in."""
    engine = engine_for(world["url"])
    areas = world["areas"]
    found: dict[str, Any] = {
        "households": {
            relation: _household(engine, Case(relation, areas[relation], world, {}))
            for relation in RELATIONS
        },
        "login": {"username": "matrix-login", "password": "a long enough secret"},
    }
    found["community"], found["issue"] = _community(engine, areas["own"])
    engine.dispose()
    from tests.factories import run

    added = run(
        "users", "add", "matrix-login", "--role", "analyst", "--password",
        found["login"]["password"], url=world["url"],
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    with serve(analysis_settings, world["tokens"]["admin"]) as admin:
        runs = {}
        for area in (areas["parent"], "34"):
            made = admin.post("/hotspots", json={"area": area, "permutations": 99})
            assert made.status_code == 200, made.text
            runs[area] = made.json()["run"]["id"]
        # Runs in the caller's district for the district's relations; the province's for the
        # other province (none is stored there: Ubon is the only surveyed province).
        found["runs"] = {
            relation: (runs[areas["parent"]], areas["parent"])
            for relation in ("own", "sibling", "parent")
        } | {"other": (runs["34"], "34")}
        job = admin.post("/imports", files={"file": ("j.csv", HEADER_ONLY, "text/csv")})
        assert job.status_code == 202
        found["job"] = job.json()["id"]
        found["cases"] = _cases(admin, world)
        found["attachments"] = {}
        for relation, case_id in found["cases"].items():
            etag = admin.get(f"/cases/{case_id}").headers["etag"]
            admin.post(
                f"/cases/{case_id}/acknowledge", json={"expected_on": "2099-01-01"},
                headers={"If-Match": etag},
            )  # fmt: skip
            etag = admin.get(f"/cases/{case_id}").headers["etag"]
            made = admin.post(
                f"/cases/{case_id}/attachments", files={"file": ("photo.png", PNG)},
                headers={"If-Match": etag},
            )  # fmt: skip
            assert made.status_code == 200, made.text
            found["attachments"][relation] = made.json()["attachments"][0]["id"]
    found["reports"] = _reports(world["url"], found["households"])
    return found


def _cases(admin: httpx.Client, world: dict[str, Any]) -> dict[str, int]:
    """A case for each relation: in the own subdistrict, its sibling, elsewhere in the district,
    elsewhere in the province; of land without title (the land office's, escalated) where
    there is one."""
    areas = world["areas"]
    engine = engine_for(world["url"])
    places = {
        "own": "subdistrict_code = :own ORDER BY",
        # The sibling subdistrict may have no problem: then another of the district.
        "sibling": "subdistrict_code LIKE :parent AND subdistrict_code <> :own "
        "ORDER BY subdistrict_code <> :sibling,",
        "parent": "subdistrict_code LIKE :parent AND subdistrict_code NOT IN (:own, :sibling) "
        "AND household_id <> :taken ORDER BY",
        "other": "subdistrict_code NOT LIKE :parent ORDER BY",
    }
    found: dict[str, Any] = {}
    for relation, where in places.items():
        with engine.connect() as conn:
            picked = conn.execute(
                text(
                    f"SELECT household_id, category, round FROM problem WHERE {where} "  # noqa: S608
                    "status NOT IN ('open', 'referred', 'in_progress'), "
                    "category <> 'no_land_title', round DESC, 1, 2 LIMIT 1"
                ),
                {**areas, "parent": areas["parent"] + "%", "taken": found.get("taken", "")},
            ).first()
        assert picked is not None, relation
        household, category, round_ = picked
        with engine.begin() as conn:  # a solved one (the sibling has no other) comes back
            conn.execute(
                text(
                    "UPDATE problem SET status = 'open' WHERE household_id = :h AND round = :r "
                    "AND category = :c AND status NOT IN ('open', 'referred', 'in_progress')"
                ),
                {"h": household, "r": round_, "c": category},
            )
        made = admin.post(
            "/cases/refer", json={"areas": ["34"], "household": household, "round": round_}
        )
        assert made.status_code == 200 and made.json()["cases"] >= 1, made.text
        with engine.connect() as conn:
            found[relation] = conn.scalar(
                text(
                    "SELECT id FROM problem_case WHERE household_id = :h AND round = :r "
                    "AND category = :c"
                ),
                {"h": household, "r": round_, "c": category},
            )
        found["taken"] = household
    del found["taken"]
    engine.dispose()
    return found


def _report(k: Case, tail: str = "") -> str:
    return f"/reports/{k.objects['reports'][k.relation]}{tail}"


def _reports(url: str, households: dict[str, str]) -> dict[str, int]:
    """A decided (rejected) report of each relation's household; a number no report has where
    the relation has no household."""
    engine = engine_for(url)
    made = {}
    with engine.begin() as conn:
        for relation, household in households.items():
            made[relation] = (
                conn.scalar(
                    text(
                        "INSERT INTO citizen_report (household_id, round, category, detail, geom, "
                        "place, place_code, subdistrict_code, state, reporter, reason) "
                        "SELECT household_id, round, (SELECT min(code) FROM problem_category), "
                        "'matrix', coalesce(geom, ST_SetSRID(ST_MakePoint(104.8, 15.2), 4326)), "
                        "'household', subdistrict_code, subdistrict_code, 'rejected', 'matrix', "
                        "'matrix' "
                        "FROM household WHERE household_id = :h ORDER BY round DESC LIMIT 1 "
                        "RETURNING id"
                    ),
                    {"h": household},
                )
                or 2**40
            )
    engine.dispose()
    return made


COMMUNITY = "ชุมชนหนองบัว"  # the world's community leader's (tests/api/oracle.py)


def _community(engine: Engine, area: str) -> tuple[str, int]:
    """The world's community as an area (its subdistrict's), with a meeting and a done issue."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO community (code, name_th, subdistrict_code, geom, source) "
                "SELECT CAST(:c AS text), CAST(:c AS text), code, geom, 'matrix' FROM admin_unit WHERE code = :a "
                "ON CONFLICT DO NOTHING"
            ),
            {"c": COMMUNITY, "a": area},
        )
        issue = conn.scalar(
            text(
                "WITH m AS (INSERT INTO community_meeting (community, held_on, attendance, "
                "recorded_by, recorded_at) VALUES (:c, '2022-11-01', 40, 'matrix', now()) "
                "RETURNING id) INSERT INTO community_issue (meeting_id, community, category, "
                "detail, state, updated_on) SELECT m.id, :c, (SELECT min(code) FROM "
                "problem_category), 'matrix', 'done', '2023-06-01' FROM m RETURNING id"
            ),
            {"c": COMMUNITY},
        )
    return COMMUNITY, int(issue or 0)


def expected(probe: Probe, name: str, case: Case, engine: Engine) -> str:
    """ "ok", "401", "403" or "404" for this caller and cell."""
    if name not in probe.who:
        return "401" if name == "anonymous" else "403"
    own = case.world["assignments"].get(name, {}).get("area", "")
    if probe.shape == "area" and not case.area.startswith(own):
        return "404"
    if probe.shape == "list" and not (case.area.startswith(own) or own.startswith(case.area)):
        return "404"
    if probe.shape == "object":
        assert probe.visible is not None
        return "ok" if probe.visible(engine, name, case) else "404"
    return "ok"


def got(response: httpx.Response) -> str:
    code = response.status_code
    if code in (401, 403, 404) or code >= 500:
        return str(code)
    return "ok"


def test_every_endpoint_answers_every_role_and_relation_as_the_policy_says(
    world: dict[str, Any], objects: dict[str, Any], analysis_settings: Settings
) -> None:
    engine = engine_for(world["url"])
    failures: list[str] = []
    cells = 0
    with serve(analysis_settings) as client:
        for name in sorted(PUBLIC):
            token = world["tokens"].get(name)
            client.headers.pop("Authorization", None)
            if token:
                client.headers["Authorization"] = f"Bearer {token}"
            for route, probe in PROBES.items():
                for relation in RELATIONS:
                    case = Case(relation, world["areas"][relation], world, objects)
                    response = probe.call(client, case)
                    if response is None:
                        continue
                    cells += 1
                    want, have = expected(probe, name, case, engine), got(response)
                    if want != have:
                        failures.append(
                            f"{name} {route} {relation}: {response.status_code}, want {want}: "
                            f"{response.text[:160]}"
                        )
                    if want == "404" and objects["households"][relation] in response.text:
                        failures.append(f"{name} {route} {relation}: the 404 names the household")
                    if name == "anonymous" and (
                        personal(response.content) or '"Point"' in response.text
                    ):
                        failures.append(f"{name} {route} {relation}: a record or a point")
    engine.dispose()
    assert cells > 1000
    assert not failures, f"{len(failures)} of {cells} cells wrong:\n" + "\n".join(failures)


def test_record_lists_hold_exactly_what_the_scope_allows(
    world: dict[str, Any], analysis_settings: Settings
) -> None:
    engine = engine_for(world["url"])
    failures = []
    with serve(analysis_settings) as client:
        for name, token in world["tokens"].items():
            role, given = role_of(name), world["assignments"][name]
            client.headers["Authorization"] = f"Bearer {token}"
            for relation in RELATIONS:
                area = world["areas"][relation]
                listed = client.get(
                    "/households", params={"area": area, "round": ROUND, "limit": 1000}
                )
                if listed.status_code == 404:
                    continue  # the status matrix says whether it should be
                body = listed.json()
                want = oracle(engine, role, given, area)
                if role == "analyst":
                    items = body["items"]
                    if body["total"] != len(want) or any("house_no" in i for i in items):
                        failures.append(f"{name}/{relation}: pseudonymised list wrong")
                    continue
                have = {item["household_id"] for item in body["items"]}
                if have != want or body["total"] != len(want):
                    failures.append(f"{name}/{relation}: list {len(have)} vs oracle {len(want)}")
                # The latest round by default, as the statistics.
                problems = client.get("/problems", params={"area": area, "limit": 1000}).json()
                seen = {p["household_id"] for p in problems["items"]}
                allowed = problem_oracle(engine, role, given, area)
                if not seen <= allowed or (problems["total"] <= 1000 and seen != allowed):
                    failures.append(f"{name}/{relation}: problems {len(seen)} vs {len(allowed)}")
    engine.dispose()
    assert not failures, "\n".join(failures)


def test_statistics_and_hexagons_count_only_what_the_scope_allows(
    world: dict[str, Any], analysis_settings: Settings
) -> None:
    """Agency officers count their categories, community leaders their community, reviewers
    escalated problems; every household of the area (and community) stays the denominator."""
    engine = engine_for(world["url"])
    failures = []
    checked = 0
    with serve(analysis_settings) as client:
        for name in sorted(READERS):
            role, given = role_of(name), world["assignments"][name]
            client.headers["Authorization"] = f"Bearer {world['tokens'][name]}"
            for relation in RELATIONS:
                area = world["areas"][relation]
                params = {"area": area, "level": _level(area), "round": ROUND}
                rows = client.get("/stats", params=params)
                if rows.status_code == 404:
                    continue
                want = figures_oracle(engine, role, given, area)
                have = tuple(
                    sum(r[key] for r in rows.json())
                    for key in ("households", "households_with_problems", "problems")
                )
                cells = client.get("/density/hexagons", params={"area": area, "round": ROUND})
                hexes = tuple(
                    sum(f["properties"][key] for f in cells.json()["features"])
                    for key in ("households", "households_with_problems", "problems")
                )
                checked += 1
                if have != want or hexes != want:
                    failures.append(f"{name}/{relation}: stats {have}, hexagons {hexes}, {want}")
    engine.dispose()
    assert checked >= 20
    assert not failures, "\n".join(failures)


def _write_codes(world: dict[str, Any]) -> dict[str, str]:
    """A subdistrict for each relation to write into: the own one, its sibling, a third one of
    the parent district, and one of Bangkok."""
    areas = world["areas"]
    engine = engine_for(world["url"])
    with engine.connect() as conn:
        third = conn.scalar(
            text(
                "SELECT code FROM admin_unit WHERE level = 'subdistrict' AND geom IS NOT NULL "
                "AND parent_code = :d AND code NOT IN (:a, :b) ORDER BY code LIMIT 1"
            ),
            {"d": areas["parent"], "a": areas["own"], "b": areas["sibling"]},
        )
    engine.dispose()
    return {"own": areas["own"], "sibling": areas["sibling"], "parent": third, "other": "100101"}


def test_every_write_lands_only_inside_the_callers_area(
    world: dict[str, Any], analysis_settings: Settings
) -> None:
    """Uploads × every role that may upload × every relation: a row is written exactly when its
    subdistrict is inside the caller's area, else refused (``outside_your_area``) and kept for
    the uploader; refused analysis runs store nothing."""
    codes = _write_codes(world)
    engine = engine_for(world["url"])
    failures = []
    with serve(analysis_settings) as client:
        for name in sorted(IMPORTERS):
            client.headers["Authorization"] = f"Bearer {world['tokens'][name]}"
            own = world["assignments"][name].get("area", "")
            for relation, code in codes.items():
                household = f"W-{name}-{relation}"
                row = f"{household},{ROUND},{code},,drugs,open\n"
                body = (
                    "household_id,round,subdistrict_code,lat,problem_code,status\n" + row
                ).encode()
                started = client.post("/imports", files={"file": ("w.csv", body, "text/csv")})
                job = started.json()
                while job["state"] in ("queued", "running"):
                    job = client.get(f"/imports/{job['id']}").json()
                allowed = code.startswith(own)
                with engine.connect() as conn:
                    stored = conn.scalar(
                        text("SELECT count(*) FROM household WHERE household_id = :h"),
                        {"h": household},
                    )
                refused = client.get(f"/imports/{job['id']}/quarantine").json()["items"]
                reasons = [r for item in refused for r in item["reasons"]]
                if stored != int(allowed) or reasons != ([] if allowed else ["outside_your_area"]):
                    failures.append(f"{name} {relation}: stored {stored}, refused {reasons}")
        for name in sorted(AREA_WIDE):
            client.headers["Authorization"] = f"Bearer {world['tokens'][name]}"
            own = world["assignments"][name].get("area", "")
            if "10".startswith(own):
                continue
            with engine.connect() as conn:
                runs = conn.scalar(text("SELECT count(*) FROM hotspot_run"))
                rasters = conn.scalar(text("SELECT count(*) FROM raster"))
            made = [
                client.post("/hotspots", json={"area": "10", "permutations": 99}),
                client.post("/density/surface", json={"area": "10", "cell_m": 2000}),
            ]
            with engine.connect() as conn:
                after = (
                    conn.scalar(text("SELECT count(*) FROM hotspot_run")),
                    conn.scalar(text("SELECT count(*) FROM raster")),
                )
            if [m.status_code for m in made] != [404, 404] or after != (runs, rasters):
                failures.append(f"{name} other: {[m.status_code for m in made]}, stored {after}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM household WHERE household_id LIKE 'W-%'"))
    engine.dispose()
    assert not failures, "\n".join(failures)
