"""The map builders: classes, legends, layers, caps, shared borders, and no CDN."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pytest
import rasterio.transform
import shapely

from api.assets import VENDOR_DIR
from geo.errors import InvalidInputError
from geo.maps import assets, kinds, prepare, style
from geo.maps.page import MapContext


def grid(n: int = 5) -> gpd.GeoDataFrame:
    """n × n wiggly squares sharing their borders, with names and values."""
    cells = []
    for i in range(n):
        for j in range(n):
            box = shapely.box(100 + i * 0.1, 15 + j * 0.1, 100.1 + i * 0.1, 15.1 + j * 0.1)
            cells.append(shapely.segmentize(box, 0.002))
    frame = gpd.GeoDataFrame(
        {
            "code": [f"{k:06d}" for k in range(n * n)],
            "name": [f"ตำบล {k}" for k in range(n * n)],
            "value": np.arange(n * n, dtype=float) ** 1.5,
            "households": 100,
        },
        geometry=cells,
        crs=4326,
    )
    frame.loc[3, "value"] = None  # hidden by disclosure control
    return frame


def context(**extra: object) -> MapContext:
    return MapContext(
        title="ปัญหาต่อ 1,000 ครัวเรือน",
        subtitle="อุบลราชธานี · รอบสำรวจ 2567",
        sources=["OCHA COD-AB (CC BY-IGO 3.0)"],
        tiles=None,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("scheme", list(style.SCHEMES))
def test_classes_are_mapclassify_s_and_missing_values_get_their_own(scheme: str) -> None:
    values = grid()["value"]
    classes = style.classify(values, scheme, 5)
    known = values.dropna().to_numpy()
    expected = getattr(mapclassify, style.SCHEMES[scheme])(known, k=5)
    assert classes.upper == pytest.approx(list(expected.bins))
    assert classes.classes[3] == -1
    assert list(np.delete(classes.classes, 3)) == list(expected.yb)
    assert len(classes.labels()) == len(classes.colours) == 5


def test_bad_schemes_and_class_counts_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="scheme"):
        style.classify(pd.Series([1.0, 2.0]), "jenks")
    with pytest.raises(InvalidInputError, match="between 3 and 9"):
        style.classify(pd.Series([1.0, 2.0]), "quantiles", 12)


def test_a_choropleth_has_a_legend_stating_classes_indicator_and_date() -> None:
    m = kinds.choropleth(grid(), context(), column="value", label="ปัญหาต่อ 1,000 ครัวเรือน")
    page = m.get_root().render()
    classes = style.classify(grid()["value"], "quantiles", 5)
    legend = re.search(r"<div class='bmr-legend'>(.*?)</div></div>", page, re.S)
    assert legend is not None
    for label in classes.labels():
        assert label in legend.group(1)
    assert "ปัญหาต่อ 1,000 ครัวเรือน" in legend.group(1)
    assert "รอบสำรวจ 2567" in legend.group(1) and "quantiles" in legend.group(1)
    assert "ไม่มีข้อมูล / ปกปิด" in legend.group(1)  # the hidden cell's class
    assert "OCHA COD-AB (CC BY-IGO 3.0)" in page  # the footer
    assert "L.control.layers" in page and "L.Control.Search" in page
    assert "L.control.fullscreen" in page or "Control.Fullscreen" in page


def test_english_labels_on_request() -> None:
    m = kinds.hotspot_map(
        grid().assign(gi_class=["hot_95"] * 5 + ["not_significant"] * 20),
        context(lang="en"),
    )
    page = m.get_root().render()
    assert "Hot spot 95 %" in page and "Hot and cold spots (Gi*)" in page
    assert "จุดร้อน" not in page


def test_only_the_shown_columns_reach_the_page() -> None:
    frame = grid().assign(household_secret="ห้ามแสดง")
    page = kinds.choropleth(frame, context(), column="value", label="x").get_root().render()
    assert "household_secret" not in page and "ห้ามแสดง" not in page


def test_household_points_above_the_cap_fall_back_to_hexagons_and_say_so() -> None:
    points = gpd.GeoDataFrame(
        {"label": [f"บ้านทดสอบ-{i:03d}" for i in range(30)]},
        geometry=gpd.points_from_xy(np.linspace(100, 100.5, 30), np.linspace(15, 15.5, 30)),
        crs=4326,
    )
    cells = grid().rename(columns={"value": "problems"}).fillna({"problems": 0})
    capped = kinds.household_map(points, context(), cap=10, cells=cells).get_root().render()
    assert json.dumps("บ้านทดสอบ-007") not in capped and "30 &gt; 10" in capped
    assert "L.markerClusterGroup" not in capped and "geo_json" in capped
    shown = kinds.household_map(points, context(), cap=100).get_root().render()
    assert json.dumps("บ้านทดสอบ-007") in shown and "L.markerClusterGroup" in shown


def test_simplified_neighbours_still_share_their_borders() -> None:
    frame = grid()
    simple = prepare.simplify_coverage(frame, tolerance_m=300)
    assert (
        shapely.get_num_coordinates(simple.geometry).sum()
        < shapely.get_num_coordinates(frame.geometry).sum()
    )
    whole = shapely.union_all(simple.geometry.to_numpy())
    assert whole.area == pytest.approx(simple.area.sum(), rel=1e-9)  # no overlaps
    assert whole.area == pytest.approx(shapely.union_all(frame.geometry).area, rel=1e-3)  # no gaps


def test_every_asset_comes_from_the_vendored_copies_and_unknown_ones_are_refused() -> None:
    m = kinds.choropleth(grid(), context(), column="value", label="x")
    page = assets.render(m, "/static/vendor")
    assert all(link.startswith("/static/vendor/") for link in assets.links(page))
    assert all((VENDOR_DIR / link.removeprefix("/static/vendor/")).is_file() for link in
               assets.links(page))  # fmt: skip
    inlined = assets.render(m, "vendor:", VENDOR_DIR)
    assert assets.links(inlined) == [] and "leafletjs.com" in inlined
    styles = "".join(re.findall(r"<style>(.*?)</style>", inlined, re.S))
    assert not re.search(r"url\((?!['\"]?(data:|#))", styles)  # every image copied in
    strange = kinds.choropleth(grid(), context(), column="value", label="x")
    strange.default_js = [("somewhere", "https://example.org/x.js")]
    with pytest.raises(RuntimeError, match="no vendored copy"):
        assets.localise(strange, "/static/vendor")


def test_the_vendored_packages_are_the_pinned_ones() -> None:
    lock = (VENDOR_DIR.parent / "package-lock.json").read_text()
    for package in ("leaflet", "leaflet.markercluster", "leaflet-search", "leaflet.heat"):
        installed = (VENDOR_DIR / package / "package.json").read_text()
        version = re.search(r'"version": "([^"]+)"', installed)
        assert version is not None and f'"version": "{version.group(1)}"' in lock


def test_names_from_files_cannot_put_markup_into_the_page() -> None:
    frame = grid()
    frame.loc[0, "name"] = "<img src=x onerror=alert(1)>"
    page = kinds.choropleth(frame, context(), column="value", label="x").get_root().render()
    # folium writes the data as JSON with & < > as \u escapes: the text must arrive escaped.
    assert "<img src=x" not in page and "\\u003cimg" not in page
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page
    points = gpd.GeoDataFrame(
        {"label": ["<script>alert(1)</script>"]}, geometry=gpd.points_from_xy([100], [15]), crs=4326
    )
    shown = kinds.household_map(points, context(), cap=10).get_root().render()
    assert "<script>alert(1)" not in shown and "\\u003cscript" not in shown
    assert "lt;script" in shown


def test_tooltips_label_the_area_name_as_an_area_or_its_level() -> None:
    def aliases(page: str) -> list[str]:
        found = re.search(r"let aliases = (\[.*?\]);", page)
        assert found is not None
        return list(json.loads(found.group(1)))

    plain = kinds.choropleth(grid(), context(), column="value", label="x").get_root().render()
    assert aliases(plain)[0] == "พื้นที่"
    named = kinds.choropleth(grid(), context(), column="value", label="x", area_label="ตำบล")
    assert aliases(named.get_root().render())[0] == "ตำบล"
    english = kinds.choropleth(grid(), context(lang="en"), column="value", label="x")
    assert aliases(english.get_root().render())[0] == "Area"
    hot = kinds.hotspot_map(grid().assign(gi_class="hot_95"), context()).get_root().render()
    assert aliases(hot)[0] == "พื้นที่"


def mercator_centres(image: np.ndarray, bounds: tuple[float, ...]) -> gpd.GeoSeries:
    """The centres of an image's pixels (Web Mercator rows and columns over ``bounds`` in
    degrees), in EPSG:4326, row by row."""
    rows, cols = image.shape[:2]
    corners = gpd.GeoSeries(
        gpd.points_from_xy([bounds[0], bounds[2]], [bounds[1], bounds[3]]), crs=4326
    ).to_crs(3857)
    (x0, x1), (y0, y1) = corners.x.to_numpy(), corners.y.to_numpy()
    xs = x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols
    ys = y1 - (np.arange(rows) + 0.5) * (y1 - y0) / rows
    grid_x, grid_y = np.meshgrid(xs, ys)
    return gpd.GeoSeries(gpd.points_from_xy(grid_x.ravel(), grid_y.ravel()), crs=3857).to_crs(4326)


def test_a_raster_is_cut_to_the_area_s_outline() -> None:
    values = np.ones((200, 200), dtype="float32")
    transform = rasterio.transform.from_bounds(100, 15, 101, 16, 200, 200)
    triangle = shapely.Polygon([(100.1, 15.1), (100.9, 15.1), (100.5, 15.9)])
    image, bounds = prepare.raster_image(values, transform, "EPSG:4326", None, clip=triangle)
    inside = mercator_centres(image, bounds).within(triangle).to_numpy()
    alpha = image[..., 3].ravel()
    assert inside.any() and (~inside).any()
    assert (alpha[~inside] == 0).all() and (alpha[inside] > 0).all()
    whole, _ = prepare.raster_image(values, transform, "EPSG:4326", None)
    assert (whole[..., 3] > 0).all()


def water_layers() -> dict[str, gpd.GeoDataFrame]:
    sources = gpd.GeoDataFrame(
        {"name": ["บ่อ 1", "บ่อ 2"], "status": ["ok", "dry"]},
        geometry=gpd.points_from_xy([100.12, 100.33], [15.12, 15.31]),
        crs=4326,
    )
    zones = gpd.GeoDataFrame(
        {"name": ["z"]}, geometry=[shapely.box(100, 15, 100.2, 15.2)], crs=4326
    )
    river = gpd.GeoDataFrame(
        {"name": ["ลำน้ำ"]}, geometry=[shapely.LineString([(100, 15), (100.5, 15.5)])], crs=4326
    )
    return {"water_sources": sources, "flood_zones": zones, "waterways": river}


def test_the_water_map_draws_its_sources_last_and_its_raster_under_everything() -> None:
    cells = grid().rename(columns={"value": "problems"}).fillna({"problems": 1})
    names = {kind: kind for kind in style.WATER_STYLE} | {"households": "ครัวเรือนไม่มีน้ำ"}
    image = np.zeros((4, 4, 4), dtype="uint8")
    m = kinds.water_map(
        water_layers(),
        context(),
        bounds=(100, 15, 100.5, 15.5),
        names=names,
        raster=(image, (100, 15, 100.5, 15.5), "ความถี่น้ำท่วม 10 ปี"),
        households=cells,
    )
    page = m.get_root().render()
    created = re.findall(r"var (\w+) = ", page)
    kept = re.search(r"\}\)\(map_\w+, \[([^\]]*)\]\);", page)
    assert kept is not None
    drawn = kept.group(1).split(", ")
    # Flood zones, hexagons, waterways, sources: added in that order, and kept in it.
    assert drawn == [c for c in created if c.startswith(("geo_json", "feature_group"))][-4:]

    def data(name: str) -> str:
        start = page.index(f"{name}_add(")
        return page[start : page.index("</script>", start)].split(");", 1)[0]

    zones, hexagons, river, sources = drawn
    assert '"problems"' in data(hexagons) and '"problems"' not in data(zones) + data(river)
    assert sources.startswith("feature_group")
    pane = re.search(r'createPane\(\s*"bmr-raster"\);\s*\w+\.style\.zIndex = (\d+);', page)
    assert pane is not None and int(pane.group(1)) < 400  # Leaflet's overlay pane
    assert re.search(r'L\.imageOverlay\((?:(?!\);).)*"pane": "bmr-raster"', page, re.S)
    assert json.dumps("ความถี่น้ำท่วม 10 ปี") in page  # the layer control's name
    legend = re.search(r"<div class='bmr-legend'>(.*?)</div></div>", page, re.S)
    assert legend is not None and "ความถี่น้ำท่วม 10 ปี" in legend.group(1)
    assert "ครัวเรือนไม่มีน้ำ" in legend.group(1)  # the hexagons' classes have their rows
