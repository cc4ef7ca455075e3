"""Vector tiles, decoded by a decoder someone else wrote (``mapbox-vector-tile``), drawn by QGIS
3.22, and shown by the national map page (MapLibre) in headless Chromium; points, counts and
suppression checked against SQL and the public API."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from layers.access.users import add_user, issue_token
from layers.store.settings import Settings
from tests.api.browser import app_only, watch
from tests.api.test_delivery import qgis
from tests.factories import engine_for, serve

PASSWORD = "tiles-test-password-2567"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "web"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding a point (Web Mercator, as the slippy-map tiles number them)."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def sql(url: str, query: str, **params: Any) -> list[Any]:
    engine = engine_for(url)
    with engine.connect() as conn:
        found = list(conn.execute(text(query), params).scalars())
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def place(analysis_settings: Settings, world: dict[str, Any]) -> dict[str, Any]:
    """A household of the world's own district, its position and its z14 tile."""
    url = analysis_settings.database_url
    assert url is not None
    district = world["areas"]["own"][:4]
    lon, lat = sql(
        url,
        "SELECT ARRAY[ST_X(geom), ST_Y(geom)] FROM household WHERE round = 2567 "
        "AND subdistrict_code LIKE :a AND geom IS NOT NULL ORDER BY household_id LIMIT 1",
        a=district + "%",
    )[0]
    engine = engine_for(url)
    with engine.begin() as conn:
        add_user(conn, "tiles-officer", "officer", area=district, password=PASSWORD)
        token = issue_token(conn, "tiles-officer")
    engine.dispose()
    return {"district": district, "lon": lon, "lat": lat, "z14": tile_of(lon, lat, 14),
            "token": token}  # fmt: skip


@pytest.fixture(scope="module")
def server(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as http:
        yield http


def decoded(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(answer.content) if answer.content else {}  # type: ignore[no-any-return]


def test_points_at_high_zoom_are_the_scopes_households_in_the_tile_and_logged(
    server: httpx.Client, place: dict[str, Any], world: dict[str, Any], analysis_settings: Settings
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    z, x, y = place["z14"]
    officer = {"Authorization": f"Bearer {place['token']}"}
    layers = decoded(server.get(f"/tiles/households/{z}/{x}/{y}.mvt", headers=officer))
    got = {f["properties"]["household_id"] for f in layers["households"]["features"]}
    expected = set(
        sql(
            url,
            "SELECT household_id FROM household WHERE round = 2567 AND subdistrict_code LIKE :a "
            "AND geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326)",
            a=place["district"] + "%", z=z, x=x, y=y,
        )
    )  # fmt: skip
    assert got == expected and got
    logged = sql(url, "SELECT households FROM access_log WHERE user_name = 'tiles-officer' "
                      "AND path LIKE '/tiles/households/%' ORDER BY id DESC LIMIT 1")  # fmt: skip
    assert set(logged[0]) == expected
    # Someone else's district: the tile has no point of it; the public and the analyst: none.
    governor_elsewhere = {"Authorization": f"Bearer {world['tokens']['governor']}"}
    bangkok = tile_of(100.5018, 13.7563, 14)
    assert "households" not in decoded(
        server.get("/tiles/households/{}/{}/{}.mvt".format(*bangkok), headers=governor_elsewhere)
    )
    for headers in ({}, {"Authorization": f"Bearer {world['tokens']['analyst']}"}):
        layers = decoded(server.get(f"/tiles/households/{z}/{x}/{y}.mvt", headers=headers))
        assert "households" not in layers and layers["areas"]["features"]
    cases = decoded(server.get(f"/tiles/cases/{z}/{x}/{y}.mvt", headers=officer))
    in_cases = {
        f["properties"]["household_id"] for f in cases.get("cases", {"features": []})["features"]
    }
    assert in_cases <= expected


def test_aggregate_tiles_carry_the_public_figures_and_stay_small(
    server: httpx.Client, place: dict[str, Any], world: dict[str, Any]
) -> None:
    district = place["district"]
    z, x, y = tile_of(place["lon"], place["lat"], 10)
    public = decoded(server.get(f"/tiles/households/{z}/{x}/{y}.mvt"))["areas"]["features"]
    figures = {
        r["code"]: r["households"]
        for r in server.get("/stats", params={"area": district[:2], "level": "subdistrict"}).json()
    }
    in_tile = {f["properties"]["code"]: f["properties"].get("households") for f in public}
    assert in_tile and all(in_tile[c] == figures[c] for c in in_tile if c in figures)
    assert set(in_tile) <= set(figures) | {c for c in in_tile if not c.startswith(district[:2])}
    assert any(v is None for v in figures.values())  # small counts are hidden, and stay hidden
    # A governor's coarse zoom shows its own province only.
    governor = {"Authorization": f"Bearer {world['tokens']['governor']}"}
    country = decoded(server.get("/tiles/households/5/25/14.mvt", headers=governor))
    assert {f["properties"]["code"] for f in country["areas"]["features"]} == {"34"}
    for zoom in range(5, 12):
        zz, xx, yy = tile_of(place["lon"], place["lat"], zoom)
        answer = server.get(f"/tiles/households/{zz}/{xx}/{yy}.mvt")
        assert answer.status_code == 200 and len(answer.content) <= 200_000, (
            zoom,
            len(answer.content),
        )
    assert server.get("/tiles/nosuch/1/0/0.mvt").status_code == 404
    assert server.get("/tiles/households/3/9/0.mvt").status_code == 422


def test_tiles_carry_an_etag_that_changes_with_the_data(
    server: httpx.Client, place: dict[str, Any], world: dict[str, Any]
) -> None:
    z, x, y = tile_of(place["lon"], place["lat"], 9)
    path = f"/tiles/cases/{z}/{x}/{y}.mvt"
    first = server.get(path)
    assert first.headers["cache-control"] == "public, max-age=300"
    tag = first.headers["etag"]
    assert server.get(path, headers={"If-None-Match": tag}).status_code == 304
    admin = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    private = server.get(path, headers=admin)
    assert private.headers["cache-control"] == "private, no-store"
    # A new stored run (a hotspot run is stored every time) is a new data version.
    run = server.post("/hotspots", json={"area": "34", "permutations": 99}, headers=admin)
    assert run.status_code == 200, run.text
    after = server.get(path)
    assert after.headers["etag"] != tag
    assert server.get(path, headers={"If-None-Match": tag}).status_code == 200


def test_qgis_draws_the_tiles_signed_in(server: httpx.Client, place: dict[str, Any]) -> None:
    box = [str(v) for v in (place["lon"] - 0.5, place["lat"] - 0.5, place["lon"] + 0.5,
                            place["lat"] + 0.5)]  # fmt: skip
    os.environ["PROBE_AUTH"] = f"basic tiles-officer {place['token']}"
    try:
        drawn = qgis(
            "vectortile", f"{server.base_url}/tiles/households/{{z}}/{{x}}/{{y}}.mvt", *box
        )
    finally:
        del os.environ["PROBE_AUTH"]
    assert drawn["valid"] and int(drawn["painted"]) > 100  # type: ignore[call-overload]


def test_the_national_map_pans_from_the_country_down_to_households(
    browser: Browser, server: httpx.Client, place: dict[str, Any]
) -> None:
    origin = str(server.base_url)
    context, outside = app_only(browser, origin, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = watch(page)
    page.goto(f"{origin}/login")
    page.locator("input[name=username]").fill("tiles-officer")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.login button").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{origin}/app/atlas")

    def rendered(layer: str) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if page.evaluate("() => !!(window.bamrungAtlas && window.bamrungAtlas.loaded())"):
                count = page.evaluate(
                    f"() => window.bamrungAtlas.queryRenderedFeatures({{layers: ['{layer}']}}).length"
                )
                if count:
                    return int(count)
            time.sleep(0.3)
        return 0

    assert rendered("areas") > 0  # the officer's district, by its subdistricts
    page.evaluate(
        f"() => window.bamrungAtlas.jumpTo({{center: [{place['lon']}, {place['lat']}], zoom: 15}})"
    )
    assert rendered("points") > 0  # the households, once zoomed in
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "atlas-households.png"))
    assert not outside, outside
    assert not [e for e in errors if "GPU stall" not in e], errors
    context.close()
