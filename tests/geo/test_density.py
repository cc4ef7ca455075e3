"""Household counts on H3 hexagons and the kernel density surface."""

from __future__ import annotations

import math

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from geo.crs import UTM_47N, UTM_48N
from geo.density import HEX_COLUMNS, cell_centres, h3_resolution, hex_counts, kernel_density
from geo.errors import InvalidInputError


def households(
    lon: np.ndarray, lat: np.ndarray, problems: np.ndarray, solved: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    data = {"problems": problems} if solved is None else {"problems": problems, "solved": solved}
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def survey(n: int = 5000, seed: int = 1) -> gpd.GeoDataFrame:
    """Households spread over about 20 x 20 km near Ubon Ratchathani."""
    rng = np.random.default_rng(seed)
    problems = rng.poisson(0.8, n)
    return households(
        rng.uniform(104.8, 105.0, n),
        rng.uniform(15.1, 15.3, n),
        problems,
        rng.binomial(problems, 0.9),
    )


def points(lon: np.ndarray, lat: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)


def clustered(seed: int = 2) -> tuple[gpd.GeoDataFrame, tuple[float, float]]:
    """400 points scattered near 104.5°E 15.2°N and a dense cluster of 300 in the north-east."""
    rng = np.random.default_rng(seed)
    centre = (104.62, 15.33)
    lon = np.concatenate([rng.uniform(104.3, 104.7, 400), rng.normal(centre[0], 0.004, 300)])
    lat = np.concatenate([rng.uniform(15.0, 15.4, 400), rng.normal(centre[1], 0.004, 300)])
    return points(lon, lat), centre


def average_area(res: int) -> float:
    return float(h3.average_hexagon_area(res, unit="km^2"))


# --- h3_resolution -------------------------------------------------------------------------------


@pytest.mark.parametrize("area", [3.0, 50.0, 700.0, 16_000.0, 120_000.0])
def test_resolution_is_the_finest_that_holds_at_most_the_target(area: float) -> None:
    res = h3_resolution(area)
    assert 4 <= res <= 10
    if res > 4:
        assert area / average_area(res) <= 2000
    if res < 10:
        assert area / average_area(res + 1) > 2000


def test_larger_areas_get_coarser_cells_within_the_bounds() -> None:
    areas = [0.5, 50.0, 500.0, 5_000.0, 16_000.0, 100_000.0, 513_000.0, 5_000_000.0]
    resolutions = [h3_resolution(a) for a in areas]
    assert resolutions == sorted(resolutions, reverse=True)
    assert resolutions[0] == 10
    assert resolutions[-1] == 4
    assert h3_resolution(16_000.0) == 6
    assert h3_resolution(16_000.0, target_cells=4000) == 7
    assert h3_resolution(0.5, finest=8) == 8
    assert h3_resolution(5_000_000.0, coarsest=5) == 5


def test_resolution_bounds_must_make_sense() -> None:
    with pytest.raises(InvalidInputError):
        h3_resolution(100.0, finest=4, coarsest=8)
    with pytest.raises(InvalidInputError):
        h3_resolution(-1.0)


# --- hex_counts ----------------------------------------------------------------------------------


def test_hex_totals_equal_the_input_totals() -> None:
    frame = survey()
    cells = hex_counts(frame, 8)
    assert list(cells.columns) == [*HEX_COLUMNS, "geometry"]
    assert cells["households"].sum() == len(frame)
    assert cells["problems"].sum() == frame["problems"].sum()
    assert cells["solved"].sum() == frame["solved"].sum()
    assert cells["households_with_problems"].sum() == (frame["problems"] > 0).sum()
    assert cells["h3"].is_unique
    assert cells["h3"].tolist() == sorted(cells["h3"])
    assert cells.crs.to_epsg() == 4326


def test_each_household_lands_in_its_h3_cell_and_inside_its_hexagon() -> None:
    frame = survey(n=800)
    cells = hex_counts(frame, 9).set_index("h3")
    expected = [h3.latlng_to_cell(p.y, p.x, 9) for p in frame.geometry]
    per_cell = pd.Series(expected).value_counts()
    assert cells["households"].to_dict() == per_cell.to_dict()
    hexagons = gpd.GeoSeries(cells.loc[expected].geometry.to_numpy(), crs=4326)
    assert hexagons.covers(frame.geometry.reset_index(drop=True)).all()
    assert all(h3.get_resolution(c) == 9 for c in cells.index)


def test_heatmap_points_are_cell_centres_carrying_the_cells_problems() -> None:
    frame = survey(n=800)
    points = cell_centres(frame, 8)
    cells = hex_counts(frame, 8).set_index("h3")
    assert points["weight"].sum() == frame["problems"].sum()
    at = [h3.latlng_to_cell(lat, lon, 8) for lat, lon in zip(points.lat, points.lon, strict=True)]
    assert dict(zip(at, points["weight"], strict=True)) == {
        c: n for c, n in cells["problems"].items() if n > 0
    }
    assert not set(zip(points.lat, points.lon, strict=True)) & {(p.y, p.x) for p in frame.geometry}


def test_rates_are_per_thousand_households() -> None:
    # Three households share a spot; a fourth lives about 20 km away.
    frame = households(
        np.array([104.9, 104.9, 104.9, 105.1]),
        np.array([15.2, 15.2, 15.2, 15.3]),
        np.array([0, 2, 4, 0]),
        np.array([0, 1, 4, 0]),
    )
    cells = hex_counts(frame, 7).set_index("h3")
    shared = cells.loc[h3.latlng_to_cell(15.2, 104.9, 7)]
    assert shared["households"] == 3
    assert shared["households_with_problems"] == 2
    assert shared["problems"] == 6
    assert shared["solved"] == 5
    assert shared["problems_per_1000"] == pytest.approx(2000.0)
    assert shared["affected_per_1000"] == pytest.approx(2000.0 / 3)
    alone = cells.loc[h3.latlng_to_cell(15.3, 105.1, 7)]
    assert (alone["households"], alone["problems_per_1000"], alone["affected_per_1000"]) == (
        1,
        0.0,
        0.0,
    )


def test_solved_is_only_reported_when_given() -> None:
    frame = survey(n=50).drop(columns="solved")
    assert "solved" not in hex_counts(frame, 7).columns


def test_no_households_give_an_empty_frame_with_the_columns() -> None:
    cells = hex_counts(survey().iloc[:0], 8)
    assert len(cells) == 0
    assert list(cells.columns) == [*HEX_COLUMNS, "geometry"]
    assert cells.crs.to_epsg() == 4326


def test_hex_counts_refuse_bad_input() -> None:
    frame = survey(n=10)
    with pytest.raises(ValueError, match="EPSG:4326"):
        hex_counts(frame.to_crs(UTM_48N), 8)
    with pytest.raises(InvalidInputError, match="problems"):
        hex_counts(frame.drop(columns="problems"), 8)
    frame.loc[0, "problems"] = -1
    with pytest.raises(InvalidInputError, match="problems"):
        hex_counts(frame, 8)
    with pytest.raises(InvalidInputError, match="resolution"):
        hex_counts(survey(n=10), 16)


# --- kernel_density ------------------------------------------------------------------------------


def test_density_integrates_to_the_number_of_points() -> None:
    frame, _ = clustered()
    density = kernel_density(frame)
    cell_km2 = density.cell_m**2 / 1e6
    assert density.points == len(frame)
    assert density.values.dtype == np.float32
    assert float(density.values.sum()) * cell_km2 == pytest.approx(len(frame), rel=0.01)


def test_density_peaks_at_the_dense_cluster() -> None:
    frame, (lon, lat) = clustered()
    density = kernel_density(frame, bandwidth_m=300.0)
    row, col = np.unravel_index(np.argmax(density.values), density.values.shape)
    x, y = density.transform @ (col + 0.5, row + 0.5)
    cx, cy = Transformer.from_crs(4326, density.crs_epsg, always_xy=True).transform(lon, lat)
    assert math.hypot(x - cx, y - cy) < 2 * density.cell_m


@pytest.mark.parametrize(("lon", "epsg"), [(105.0, UTM_48N), (100.0, UTM_47N)])
def test_density_grid_is_in_the_utm_zone_of_the_points(lon: float, epsg: int) -> None:
    rng = np.random.default_rng(3)
    density = kernel_density(points(rng.normal(lon, 0.05, 100), rng.normal(15.0, 0.05, 100)))
    assert density.crs_epsg == epsg


def test_grid_is_snapped_to_the_cell_and_covers_the_points_with_a_margin() -> None:
    frame, _ = clustered()
    density = kernel_density(frame, cell_m=200.0, bandwidth_m=500.0)
    t = density.transform
    rows, cols = density.values.shape
    assert (t.a, t.e, t.b, t.d) == (200.0, -200.0, 0.0, 0.0)
    assert t.c % 200.0 == 0 and t.f % 200.0 == 0
    xy = frame.to_crs(density.crs_epsg).geometry
    margin = 3 * 500.0
    assert t.c <= xy.x.min() - margin
    assert t.c + cols * 200.0 >= xy.x.max() + margin
    assert t.f >= xy.y.max() + margin
    assert t.f - rows * 200.0 <= xy.y.min() - margin


def test_given_bounds_set_the_grid() -> None:
    frame, _ = clustered()
    bounds = (440_000.0, 1_660_000.0, 460_000.0, 1_680_000.0)
    density = kernel_density(frame, cell_m=250.0, bandwidth_m=1000.0, bounds=bounds)
    rows, cols = density.values.shape
    assert (density.transform.c, density.transform.f) == (437_000.0, 1_683_000.0)
    assert (rows, cols) == (104, 104)


def test_default_bandwidth_is_scotts_rule_but_at_least_a_cell() -> None:
    frame, _ = clustered()
    xy = frame.to_crs(UTM_48N).geometry
    scott = len(frame) ** (-1 / 6) * (xy.x.std() + xy.y.std()) / 2
    assert kernel_density(frame).bandwidth_m == pytest.approx(scott)
    near = points(np.array([104.5, 104.50001]), np.array([15.0, 15.0]))
    assert kernel_density(near, cell_m=100.0).bandwidth_m == 100.0


def test_weights_scale_the_surface() -> None:
    frame, _ = clustered()
    plain = kernel_density(frame, bandwidth_m=400.0)
    frame["w"] = 2.5
    weighted = kernel_density(frame, bandwidth_m=400.0, weights="w")
    np.testing.assert_allclose(weighted.values, 2.5 * plain.values, rtol=1e-5)
    cell_km2 = weighted.cell_m**2 / 1e6
    assert float(weighted.values.sum()) * cell_km2 == pytest.approx(2.5 * len(frame), rel=0.01)


@pytest.mark.parametrize("bandwidth", [0.0, -10.0, math.nan, math.inf])
def test_bandwidth_must_be_positive(bandwidth: float) -> None:
    frame, _ = clustered()
    with pytest.raises(InvalidInputError, match="bandwidth"):
        kernel_density(frame, bandwidth_m=bandwidth)


@pytest.mark.parametrize("n", [0, 1])
def test_density_needs_two_points(n: int) -> None:
    frame = points(np.full(n, 104.5), np.full(n, 15.0))
    with pytest.raises(InvalidInputError, match="at least 2 points"):
        kernel_density(frame)


def test_density_refuses_other_crs_and_bad_weights() -> None:
    frame, _ = clustered()
    with pytest.raises(ValueError, match="EPSG:4326"):
        kernel_density(frame.to_crs(UTM_48N))
    with pytest.raises(InvalidInputError, match="missing"):
        kernel_density(frame, weights="missing")
    frame["w"] = -1.0
    with pytest.raises(InvalidInputError, match="w"):
        kernel_density(frame, weights="w")
