"""Analysis on stored data, checked against independent computations on the same data."""

from __future__ import annotations

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from libpysal.weights import W, w_subset
from rasterio.features import geometry_mask
from sqlalchemy import Engine, func, select, text

from layers.analysis import overlay, targeting
from layers.analysis import runs as analysis
from layers.geography.geosocial import open_raster
from layers.store.models import SpatialWeights
from layers.store.settings import PROJECT_ROOT, Settings

PROBLEM_RATES = """
SELECT h.subdistrict_code AS code, 1000.0 * count(p.id) / count(DISTINCT h.household_id) AS rate
FROM household h LEFT JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
WHERE h.round = 2567 AND h.subdistrict_code LIKE '34%'
GROUP BY 1
"""


def test_hotspots_equal_a_direct_esda_run_on_the_stored_weights(analysis_engine: Engine) -> None:
    with analysis_engine.begin() as conn:
        run_id, result = analysis.run_hotspots(conn, area="34", permutations=999, seed=7)
        stored = conn.execute(select(SpatialWeights.__table__)).one()
        rates = pd.read_sql(text(PROBLEM_RATES), conn).set_index("code")["rate"]
        layer = analysis.hotspot_layer(conn, run_id)
    ids = list(stored.ids)
    neighbours: dict[str, list[str]] = {i: [] for i in ids}
    for focal, neighbor in zip(stored.focal, stored.neighbor, strict=True):
        neighbours[ids[focal]].append(ids[neighbor])
    w = w_subset(W(neighbours, silence_warnings=True), sorted(rates.index), silence_warnings=True)
    y = rates.loc[w.id_order].to_numpy()
    np.random.seed(0)  # esda reseeds the global generator itself; this only proves it does
    gi = esda.G_Local(y, w, transform="B", star=True, permutations=999, seed=7, n_jobs=1)
    moran = esda.Moran_Local(y, w, transformation="R", permutations=999, seed=7, n_jobs=1)
    ours = result.loc[w.id_order]
    np.testing.assert_allclose(ours["value"], y)
    np.testing.assert_allclose(ours["gi_z"], gi.Zs)
    np.testing.assert_allclose(ours["gi_p"], gi.p_sim)
    np.testing.assert_allclose(ours["moran_i"], moran.Is)
    np.testing.assert_allclose(ours["moran_p"], moran.p_sim)
    assert len(layer) == len(rates) and layer.crs.to_epsg() == 4326
    assert layer.attrs["run"]["parameters"]["permutations"] == 999


def test_spatial_weights_are_built_once_and_reused(analysis_engine: Engine) -> None:
    with analysis_engine.begin() as conn:
        first_id, first = analysis.weights(conn)
        second_id, second = analysis.weights(conn)
        assert conn.scalar(select(func.count()).select_from(SpatialWeights)) == 1
    assert first_id == second_id
    assert first.id_order == second.id_order and first.neighbors == second.neighbors
    assert min(first.cardinalities.values()) >= 1  # islands are joined to their nearest unit
    assert len(first.id_order) == 7425


def test_nearest_water_source_distances_equal_sjoin_nearest(analysis_engine: Engine) -> None:
    with analysis_engine.connect() as conn:
        access = overlay.water_access(conn, area="34")
        sources = gpd.read_postgis(
            text(
                "SELECT id, geom FROM layer_feature "
                "WHERE kind = 'water_sources' AND status = 'working'"
            ),
            conn,
            geom_col="geom",
        )
        reporting = conn.scalar(
            text(
                "SELECT count(*) FROM problem WHERE category = 'no_clean_water' "
                "AND round = 2567 AND subdistrict_code LIKE '34%'"
            )
        )
    assert len(access) == reporting > 10
    expected = (
        gpd.sjoin_nearest(
            access[["household_id", "geometry"]].to_crs(32648),
            sources.to_crs(32648),
            distance_col="distance",
        )
        .drop_duplicates("household_id")
        .set_index("household_id")
    )
    got = access.set_index("household_id")
    np.testing.assert_allclose(got["distance_m"], expected.loc[got.index, "distance"], atol=0.01)
    assert (got["source_id"] == expected.loc[got.index, "id"]).all()


def test_zonal_means_equal_numpy_on_the_masked_raster(
    analysis_engine: Engine, analysis_settings: Settings
) -> None:
    with analysis_engine.connect() as conn:
        zonal = overlay.zonal_by_area(
            conn, analysis_settings, raster_id="syn-flood_frequency", area="34", level="district"
        )
        with open_raster(conn, analysis_settings, "syn-flood_frequency") as dataset:
            values = dataset.read(1)
            districts = zonal.to_crs(dataset.crs)
            for code, geom, mean, count in zip(
                districts["code"],
                districts.geometry,
                districts["mean"],
                districts["count"],
                strict=True,
            ):
                inside = geometry_mask(
                    [geom], out_shape=values.shape, transform=dataset.transform, invert=True
                )
                assert count == inside.sum(), code
                assert mean == pytest.approx(values[inside].mean(), abs=1e-3), code
    assert len(zonal) >= 20 and zonal["mean"].notna().all()


def test_raster_values_at_households_are_the_cells_under_them(
    analysis_engine: Engine, analysis_settings: Settings
) -> None:
    with analysis_engine.connect() as conn:
        points = overlay.sample_households(
            conn, analysis_settings, raster_id="syn-elevation", area="3419"
        )
        with open_raster(conn, analysis_settings, "syn-elevation") as dataset:
            projected = points.to_crs(dataset.crs)
            rows, cols = rasterio.transform.rowcol(
                dataset.transform, projected.geometry.x, projected.geometry.y
            )
            expected = dataset.read(1)[np.asarray(rows), np.asarray(cols)]
    assert len(points) > 0
    np.testing.assert_allclose(points["value"], expected)


def test_households_in_flood_zones_equal_a_spatial_join(analysis_engine: Engine) -> None:
    with analysis_engine.connect() as conn:
        exposure = overlay.zone_exposure(
            conn, kinds=("flood_zones",), area="34", level="district"
        ).set_index("code")
        homes = gpd.read_postgis(
            text("SELECT household_id, district_code, geom FROM household WHERE round = 2567"),
            conn,
            geom_col="geom",
        )
        zones = gpd.read_postgis(
            text("SELECT geom FROM layer_feature WHERE kind = 'flood_zones'"),
            conn,
            geom_col="geom",
        )
    inside = gpd.sjoin(homes, zones, predicate="intersects")["household_id"].unique()
    expected = homes[homes["household_id"].isin(inside)].groupby("district_code").size()
    got = exposure["households_in_zone"]
    assert got.sum() == len(inside) > 0
    assert got[got > 0].to_dict() == expected.to_dict()
    assert exposure["households"].sum() == len(homes)


def test_hexagons_and_kernel_density_account_for_every_household(
    analysis_engine: Engine, analysis_settings: Settings
) -> None:
    with analysis_engine.begin() as conn:
        cells = analysis.hexagons(conn, "34")
        households, problems = conn.execute(
            text(
                "SELECT count(DISTINCT h.household_id), count(p.id) FROM household h "
                "LEFT JOIN problem p USING (household_id, round) WHERE h.round = 2567"
            )
        ).one()
        made = analysis.density_surface(conn, analysis_settings, "34", bandwidth_m=2000)
        with open_raster(conn, analysis_settings, made["id"]) as dataset:
            surface = dataset.read(1)
            cell_km2 = abs(dataset.res[0] * dataset.res[1]) / 1e6
            assert dataset.crs.to_epsg() == 32648
            assert dataset.tags()["BANDWIDTH_M"] == "2000.0"
    assert cells.attrs["resolution"] == 6  # Ubon's 15,700 km² over at most 2,000 cells
    assert int(cells["households"].sum()) == households
    assert int(cells["problems"].sum()) == problems
    assert surface.sum() * cell_km2 == pytest.approx(problems, rel=0.01)


def test_targeting_ranks_are_explained_and_stable(analysis_engine: Engine) -> None:
    config = targeting.load_config(PROJECT_ROOT / "data" / "targeting.yaml")
    with analysis_engine.begin() as conn:
        conn.execute(text("DELETE FROM target_run"))
        viewed_id, viewed = targeting.target_areas(conn, config, area="34", level="subdistrict")
        assert viewed_id is None and conn.scalar(text("SELECT count(*) FROM target_run")) == 0
        first_id, first = targeting.target_areas(
            conn, config, area="34", level="subdistrict", store=True
        )
        # The same data and weights: the stored run is reused, by a view or another run.
        second_id, second = targeting.target_areas(
            conn, config, area="34", level="subdistrict", store=True
        )
        reused_id, reused = targeting.target_areas(conn, config, area="34", level="subdistrict")
        stored = conn.execute(
            text("SELECT code, rank, score FROM target_score WHERE run_id = :r ORDER BY rank"),
            {"r": first_id},
        ).all()
        runs = conn.scalar(text("SELECT count(*) FROM target_run"))
        # A change of the data it was computed from: a new ranking.
        conn.execute(
            text(
                "UPDATE problem SET status = 'solved_by_agency' WHERE round = 2567 AND "
                "status <> 'solved_by_agency' AND subdistrict_code = :c"
            ),
            {"c": first.index[0]},
        )
        changed_id, changed = targeting.target_areas(conn, config, area="34", level="subdistrict")
        ranked_households = targeting.target_households(conn, config, area="3419")
        conn.rollback()
    assert first_id is not None and second_id == reused_id == first_id and runs == 1
    pd.testing.assert_frame_equal(first, viewed)
    pd.testing.assert_frame_equal(first, second, check_dtype=False)
    pd.testing.assert_frame_equal(first, reused, check_dtype=False)
    assert changed_id is None
    assert changed.loc[first.index[0], "unresolved"] < first.loc[first.index[0], "unresolved"]
    assert list(first["rank"]) == list(range(1, len(first) + 1))
    assert first["score"].is_monotonic_decreasing
    points = first[[f"{c}_points" for c in config.weights]].sum(axis=1)
    np.testing.assert_allclose(points, first["score"], atol=0.01)
    assert [(c, r) for c, r, _ in stored] == list(zip(first.index, first["rank"], strict=True))
    assert first["score"].max() <= 100 and first["score"].min() >= 0
    assert len(ranked_households) > 0 and ranked_households.index.is_unique
    assert set(ranked_households.geom_type) == {"Point"}
