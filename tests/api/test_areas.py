"""The API over HTTP on the real boundaries."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely

from layers.store import migrate


def test_health_reports_database_postgis_and_boundaries(api: httpx.Client) -> None:
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["database"] is True
    assert body["postgis"].startswith("POSTGIS=")
    assert body["schema_revision"] == migrate.head()
    assert {b["level"]: b["features"] for b in body["boundaries"]} == {
        "province": 77,
        "district": 928,
        "subdistrict": 7425,
    }
    assert {b["licence"] for b in body["boundaries"]} == {"CC BY-IGO 3.0"}


def test_openapi_docs_are_served(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/health", "/areas", "/areas/locate", "/areas/{code}"} <= set(paths)


def test_areas_are_listed_by_level_in_code_order_and_paginated(api: httpx.Client) -> None:
    first = api.get("/areas", params={"level": "province", "limit": 50}).json()
    second = api.get("/areas", params={"level": "province", "limit": 50, "offset": 50}).json()
    assert first["total"] == second["total"] == 77
    codes = [a["code"] for a in first["items"] + second["items"]]
    assert len(codes) == 77 and codes == sorted(codes)
    assert first["items"][0] == {
        "code": "10",
        "level": "province",
        "name_th": "กรุงเทพมหานคร",
        "name_en": "Bangkok",
        "parent_code": None,
    }


def test_children_of_a_parent(api: httpx.Client) -> None:
    body = api.get("/areas", params={"parent": "3419"}).json()
    assert body["total"] == 14
    assert all(a["code"].startswith("3419") and a["level"] == "subdistrict" for a in body["items"])
    registry_only = api.get("/areas", params={"parent": "1047"}).json()["items"]
    assert {a["code"] for a in registry_only} >= {"104702", "104703"}


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"level": "village-ish"}, 422, "level"),
        ({"limit": 5000}, 422, "less than or equal to 1000"),
        ({"parent": "9999"}, 404, "no area with code '9999'"),
        ({"parent": "abc"}, 422, "parent"),
    ],
)
def test_bad_list_queries_are_refused_clearly(
    api: httpx.Client, params: dict[str, object], status: int, detail: str
) -> None:
    response = api.get("/areas", params=params)
    assert response.status_code == status
    assert detail in response.text


def test_one_area_is_a_geojson_feature_with_its_parent_chain(api: httpx.Client) -> None:
    feature = api.get("/areas/341901").json()
    assert feature["type"] == "Feature" and feature["id"] == "341901"
    assert feature["geometry"]["type"] == "MultiPolygon"
    props = feature["properties"]
    assert (props["name_en"], props["pcode"], props["level"]) == (
        "Phibun",
        "TH341901",
        "subdistrict",
    )
    assert [(p["code"], p["level"]) for p in props["parents"]] == [
        ("3419", "district"),
        ("34", "province"),
    ]
    assert props["area_km2"] == pytest.approx(
        gpd.GeoSeries([shapely.geometry.shape(feature["geometry"])], crs=4326)
        .to_crs(32648)
        .area.iloc[0]
        / 1e6,
        rel=1e-3,
    )


def test_simplification_reduces_vertices_and_keeps_the_shape(api: httpx.Client) -> None:
    full = shapely.geometry.shape(api.get("/areas/34").json()["geometry"])
    simplified = api.get("/areas/34", params={"simplify": 2000}).json()["geometry"]
    simple = shapely.geometry.shape(simplified)
    assert simplified["type"] == "MultiPolygon"
    assert shapely.get_num_coordinates(simple) < 0.75 * shapely.get_num_coordinates(full)
    assert simple.is_valid
    assert simple.area == pytest.approx(full.area, rel=0.03)
    assert api.get("/areas/34", params={"simplify": -1}).status_code == 422


def test_registry_only_area_has_no_geometry(api: httpx.Client) -> None:
    feature = api.get("/areas/104702").json()
    assert feature["geometry"] is None
    assert feature["properties"]["source"] == "registry"
    assert [p["code"] for p in feature["properties"]["parents"]] == ["1047", "10"]


def test_unknown_area_is_a_clear_404(api: httpx.Client) -> None:
    response = api.get("/areas/999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "no area with code '999999'"}


def test_locate_known_answer(api: httpx.Client) -> None:
    body = api.get("/areas/locate", params={"lat": 15.2447, "lon": 105.2294}).json()
    assert (body["subdistrict"]["code"], body["subdistrict"]["name_en"]) == ("341901", "Phibun")
    assert (body["district"]["code"], body["district"]["name_en"]) == ("3419", "Phibun Mangsahan")
    assert (body["province"]["code"], body["province"]["name_en"]) == ("34", "Ubon Ratchathani")


@pytest.mark.parametrize(
    ("lat", "lon", "status"),
    [(9.0, 101.5, 404), (48.85, 2.35, 404), (95, 100, 422), (15, 181, 422)],
)
def test_locate_outside_thailand_or_impossible(
    api: httpx.Client, lat: float, lon: float, status: int
) -> None:
    response = api.get("/areas/locate", params={"lat": lat, "lon": lon})
    assert response.status_code == status
    if status == 404:
        assert "not inside any loaded boundary of Thailand" in response.json()["detail"]


def test_locate_agrees_with_a_geopandas_spatial_join_for_1000_points(
    api: httpx.Client, shared_boundaries: Path
) -> None:
    subs = gpd.read_file(shared_boundaries / "tha_admbnda_adm3.geojson")
    country = shapely.union_all(
        gpd.read_file(shared_boundaries / "tha_admbnda_adm1.geojson").geometry.to_numpy()
    )
    rng = np.random.default_rng(2567)
    minx, miny, maxx, maxy = country.bounds
    shapely.prepare(country)
    points: list[shapely.Point] = []
    while len(points) < 1000:
        candidates = shapely.points(rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000))
        points.extend(candidates[shapely.contains(country, candidates)])
    points = points[:1000]
    frame = gpd.GeoDataFrame(geometry=points, crs=4326)
    joined = gpd.sjoin(
        frame,
        subs[["ADM3_PCODE", "ADM2_PCODE", "ADM1_PCODE", "geometry"]],
        predicate="intersects",
        how="left",
    )
    expected = joined.sort_values("ADM3_PCODE").groupby(level=0).first().reindex(frame.index)
    agree = 0
    for point, (_, row) in zip(points, expected.iterrows(), strict=True):
        body = api.get("/areas/locate", params={"lat": point.y, "lon": point.x}).json()
        want = row["ADM3_PCODE"][2:] if isinstance(row["ADM3_PCODE"], str) else None
        got = body.get("subdistrict", {}) or {}
        agree += got.get("code") == want
    assert agree == 1000
