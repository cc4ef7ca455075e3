"""Maps in a real browser (Debian's Chromium driven by Playwright), served by the API and as
one self-contained file, with the network cut off; and household points kept inside the scope.

Screenshots of each kind go to ``test-artifacts/maps/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image
from playwright.sync_api import Browser, Page
from sqlalchemy import text

from api.cli.maps import GALLERY
from geo.errors import UnavailableError
from geo.maps import words
from geo.vocab import BELOW, DIMENSIONS, STATUSES
from layers.delivery import maps
from layers.store.settings import PROJECT_ROOT, Settings
from tests.api.browser import app_only, watch
from tests.api.oracle import ROUND
from tests.factories import engine_for, run, serve, token_for
from tests.recorder import personal

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "maps"
# Each kind, its query, and layer names the layer control must list (Thai, the default).
KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "choropleth": ({"level": "district"}, ["ขอบเขตพื้นที่", "ปัญหาต่อ 1,000 ครัวเรือน"]),
    "hexbin": ({}, ["รูปหกเหลี่ยม H3"]),
    "heatmap": ({}, ["ความหนาแน่นของปัญหา"]),
    "hotspots": ({}, ["จุดร้อน/จุดเย็น (Gi*)"]),
    "water": ({}, ["พื้นที่น้ำท่วม", "พื้นที่ภัยแล้ง", "ทางน้ำ", "แหล่งน้ำ"]),
    "targeting": ({"level": "subdistrict"}, ["คะแนนความสำคัญ"]),
    "households": ({"area": "3419"}, ["ครัวเรือน"]),
    "cases": ({"escalated": "true"}, ["เรื่องที่ส่งต่อ", "หน่วยงานที่รับเรื่อง"]),
}


@pytest.fixture(scope="module")
def offline_settings(analysis_settings: Settings) -> Settings:
    """The analysis database, a hotspot run for Ubon, and maps with the plain basemap."""
    assert analysis_settings.database_url is not None
    done = run("hotspots", "--area", "34", url=analysis_settings.database_url)
    assert done.returncode == 0, done.stderr
    return analysis_settings.model_copy(update={"map_tiles": "none"})


def check(page: Page, errors: list[str], layers: list[str], name: str) -> None:
    page.wait_for_selector(".leaflet-container .leaflet-map-pane", state="attached")
    page.wait_for_selector(".bmr-legend")
    listed = [t.strip() for t in page.locator(".leaflet-control-layers label").all_inner_texts()]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    assert not errors, f"{name}: {errors}"
    assert set(layers) <= set(listed), f"{name}: {listed}"
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-control-search").count() == 1
    assert page.locator(".leaflet-control-zoom-fullscreen, .fullscreen-icon").count() >= 1
    assert "CC BY-IGO" in page.locator(".bmr-footer").inner_text()


def test_every_kind_served_by_the_api_works_in_chromium_without_the_internet(
    browser: Browser, offline_settings: Settings
) -> None:
    assert offline_settings.database_url is not None
    token = token_for(offline_settings.database_url)
    with serve(offline_settings) as client:
        origin = str(client.base_url).rstrip("/")
        context, outside = app_only(browser, origin, token)
        for kind, (params, layers) in KINDS.items():
            page = context.new_page()
            errors = watch(page)
            query = "&".join(f"{k}={v}" for k, v in {"area": "34", **params}.items())
            response = page.goto(f"{origin}/maps/{kind}?{query}")
            assert response is not None and response.status == 200, (kind, response)
            check(page, errors, layers, kind)
            page.close()
        context.close()
    assert not outside, f"the maps asked for {outside}"


def test_the_self_contained_file_opens_with_no_network_at_all(
    browser: Browser, offline_settings: Settings, tmp_path: Path
) -> None:
    assert offline_settings.database_url is not None
    path = tmp_path / "choropleth.html"
    made = run(
        "map", "choropleth", "--area", "34", "--lang", "en", "--self-contained",
        "--out", str(path), url=offline_settings.database_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert not re.search(r"<script src=|<link rel=\"stylesheet\"", path.read_text())
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors = watch(page)
    page.goto(path.as_uri())
    check(page, errors, ["Area boundary", "Problems per 1,000 households"], "self-contained")
    context.close()


def test_household_points_are_those_of_the_scope_and_are_logged(
    offline_settings: Settings, world: dict[str, Any]
) -> None:
    url = world["url"]
    own = world["areas"]["own"]
    engine = engine_for(url)
    with engine.connect() as conn:
        expected = set(
            conn.scalars(
                text(
                    "SELECT DISTINCT h.household_id FROM household h JOIN problem p "
                    "ON p.household_id = h.household_id AND p.round = h.round "
                    "WHERE h.round = :r AND h.subdistrict_code = :s"
                ),
                {"r": ROUND, "s": own},
            )
        )
    with serve(offline_settings, world["tokens"]["officer"]) as officer:
        page = officer.get("/maps/households", params={"area": own, "round": ROUND})
    assert page.status_code == 200
    shown = set(re.findall(r"\d{8}-\d{5}", page.text))
    assert shown == expected and expected
    with engine.connect() as conn:
        logged = conn.scalar(
            text("SELECT households FROM access_log WHERE request_id = :r"),
            {"r": page.headers["x-request-id"]},
        )
    engine.dispose()
    assert set(logged) == expected


def test_the_gallery_is_public_and_linked_from_the_home_page(offline_settings: Settings) -> None:
    assert offline_settings.database_url is not None
    made = run(
        "gallery", "--area", "34", url=offline_settings.database_url,
        BAMRUNG_HOME=str(offline_settings.home),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with serve(offline_settings) as anonymous:
        home = anonymous.get("/")
        links = re.findall(r'href="(/gallery/[^"]+)"', home.text)
        assert len(links) == len(GALLERY) + 2  # and the cases by district, and their figures
        for link in links:
            page = anonymous.get(link)
            assert page.status_code == 200 and "leaflet" in page.text.lower()
            assert not personal(page.content), link
        # Only the gallery's own files: no other name, no way out of its folder.
        (offline_settings.home / "maps" / "private.html").write_text("household 34190101-00001")
        assert anonymous.get("/gallery/private.html").status_code == 404
        assert anonymous.get("/gallery/..%2Fjwt.key").status_code in (404, 422)
        assert anonymous.get("/maps/hotspots").status_code == 401


def test_map_files_stay_within_the_size_targets(offline_settings: Settings, tmp_path: Path) -> None:
    """A province choropleth and hexagon map of the synthetic survey are well under 3 MB."""
    assert offline_settings.database_url is not None
    for kind in ("choropleth", "hexbin", "water"):
        path = tmp_path / f"{kind}.html"
        done = run(
            "map", kind, "--area", "34", "--out", str(path), url=offline_settings.database_url,
            BAMRUNG_HOME=str(offline_settings.home),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert path.stat().st_size < 3_000_000, (kind, path.stat().st_size)


def title_of(page: str) -> tuple[str, str]:
    """The title and the subtitle of a map page, as text."""
    found = re.search(r"<div class='bmr-title'><b>(.*?)</b><div>(.*?)</div>", page, re.S)
    assert found is not None, "no title"
    return html.unescape(found.group(1)), html.unescape(found.group(2))


def test_every_map_names_the_filters_in_force_in_its_language(
    offline_settings: Settings,
) -> None:
    assert offline_settings.database_url is not None
    engine = engine_for(offline_settings.database_url)
    with engine.connect() as conn:
        water_th, water_en = conn.execute(
            text("SELECT name_th, name_en FROM problem_category WHERE code = 'no_clean_water'")
        ).one()
        raster = conn.scalar(text("SELECT name FROM raster WHERE id = 'syn-flood_frequency'"))
    engine.dispose()
    # Each kind: its query, what its title and subtitle must say.
    cases: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
        ("choropleth", {"dimension": "education"}, ["มิติ: ด้านการศึกษา"], ["รายอำเภอ"]),
        (
            "choropleth",
            {"indicator": "category:no_clean_water", "lang": "en"},
            [f"{water_en} per 1,000 households"],
            ["by district", "Survey round 2567"],
        ),
        (
            "hexbin",
            {"category": "no_clean_water", "status": "open", "round": 2567},
            [f"ปัญหา: {water_th}", "สถานะ: ยังไม่ได้แก้ไข"],
            ["รอบสำรวจ 2567"],
        ),
        (
            "heatmap",
            {"dimension": "health", "status": "solved_by_agency", "lang": "en"},
            ["dimension: Health", "status: Solved by an agency"],
            [],
        ),
        (
            "households",
            {"area": "3419", "dimension": "education", "status": "in_progress"},
            ["ครัวเรือน (มิติ: ด้านการศึกษา, สถานะ: กำลังดำเนินการ)"],
            [],
        ),
        (
            "hotspots",
            {},
            ["จุดร้อน/จุดเย็น (Gi*): ปัญหาต่อ 1,000 ครัวเรือน"],
            ["รายตำบล", "การคำนวณครั้งที่", "สุ่มสลับ 999 ครั้ง"],
        ),
        ("water", {}, [f"แรสเตอร์: {raster}"], []),
        ("water", {"lang": "en"}, [f"raster: {raster}"], ["Survey round"]),
        ("targeting", {"area": "3419"}, ["คะแนนความสำคัญ"], ["รายตำบล"]),
    ]
    with serve(offline_settings, token_for(offline_settings.database_url)) as admin:
        for kind, params, in_title, in_subtitle in cases:
            page = admin.get(f"/maps/{kind}", params={"area": "34", **params})
            assert page.status_code == 200, (kind, params, page.text[:300])
            title, subtitle = title_of(page.text)
            for words in in_title:
                assert words in title, (kind, params, title)
            for words in in_subtitle:
                assert words in subtitle, (kind, params, subtitle)
        assert "syn-flood_frequency" not in title_of(admin.get("/maps/water").text)[0]
        for bad in ({"status": "nonsense"}, {"category": "no_such_problem"}):
            assert admin.get("/maps/households", params={"area": "3419", **bad}).status_code == 422


def test_area_maps_of_a_district_draw_its_subdistricts_by_default(
    offline_settings: Settings,
) -> None:
    assert offline_settings.database_url is not None
    engine = engine_for(offline_settings.database_url)
    with engine.connect() as conn:
        names = set(
            conn.scalars(
                text(
                    "SELECT name_th FROM admin_unit WHERE level = 'subdistrict' AND code LIKE '3419%'"
                )
            )
        )
    engine.dispose()
    with serve(offline_settings, token_for(offline_settings.database_url)) as admin:
        for kind in ("targeting", "choropleth"):
            page = admin.get(f"/maps/{kind}", params={"area": "3419"})
            assert page.status_code == 200, (kind, page.text[:300])
            assert any(json.dumps(name) in page.text for name in names), kind
            assert "ตำบล" in title_of(page.text)[1]
        explicit = admin.get("/maps/targeting", params={"area": "34", "level": "district"})
        assert explicit.status_code == 200 and "รายอำเภอ" in title_of(explicit.text)[1]
        below = admin.get("/maps/choropleth", params={"area": "341901"})
        assert below.status_code == 422 and "no admin areas below" in below.text


def raster_overlay(page: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The water map's raster image (RGBA) and its bounds (west, south, east, north)."""
    found = re.search(r'L\.imageOverlay\(\s*"data:image/png;base64,([^"]+)",\s*(\[\[.*?\]\])', page)
    assert found is not None
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(found.group(1)))).convert("RGBA"))
    (south, west), (north, east) = json.loads(found.group(2))
    return image, (west, south, east, north)


def test_the_water_raster_is_cut_to_the_province(offline_settings: Settings) -> None:
    assert offline_settings.database_url is not None
    engine = engine_for(offline_settings.database_url)
    with engine.connect() as conn:
        wkb = conn.scalar(text("SELECT ST_AsBinary(geom) FROM admin_unit WHERE code = '34'"))
    engine.dispose()
    province = shapely.from_wkb(bytes(wkb))
    with serve(offline_settings, token_for(offline_settings.database_url)) as admin:
        page = admin.get("/maps/water", params={"area": "34"}).text
    image, (west, south, east, north) = raster_overlay(page)
    rows, cols = image.shape[:2]
    corners = gpd.GeoSeries(gpd.points_from_xy([west, east], [south, north]), crs=4326)
    x, y = corners.to_crs(3857).x.to_numpy(), corners.to_crs(3857).y.to_numpy()
    xs = x[0] + (np.arange(cols) + 0.5) * (x[1] - x[0]) / cols
    ys = y[1] - (np.arange(rows) + 0.5) * (y[1] - y[0]) / rows
    grid_x, grid_y = np.meshgrid(xs, ys)
    centres = gpd.GeoSeries(gpd.points_from_xy(grid_x.ravel(), grid_y.ravel()), crs=3857)
    # The map cuts along its outline simplified by 50 m: a pixel's centre may lie that far out.
    near = centres.to_crs(4326).within(province.buffer(0.001)).to_numpy()
    seen = image[..., 3].ravel() > 0
    assert seen.any() and not (seen & ~near).any()


def test_a_national_water_map_reads_only_the_raster_it_shows(
    offline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The synthetic rasters cover Ubon Ratchathani: Thailand's map shows them over their own
    extent alone (it read the whole country's extent at their 250 m cells, 8 s to draw), in an
    image no larger than a screen needs."""
    assert offline_settings.database_url is not None
    engine = engine_for(offline_settings.database_url)
    with engine.connect() as conn:
        footprints = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(footprint) AS e FROM raster) AS x"
            )
        ).one()
    engine.dispose()
    most = maps.RASTER_IMAGE_MAX
    with serve(offline_settings, token_for(offline_settings.database_url)) as admin:
        national = admin.get("/maps/water", params={"area": ""})
        # A raster of more cells than a screen is read at fewer (these have about 850 × 550).
        monkeypatch.setattr(maps, "RASTER_IMAGE_MAX", 200)
        coarse = admin.get("/maps/water", params={"area": ""})
    sides = []
    for page, bound in ((national, most), (coarse, 200)):
        assert page.status_code == 200
        image, bounds = raster_overlay(page.text)
        # Web Mercator's cells may reach a little past the raster's edges, never much further.
        assert shapely.box(*bounds).within(shapely.box(*footprints).buffer(0.01)), bounds
        # Reprojected to Web Mercator, a side may gain a few cells.
        assert max(image.shape[:2]) <= bound * 1.05 and image[..., 3].any()
        sides.append(max(image.shape[:2]))
    assert sides[0] > 800  # below the bound, the raster is read at its own cells


def test_the_water_map_keeps_its_sources_above_the_hexagons(
    browser: Browser, offline_settings: Settings
) -> None:
    assert offline_settings.database_url is not None
    token = token_for(offline_settings.database_url)
    drawn = """() => {
        const map = window[Object.keys(window).find((k) => k.startsWith("map_"))];
        const kinds = [];
        for (let o = map._renderer._drawFirst; o; o = o.next) {
            const layer = o.layer;
            if (layer instanceof L.CircleMarker) { kinds.push("source"); }
            else if (layer.feature && "h3" in layer.feature.properties) { kinds.push("hexagon"); }
        }
        return kinds;
    }"""
    with serve(offline_settings) as client:
        origin = str(client.base_url).rstrip("/")
        context, outside = app_only(browser, origin, token)
        page = context.new_page()
        errors = watch(page)
        page.goto(f"{origin}/maps/water?area=34")
        check(page, errors, ["synthetic-flood_frequency", "ครัวเรือนที่ไม่มีน้ำสะอาด"], "water-order")
        listed = [
            t.strip()
            for t in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        ]
        assert "syn-flood_frequency" not in listed
        # The layer control lists the layers from the bottom up.
        bottom_up = (
            "synthetic-flood_frequency",
            "พื้นที่น้ำท่วม",
            "ครัวเรือนที่ไม่มีน้ำสะอาด",
            "ทางน้ำ",
            "แหล่งน้ำ",
        )
        order = [listed.index(n) for n in bottom_up]
        assert order == sorted(order), listed
        assert page.locator(".leaflet-control-layers-overlays input:not(:checked)").count() == 0
        assert "synthetic-flood_frequency" in page.locator(".bmr-legend").inner_text()
        panes = page.evaluate(
            """() => [".leaflet-bmr-raster-pane", ".leaflet-overlay-pane"].map(
                (s) => Number(getComputedStyle(document.querySelector(s)).zIndex))"""
        )
        assert panes[0] < panes[1]
        assert page.locator(".leaflet-bmr-raster-pane img.leaflet-image-layer").count() == 1
        for toggles in (0, 2):
            hexagons = page.locator(
                ".leaflet-control-layers-overlays label", has_text="ครัวเรือนที่ไม่มีน้ำสะอาด"
            )
            for _ in range(toggles):  # off and on again: Leaflet would put it back on top
                hexagons.locator("input").click()
            kinds = page.evaluate(drawn)
            assert "hexagon" in kinds and "source" in kinds
            last_hexagon = len(kinds) - 1 - kinds[::-1].index("hexagon")
            assert last_hexagon < kinds.index("source"), toggles
        context.close()
    assert not outside, f"the map asked for {outside}"


def test_every_dimension_status_and_level_has_a_name_in_each_language() -> None:
    for lang in ("th", "en"):
        assert set(words.DIMENSION_NAMES[lang]) == set(DIMENSIONS)
        assert set(words.STATUS_NAMES[lang]) == set(STATUSES)
        assert set(words.LEVEL_NAMES[lang]) >= {"country", *BELOW.values()}


def test_a_self_contained_page_without_the_pinned_files_says_what_to_install() -> None:
    from api.assets import require_vendored

    require_vendored(["vendor:/leaflet/dist/leaflet.js", "https://elsewhere/x.js"], "vendor:")
    with pytest.raises(UnavailableError, match=r"leaflet/dist/gone\.js is missing .*make setup"):
        require_vendored(["vendor:/leaflet/dist/gone.js"], "vendor:")
