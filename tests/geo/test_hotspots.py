"""Contiguity weights, their storage as rows, and Gi* / Local Moran hot spots."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.weights import W
from shapely.geometry import box

from geo.errors import InvalidInputError
from geo.hotspots import (
    GI_CLASSES,
    build_weights,
    hotspots,
    weights_from_frame,
    weights_to_frame,
)

SIDE = 15
STEP = 0.05
HOT = [f"{r:02d}{c:02d}" for r in range(2, 5) for c in range(2, 5)]
COLD = [f"{r:02d}{c:02d}" for r in range(10, 13) for c in range(10, 13)]


def grid(extra: dict[str, tuple[float, float]] | None = None) -> gpd.GeoDataFrame:
    """15 x 15 square areas of 0.05° from 104°E 15°N, ids 'rrcc', plus small squares at (lon, lat)."""
    # Queen contiguity matches vertices exactly, so neighbours must share the same floats.
    xs, ys = 104.0 + STEP * np.arange(SIDE + 1), 15.0 + STEP * np.arange(SIDE + 1)
    codes, boxes = [], []
    for r in range(SIDE):
        for c in range(SIDE):
            codes.append(f"{r:02d}{c:02d}")
            boxes.append(box(xs[c], ys[r], xs[c + 1], ys[r + 1]))
    for code, (x, y) in (extra or {}).items():
        codes.append(code)
        boxes.append(box(x, y, x + 0.01, y + 0.01))
    return gpd.GeoDataFrame({"code": codes}, geometry=boxes, crs=4326)


@pytest.fixture(scope="module")
def grid_w() -> W:
    return build_weights(grid())


def planted(seed: int = 0) -> pd.Series:
    """Noise between 4 and 6, a 3 x 3 block of 20 and a 3 x 3 block of 0."""
    rng = np.random.default_rng(seed)
    values = pd.Series(rng.uniform(4.0, 6.0, SIDE * SIDE), index=grid()["code"].tolist())
    values[HOT] = 20.0
    values[COLD] = 0.0
    return values


def far_from_blocks(code: str) -> bool:
    r, c = int(code[:2]), int(code[2:])
    return not (0 <= r <= 6 and 0 <= c <= 6) and not (8 <= r <= 14 and 8 <= c <= 14)


# --- weights -------------------------------------------------------------------------------------


def test_queen_contiguity_on_squares(grid_w: W) -> None:
    assert grid_w.id_order == grid()["code"].tolist()
    assert sorted(grid_w.neighbors["0000"]) == ["0001", "0100", "0101"]
    assert len(grid_w.neighbors["0707"]) == 8
    assert set(grid_w.weights["0707"]) == {1.0}


def test_an_island_gets_its_nearest_area_as_neighbour() -> None:
    # A small island 0.1° east of the grid's east edge, at the height of row 7.
    w = build_weights(grid({"island": (104.0 + SIDE * STEP + 0.1, 15.37)}))
    assert w.neighbors["island"] == ["0714"]
    assert "island" in w.neighbors["0714"]
    assert min(w.cardinalities.values()) >= 1


def test_two_islands_nearest_to_each_other_are_linked_once() -> None:
    # Like Ko Chang's two subdistricts: libpysal's attach_islands would list one link twice.
    w = build_weights(grid({"north": (105.5, 15.52), "south": (105.5, 15.5)}))
    assert w.neighbors["north"] == ["south"]
    assert w.neighbors["south"] == ["north"]
    assert w.sparse.max() == 1.0


def test_weights_round_trip_through_rows_exactly() -> None:
    w = build_weights(grid({"island": (105.0, 15.9)}))
    frame = weights_to_frame(w)
    assert list(frame.columns) == ["focal", "neighbor", "weight"]
    assert (frame["weight"] == 1.0).all()
    back = weights_from_frame(frame, ids=w.id_order)
    assert back.id_order == w.id_order
    assert back.neighbors == w.neighbors
    assert back.weights == w.weights
    assert (back.sparse != w.sparse).nnz == 0


def test_areas_without_rows_survive_when_ids_are_given() -> None:
    w = W({"b": ["a"], "c": [], "a": ["b"]}, id_order=["b", "c", "a"], silence_warnings=True)
    frame = weights_to_frame(w)
    assert "c" not in set(frame["focal"])
    back = weights_from_frame(frame, ids=w.id_order)
    assert back.id_order == ["b", "c", "a"]
    assert back.neighbors == {"b": ["a"], "c": [], "a": ["b"]}
    assert weights_from_frame(frame).id_order == ["b", "a"]


def test_weights_from_rows_refuse_unknown_ids() -> None:
    frame = pd.DataFrame({"focal": ["a", "b"], "neighbor": ["b", "z"], "weight": [1.0, 1.0]})
    with pytest.raises(InvalidInputError, match="z"):
        weights_from_frame(frame, ids=["a", "b"])


def test_build_weights_refuses_bad_areas() -> None:
    areas = grid()
    with pytest.raises(ValueError, match="EPSG:4326"):
        build_weights(areas.to_crs(32648))
    with pytest.raises(InvalidInputError, match="pcode"):
        build_weights(areas, id_column="pcode")
    areas.loc[1, "code"] = "0000"
    with pytest.raises(InvalidInputError, match="0000"):
        build_weights(areas)


# --- hotspots ------------------------------------------------------------------------------------


def test_planted_clusters_come_out_hot_and_cold(grid_w: W) -> None:
    result = hotspots(planted(), grid_w)
    assert result.loc[HOT, "gi_class"].str.startswith("hot_").all()
    assert result.loc[COLD, "gi_class"].str.startswith("cold_").all()
    assert (result.loc[HOT, "moran_class"] == "HH").all()
    assert (result.loc[COLD, "moran_class"] == "LL").all()
    noise = result.loc[[c for c in result.index if far_from_blocks(c)]]
    assert len(noise) > 100
    assert (noise["gi_class"] == "not_significant").mean() > 0.95
    assert set(result["gi_class"]) <= set(GI_CLASSES)
    assert result.index.tolist() == grid_w.id_order


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The weights matrix is not fully connected:UserWarning")
def test_results_equal_a_direct_esda_call() -> None:
    w = build_weights(grid())
    values = planted(seed=4)
    result = hotspots(values, w, permutations=199, seed=7)
    y = values.reindex(w.id_order).to_numpy()
    gi = esda.G_Local(y, w, transform="B", star=True, permutations=199, seed=7, n_jobs=1)
    lisa = esda.Moran_Local(y, w, transformation="R", permutations=199, seed=7, n_jobs=1)
    np.testing.assert_array_equal(result["gi_z"], gi.Zs)
    np.testing.assert_array_equal(result["gi_p"], gi.p_sim)
    np.testing.assert_array_equal(result["moran_i"], lisa.Is)
    np.testing.assert_array_equal(result["moran_z"], lisa.z_sim)
    np.testing.assert_array_equal(result["moran_p"], lisa.p_sim)
    quadrants = np.array(["HH", "LH", "LL", "HL"])[lisa.q - 1]
    assert result["moran_quadrant"].tolist() == quadrants.tolist()


def test_classes_follow_the_fdr_cut_offs(grid_w: W) -> None:
    result = hotspots(planted(seed=2), grid_w, alpha=0.10)
    p, z = result["gi_p"].to_numpy(), result["gi_z"].to_numpy()
    cut = {level: esda.fdr(p, level) for level in (0.01, 0.05, 0.10)}
    expected = np.full(len(p), "not_significant", dtype=object)
    for label, level in (("90", 0.10), ("95", 0.05), ("99", 0.01)):
        sig = p <= cut[level]
        expected[sig] = np.where(z[sig] > 0, f"hot_{label}", f"cold_{label}")
    assert result["gi_class"].tolist() == expected.tolist()
    moran_sig = result["moran_p"] <= esda.fdr(result["moran_p"].to_numpy(), 0.10)
    assert (result["moran_class"][moran_sig] == result["moran_quadrant"][moran_sig]).all()
    assert (result["moran_class"][~moran_sig] == "not_significant").all()
    assert result.attrs["parameters"] == {
        "permutations": 999,
        "seed": 12345,
        "alpha": 0.10,
        "gi_fdr_cutoffs": {"0.01": cut[0.01], "0.05": cut[0.05], "0.1": cut[0.10]},
        "moran_fdr_cutoff": esda.fdr(result["moran_p"].to_numpy(), 0.10),
    }


def test_same_seed_same_result_and_nothing_else_changes(grid_w: W) -> None:
    values = planted(seed=1)
    np.random.seed(99)
    untouched = np.random.rand()
    np.random.seed(99)
    first = hotspots(values, grid_w, permutations=99, seed=5)
    assert np.random.rand() == untouched
    assert grid_w.transform == "O"
    assert set(grid_w.weights["0707"]) == {1.0}
    shuffled = values.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(hotspots(shuffled, grid_w, permutations=99, seed=5), first)
    other = hotspots(values, grid_w, permutations=99, seed=6)
    assert not np.array_equal(other["gi_p"], first["gi_p"])
    np.testing.assert_array_equal(other["gi_z"], first["gi_z"])


def test_values_must_match_the_areas(grid_w: W) -> None:
    values = planted()
    with pytest.raises(InvalidInputError, match="1 missing \\(0707\\)"):
        hotspots(values.drop("0707"), grid_w)
    with pytest.raises(InvalidInputError, match="1 extra \\(9999\\)"):
        hotspots(pd.concat([values, pd.Series({"9999": 1.0})]), grid_w)
    with_nan = values.copy()
    with_nan["0001"] = np.nan
    with pytest.raises(InvalidInputError, match="missing for 1"):
        hotspots(with_nan, grid_w)
    with pytest.raises(InvalidInputError, match=">= 0"):
        hotspots(values - 10.0, grid_w)
    with pytest.raises(InvalidInputError, match="all equal"):
        hotspots(values * 0.0, grid_w)


def test_real_subdistricts_all_get_neighbours(
    shared_boundaries: Path, record_property: Callable[[str, object], None]
) -> None:
    areas = gpd.read_file(shared_boundaries / "tha_admbnda_adm3.geojson")
    areas["code"] = areas["ADM3_PCODE"].str.removeprefix("TH")
    started = time.perf_counter()
    w = build_weights(areas)
    seconds = time.perf_counter() - started
    record_property("build_weights_seconds", round(seconds, 2))
    print(f"build_weights on {w.n} subdistricts: {seconds:.2f} s")
    assert w.n == len(areas) > 7400
    assert w.id_order == areas["code"].tolist()
    assert min(w.cardinalities.values()) >= 1
    assert w.islands == []
