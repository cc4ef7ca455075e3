"""The analysis over HTTP and on the command line, on the synthetic Ubon survey and water set."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from geo.hotspots import GI_CLASSES
from layers.store.settings import Settings
from tests.factories import run, serve, token_for


@pytest.fixture(scope="module")
def client(analysis_settings: Settings) -> Iterator[httpx.Client]:
    assert analysis_settings.database_url is not None
    with serve(analysis_settings, token_for(analysis_settings.database_url)) as http:
        yield http


def test_stats_list_each_child_area_with_the_breakdown(
    client: httpx.Client, analysis_engine: Engine
) -> None:
    response = client.get("/stats", params={"area": "34", "level": "district"})
    assert response.status_code == 200, response.text
    rows = response.json()
    with analysis_engine.connect() as conn:
        households = conn.scalar(text("SELECT count(*) FROM household WHERE round = 2567"))
    assert sum(r["households"] for r in rows) == households
    for key in (
        "code",
        "name_th",
        "households",
        "households_with_problems",
        "problems",
        "solved_pct",
        "resolution",
        "by_dimension",
        "by_category",
    ):
        assert key in rows[0]
    health = client.get("/stats", params={"area": "34", "level": "district", "dimension": "health"})
    assert sum(r["problems"] for r in health.json()) == sum(
        r["by_dimension"]["health"] for r in rows
    )
    assert client.get("/stats", params={"area": "34", "level": "nation"}).status_code == 422
    assert client.get("/stats", params={"area": "99", "level": "district"}).status_code == 404


def test_hexagons_are_geojson_with_every_household(
    client: httpx.Client, analysis_engine: Engine
) -> None:
    response = client.get("/density/hexagons", params={"area": "34", "resolution": 7})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["resolution"] == 7
    with analysis_engine.connect() as conn:
        households = conn.scalar(text("SELECT count(*) FROM household WHERE round = 2567"))
    assert sum(f["properties"]["households"] for f in body["features"]) == households
    assert body["features"][0]["geometry"]["type"] == "Polygon"


def test_a_hotspot_run_is_stored_and_served_again(client: httpx.Client) -> None:
    made = client.post("/hotspots", json={"area": "34", "permutations": 199, "seed": 3})
    assert made.status_code == 200, made.text
    body = made.json()
    run = body["run"]
    assert run["parameters"]["permutations"] == 199 and run["indicator"] == "problems_per_1000"
    again = client.get(f"/hotspots/{run['id']}").json()
    assert again["features"] == body["features"]
    classes = {f["properties"]["gi_class"] for f in body["features"]}
    assert classes <= set(GI_CLASSES)
    refused = client.post("/hotspots", json={"area": "34", "owner": "me"})
    assert refused.status_code == 422
    assert client.get("/hotspots/999999").status_code == 404


def test_targeting_ranks_with_components(client: httpx.Client) -> None:
    response = client.get("/targeting", params={"area": "34", "level": "district", "top": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["rank"] for a in body["areas"]] == [1, 2, 3, 4, 5]
    first = body["areas"][0]
    assert first["score"] == pytest.approx(
        sum(first[f"{c}_points"] for c in body["weights"]), abs=0.01
    )


def test_targeting_views_store_nothing_and_reuse_a_stored_run(
    client: httpx.Client, analysis_engine: Engine
) -> None:
    params = {"area": "34", "level": "subdistrict", "top": 500}

    def runs() -> int:
        with analysis_engine.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM target_run")) or 0)

    # Other modules may have stored this very run (the CLI does); start without it.
    with analysis_engine.begin() as conn:
        conn.execute(text("DELETE FROM target_run WHERE area = '34' AND level = 'subdistrict'"))
    before = runs()
    views = [client.get("/targeting", params=params) for _ in range(3)]
    views.append(client.get("/maps/targeting", params={"area": "34"}))
    assert all(v.status_code == 200 for v in views) and runs() == before
    made = client.post("/targeting", json={"area": "34", "level": "subdistrict", "top": 500})
    assert made.status_code == 200 and made.json()["run"] is not None
    again = client.post("/targeting", json={"area": "34", "level": "subdistrict", "top": 500})
    seen = client.get("/targeting", params=params).json()
    assert runs() == before + 1 and again.json()["run"] == seen["run"] == made.json()["run"]
    assert seen["areas"] == views[0].json()["areas"]
    # A district's map ranks its subdistricts (the level below, by default).
    district = client.get("/maps/targeting", params={"area": "3419"})
    assert district.status_code == 200, district.text


def test_households_are_ranked_over_http_as_on_the_command_line(
    analysis_settings: Settings, client: httpx.Client
) -> None:
    answer = client.get("/targeting", params={"area": "3419", "level": "household", "top": 5})
    assert answer.status_code == 200, answer.text
    ranked = answer.json()["households"]
    assert [h["rank"] for h in ranked] == list(range(1, len(ranked) + 1)) and ranked
    assert answer.headers["cache-control"] == "private, no-store"
    url = analysis_settings.database_url
    assert url is not None
    shell = run("target", "--level", "household", "--area", "3419", "--top", "5", "--json", url=url)
    assert shell.returncode == 0, shell.stderr
    assert [h["code"] for h in json.loads(shell.stdout)] == [h["household_id"] for h in ranked]
    with serve(analysis_settings, token_for(url, "analyst")) as analyst:
        hidden = analyst.get("/targeting", params={"area": "3419", "level": "household"})
    assert hidden.status_code == 200
    assert all("household_id" not in h and h["household_ref"] for h in hidden.json()["households"])


def test_overlays_and_layers(client: httpx.Client) -> None:
    zones = client.get(
        "/overlay/zones",
        params={"area": "34", "level": "district", "kind": ["flood_zones", "drought_zones"]},
    )
    assert zones.status_code == 200, zones.text
    assert any(r["households_in_zone"] > 0 for r in zones.json())
    zonal = client.get(
        "/overlay/zonal", params={"raster": "syn-elevation", "area": "34", "level": "district"}
    )
    assert zonal.status_code == 200
    assert all(f["properties"]["mean"] > 0 for f in zonal.json()["features"])
    missing = client.get(
        "/overlay/zonal", params={"raster": "../../etc/passwd", "area": "34", "level": "district"}
    )
    assert missing.status_code == 404
    access = client.get("/overlay/water-access", params={"area": "34"})
    assert access.status_code == 200 and access.json()[0]["median_m"] > 0
    kinds = {layer["kind"] for layer in client.get("/layers").json()}
    assert kinds == {"water_sources", "waterways", "flood_zones", "drought_zones"}
    sources = client.get(
        "/layers/water_sources/features", params={"bbox": "104.0,14.0,106.0,16.5"}
    ).json()
    assert sources["features"] and sources["features"][0]["geometry"]["type"] == "Point"
    country = client.get("/layers/water_sources/features", params={"bbox": "97,5,106,21"})
    assert country.status_code == 413 and "BAMRUNG_BBOX_MAX_KM2" in country.json()["detail"]
    assert {r["id"] for r in client.get("/rasters").json()} >= {
        "syn-elevation",
        "syn-flood_frequency",
    }


def test_geojson_answers_past_the_export_limit_are_refused_with_413(
    analysis_settings: Settings,
) -> None:
    assert analysis_settings.database_url is not None
    small = analysis_settings.model_copy(update={"export_max_features": 3})
    with serve(small, token_for(analysis_settings.database_url)) as http:
        for path, params in (
            ("/density/hexagons", {"area": "34"}),
            ("/layers/water_sources/features", {}),
        ):
            refused = http.get(path, params=params)
            assert refused.status_code == 413, (path, refused.text)
            assert "BAMRUNG_EXPORT_MAX_FEATURES" in refused.json()["detail"]
        few = http.get("/density/hexagons", params={"area": "3419", "resolution": 4})
        assert few.status_code == 200, few.text
        assert 0 < len(few.json()["features"]) <= 3


def test_stats_json_on_the_command_line(analysis_settings: Settings) -> None:
    assert analysis_settings.database_url is not None
    done = run(
        "stats", "--area", "34", "--level", "district", "--json", url=analysis_settings.database_url
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {
        "code",
        "name_th",
        "households",
        "households_with_problems",
        "problems",
        "solved_pct",
    } <= set(rows[0])
    bad = run("stats", "--area", "34", "--level", "province", url=analysis_settings.database_url)
    assert bad.returncode == 2 and "not below" in bad.stderr


def test_problems_carry_their_place_and_agency_and_default_to_the_latest_round(
    client: httpx.Client, analysis_engine: Engine
) -> None:
    latest = client.get("/problems", params={"area": "3419", "limit": 1000}).json()
    earlier = client.get("/problems", params={"area": "3419", "round": 2566, "limit": 5}).json()
    with analysis_engine.connect() as conn:
        counts = dict(
            conn.execute(
                text(
                    "SELECT round, count(*) FROM problem WHERE subdistrict_code LIKE '3419%' "
                    "GROUP BY round"
                )
            ).all()
        )
        names = dict(conn.execute(text("SELECT code, name_th FROM admin_unit")).all())
        agencies = dict(
            conn.execute(
                text("SELECT code, agencies -> 0 ->> 'name_en' FROM problem_category")
            ).all()
        )
    assert latest["total"] == counts[2567] and earlier["total"] == counts[2566]
    assert {p["round"] for p in latest["items"]} == {2567}
    for problem in latest["items"]:
        code = problem["subdistrict_code"]
        assert problem["district_code"] == code[:4] and problem["province_code"] == "34"
        assert problem["subdistrict_th"] == names[code]
        assert problem["district_th"] == names[code[:4]] and problem["province_th"] == names["34"]
        assert problem["agency_en"] == agencies[problem["category"]]
    escalated = {p["category"] for p in latest["items"] if p["escalated"]}
    assert escalated <= {"no_land_title", "child_out_of_school", "illiteracy"} and escalated
