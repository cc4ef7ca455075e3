"""The synthetic water set: deterministic, labelled, and its layers agree with its terrain."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from numpy.typing import NDArray
from rasterio import features
from shapely.geometry import Point, box

from geo.errors import InvalidInputError
from geo.synth.sources import SOURCE_RADIUS_M
from geo.synth.water import LABEL, SyntheticWater, synthesize_water

BOUNDARIES = Path(
    os.environ.get(
        "BAMRUNG_SHARED_BOUNDARIES",
        Path(__file__).resolve().parents[3] / "shared" / "data" / "boundaries",
    )
)
# An L-shaped area near Phibun Mangsahan, given as two polygons to be dissolved.
AREA = gpd.GeoDataFrame(
    geometry=[box(104.9, 15.1, 105.3, 15.3), box(104.9, 15.3, 105.1, 15.5)], crs=4326
)
TOLERANCE_DEG = 1e-7


@pytest.fixture(scope="module")
def water() -> SyntheticWater:
    return synthesize_water(AREA, seed=7)


def area_shape() -> shapely.Geometry:
    return AREA.union_all()


def sample(water: SyntheticWater, raster: NDArray[np.float32], xy: NDArray[np.float64]) -> NDArray:
    t = water.transform
    col, row = (xy[:, 0] - t.c) / t.a, (xy[:, 1] - t.f) / t.e
    return raster[np.floor(row).astype(int), np.floor(col).astype(int)]


def zone_mask(water: SyntheticWater, zones: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    return features.geometry_mask(
        zones.to_crs(water.crs_epsg).geometry,
        out_shape=water.elevation.shape,
        transform=water.transform,
        invert=True,
    )


def frames(water: SyntheticWater) -> dict[str, gpd.GeoDataFrame]:
    return {
        "streams": water.streams,
        "flood_zones": water.flood_zones,
        "drought_zones": water.drought_zones,
        "water_sources": water.water_sources,
        "villages": water.villages,
    }


def test_the_same_seed_gives_the_same_set_and_another_seed_another(water: SyntheticWater) -> None:
    again = synthesize_water(AREA, seed=7)
    np.testing.assert_array_equal(water.elevation, again.elevation)
    np.testing.assert_array_equal(water.flood_frequency, again.flood_frequency)
    assert water.transform == again.transform
    for name, frame in frames(water).items():
        other = frames(again)[name]
        assert frame.drop(columns="geometry").equals(other.drop(columns="geometry")), name
        assert list(frame.geometry.to_wkb()) == list(other.geometry.to_wkb()), name
    different = synthesize_water(AREA, seed=8)
    assert not np.array_equal(water.elevation, different.elevation)
    assert list(water.water_sources.geometry.to_wkb()) != list(
        different.water_sources.geometry.to_wkb()
    )


@pytest.mark.parametrize(
    ("lon", "epsg"), [(105.0, 32648), (100.0, 32647), (101.9, 32647), (102.1, 32648)]
)
def test_the_grid_is_in_the_utm_zone_of_the_area_and_covers_it(lon: float, epsg: int) -> None:
    area = gpd.GeoDataFrame(geometry=[box(lon - 0.05, 15.0, lon + 0.05, 15.1)], crs=4326)
    water = synthesize_water(area, cell_m=200.0)
    assert water.crs_epsg == epsg
    assert water.elevation.shape == water.flood_frequency.shape
    assert water.elevation.dtype == water.flood_frequency.dtype == np.float32
    t = water.transform
    assert (t.a, t.b, t.d, t.e) == (200.0, 0.0, 0.0, -200.0)
    rows, cols = water.elevation.shape
    minx, miny, maxx, maxy = area.to_crs(epsg).total_bounds
    assert t.c < minx and t.c + cols * t.a > maxx
    assert t.f > maxy and t.f + rows * t.e < miny
    assert water.nodata == -9999.0
    assert np.isfinite(water.elevation).all()


def test_terrain_is_plausible_for_the_khorat_plateau(water: SyntheticWater) -> None:
    assert 100 <= water.elevation.min() < water.elevation.max() <= 400
    assert water.flood_frequency.min() >= 0 and water.flood_frequency.max() <= 10


def test_streams_run_downhill_inside_the_area(water: SyntheticWater) -> None:
    streams = water.streams
    assert len(streams) >= 5
    assert set(streams.geom_type) == {"LineString"}
    assert streams.within(area_shape().buffer(TOLERANCE_DEG)).all()
    assert streams["order"].min() >= 1
    assert streams["order"].dtype.kind == "i"
    drops = []
    for line in streams.to_crs(water.crs_epsg).geometry:
        # Every 50 m along the line, from its first vertex (upstream) to its last.
        points = line.interpolate(np.append(np.arange(0.0, line.length, 50.0), line.length))
        height = sample(water, water.elevation, shapely.get_coordinates(points))
        rise = height - np.minimum.accumulate(height)
        assert rise.max() <= 1.0, f"a stream climbs {rise.max():.2f} m"
        drops.append(height[0] - height[-1])
    assert np.mean(drops) > 1.0
    # Streams lie in valleys: lower than the land around them.
    vertices = shapely.get_coordinates(streams.to_crs(water.crs_epsg).geometry.to_numpy())
    assert sample(water, water.elevation, vertices).mean() < water.elevation.mean()


def test_flood_zones_lie_along_streams(water: SyntheticWater) -> None:
    zones = water.flood_zones.to_crs(water.crs_epsg)
    assert len(zones) > 0
    assert set(zones.geom_type) <= {"Polygon", "MultiPolygon"}
    assert zones.is_valid.all()
    assert set(zones["return_period_years"]) <= {2, 10}
    assert water.flood_zones.within(area_shape().buffer(TOLERANCE_DEG)).all()
    streams = water.streams.to_crs(water.crs_epsg).union_all()
    # A river just outside the area may flood land along its boundary (measured in degrees: the
    # area's edges are straight there).
    on_boundary = shapely.distance(water.flood_zones.geometry.to_numpy(), area_shape().boundary)
    near = (zones.distance(streams).to_numpy() <= 500) | (on_boundary <= TOLERANCE_DEG)
    assert near.all()
    # Conversely, streams run through flood zones.
    covered = water.streams.to_crs(water.crs_epsg).intersection(zones.union_all().buffer(1.0))
    assert covered.length.sum() > 0.9 * streams.length
    inside = zone_mask(water, water.flood_zones)
    assert water.flood_frequency[inside].mean() > 3 * water.flood_frequency[~inside].mean()
    two = zone_mask(water, water.flood_zones[water.flood_zones["return_period_years"] == 2])
    ten = zone_mask(water, water.flood_zones[water.flood_zones["return_period_years"] == 10])
    assert water.flood_frequency[two].mean() > water.flood_frequency[ten].mean()


def test_drought_zones_are_high_ground_apart_from_flood_zones(water: SyntheticWater) -> None:
    drought = water.drought_zones.to_crs(water.crs_epsg)
    flood = water.flood_zones.to_crs(water.crs_epsg)
    assert len(drought) > 0
    assert set(drought["severity"]) == {"moderate", "severe"}
    assert drought.is_valid.all()
    assert water.drought_zones.within(area_shape().buffer(TOLERANCE_DEG)).all()
    assert drought.union_all().intersection(flood.union_all()).area < 1.0
    dry, wet = zone_mask(water, water.drought_zones), zone_mask(water, water.flood_zones)
    assert water.elevation[dry].mean() > water.elevation[wet].mean() + 5
    assert water.flood_frequency[dry].max() < 1.0
    assert drought.distance(water.streams.to_crs(water.crs_epsg).union_all()).min() >= 1_000


def test_water_sources_are_in_villages_inside_the_area(water: SyntheticWater) -> None:
    sources = water.water_sources
    assert set(sources.geom_type) == {"Point"}
    assert sources.within(area_shape()).all()
    utm = sources.to_crs(water.crs_epsg)
    villages = water.villages.to_crs(water.crs_epsg)
    nearest = gpd.sjoin_nearest(utm, villages, distance_col="d")
    assert nearest["d"].max() <= SOURCE_RADIUS_M + 1
    # About one village per 15 km² and one or two sources each.
    area_km2 = AREA.to_crs(water.crs_epsg).union_all().area / 1e6
    assert len(villages) == pytest.approx(area_km2 / 15, rel=0.05)
    assert 1.3 < len(sources) / len(villages) < 1.7
    assert set(sources["status"]) == {"working", "broken"}
    assert (sources["status"] == "working").mean() == pytest.approx(0.8, abs=0.1)
    assert set(sources["kind"]) == {"well", "pond", "piped_supply", "reservoir"}


def test_given_villages_get_the_sources_and_those_outside_none() -> None:
    villages = gpd.GeoDataFrame(
        {"village": ["a", "b", "c", "outside"]},
        geometry=[Point(105.0, 15.2), Point(105.2, 15.15), Point(105.05, 15.45), Point(104, 14)],
        crs=4326,
    )
    water = synthesize_water(AREA, villages, seed=1)
    assert water.villages["village"].tolist() == ["a", "b", "c"]
    assert 3 <= len(water.water_sources) <= 6
    utm = water.water_sources.to_crs(water.crs_epsg)
    nearest = gpd.sjoin_nearest(utm, water.villages.to_crs(water.crs_epsg), distance_col="d")
    assert nearest["d"].max() <= SOURCE_RADIUS_M + 1
    assert water.water_sources.within(area_shape()).all()


def test_every_frame_is_labelled_synthetic(water: SyntheticWater) -> None:
    assert LABEL.startswith("SYNTHETIC")
    for name, frame in frames(water).items():
        assert frame.crs.to_epsg() == 4326, name
        assert frame["synthetic"].astype(bool).all(), name
        assert frame["name"].str.startswith("SYNTHETIC ").all(), name
        assert frame["name"].is_unique, name


def test_ubon_ratchathani_gives_a_sensible_set(record_property: Callable[..., None]) -> None:
    path = BOUNDARIES / "tha_admbnda_adm1.geojson"
    if not path.exists():
        pytest.skip(f"no province boundaries at {path}")
    provinces = gpd.read_file(path)
    ubon = provinces[provinces["ADM1_PCODE"] == "TH34"]
    assert len(ubon) == 1
    start = time.perf_counter()
    water = synthesize_water(ubon, seed=34)
    seconds = time.perf_counter() - start
    record_property("duration_s", round(seconds, 2))
    print(f"province 34 at 250 m: {water.elevation.shape} cells in {seconds:.1f} s")
    assert seconds < 30
    assert water.crs_epsg == 32648
    assert 20 <= len(water.streams) < 100
    assert water.streams["order"].max() >= 2
    assert len(water.flood_zones) > 0 and len(water.drought_zones) > 0
    assert 800 < len(water.villages) < 1300
    sources = water.water_sources
    assert 1.4 < len(sources) / len(water.villages) < 1.6
    assert (sources["status"] == "working").mean() == pytest.approx(0.8, abs=0.03)
    shares = sources["kind"].value_counts(normalize=True)
    assert shares["well"] > shares["pond"] > shares["piped_supply"] > shares["reservoir"] > 0.05
    shape = ubon.union_all().buffer(TOLERANCE_DEG)
    for frame in frames(water).values():
        assert frame.within(shape).all()


@pytest.mark.parametrize(
    ("area", "message"),
    [
        (gpd.GeoDataFrame(geometry=[], crs=4326), "no geometry"),
        (AREA.to_crs(32648), "EPSG:4326"),
        (gpd.GeoDataFrame(geometry=[box(105, 15, 105.1, 15.1)]), "EPSG:4326"),
        (gpd.GeoDataFrame(geometry=[Point(105, 15)], crs=4326), "polygons"),
        (box(105, 15, 105.1, 15.1), "GeoDataFrame"),
        (gpd.GeoDataFrame(geometry=[box(97, 5, 106, 21)], crs=4326), "larger than"),
    ],
)
def test_bad_areas_are_refused(area: gpd.GeoDataFrame, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        synthesize_water(area)


def test_bad_villages_and_cells_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="points"):
        synthesize_water(AREA, AREA)
    with pytest.raises(InvalidInputError, match="EPSG:4326"):
        synthesize_water(AREA, gpd.GeoDataFrame(geometry=[Point(105, 15.2)], crs=32648))
    with pytest.raises(InvalidInputError, match="inside the area"):
        synthesize_water(AREA, gpd.GeoDataFrame(geometry=[Point(100, 15)], crs=4326))
    with pytest.raises(InvalidInputError, match="cell_m"):
        synthesize_water(AREA, cell_m=0)
