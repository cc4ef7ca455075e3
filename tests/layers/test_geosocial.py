"""Importing Geo-social layers: the intake rules for features, and rasters registered by id."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import Engine, func, select, text

from geo.errors import InvalidInputError, NotFoundError
from layers.geography.geosocial import import_layer, import_raster, open_raster, raster_record
from layers.store.models import Layer, LayerFeature, QuarantinedRow, Raster
from layers.store.settings import Settings

BOWTIE = Polygon([(104.80, 15.20), (104.82, 15.22), (104.82, 15.20), (104.80, 15.22)])


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(Layer)) or 0,
            conn.scalar(select(func.count()).select_from(LayerFeature)) or 0,
            conn.scalar(select(func.count()).select_from(QuarantinedRow)) or 0,
        )


def test_bad_features_are_quarantined_and_good_ones_repaired(
    scratch_engine: Engine, tmp_path: Path
) -> None:
    zones = gpd.GeoDataFrame(
        {"name": ["ทุ่งน้ำท่วม", "bowtie", "a point", "in Europe", "empty"]},
        geometry=[
            Polygon([(104.8, 15.2), (104.9, 15.2), (104.9, 15.3)]),
            BOWTIE,
            Point(104.8, 15.2),
            Polygon([(10, 50), (11, 50), (11, 51)]),
            None,
        ],
        crs=4326,
    )
    path = tmp_path / "zones.geojson"
    zones.to_file(path)
    with scratch_engine.begin() as conn:
        report = import_layer(conn, path, "flood_zones")
    assert (report.features, report.imported, report.quarantined) == (5, 2, 3)
    assert report.repaired == 1
    assert report.quarantine_reasons == {
        "wrong_geometry_type": 1,
        "outside_thailand": 1,
        "missing_geometry": 1,
    }
    with scratch_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT name, flags, ST_IsValid(geom), GeometryType(geom) FROM layer_feature "
                "ORDER BY source_row"
            )
        ).all()
        refused = conn.execute(
            text("SELECT row_number, reasons, messages, values FROM quarantine ORDER BY 1")
        ).all()
        parts = conn.scalar(text("SELECT count(*) FROM layer_part"))
    assert stored[0][0] == "ทุ่งน้ำท่วม" and stored[0][1] == []
    assert stored[1][1] == ["repaired_geometry"] and stored[1][2]
    assert stored[1][3] in ("POLYGON", "MULTIPOLYGON")
    assert [(r[0], r[1]) for r in refused] == [
        (3, ["wrong_geometry_type"]),
        (4, ["outside_thailand"]),
        (5, ["missing_geometry"]),
    ]
    assert "Point where flood_zones holds Polygons" in refused[0][2][0]
    assert refused[1][3]["name"] == "in Europe"
    assert parts >= 2
    # The same file again adds nothing.
    before = counts(scratch_engine)
    with scratch_engine.begin() as conn:
        assert import_layer(conn, path, "flood_zones").skipped
    assert counts(scratch_engine) == before


def test_crs_is_read_guessed_or_asked_for(scratch_engine: Engine, tmp_path: Path) -> None:
    sources = gpd.GeoDataFrame(
        {"name": ["บ่อ 1", "บ่อ 2"], "สถานะ": ["ใช้การได้", "ชำรุด"]},
        geometry=[Point(104.85, 15.25), Point(105.2, 15.3)],
        crs=4326,
    ).to_crs(32648)
    with_crs = tmp_path / "sources.gpkg"
    sources.to_file(with_crs)
    with scratch_engine.begin() as conn:
        report = import_layer(conn, with_crs, "water_sources")
        assert "32648" in (report.source_crs or "") and not report.crs_guessed
        rows = conn.execute(
            text("SELECT name, status, ST_X(geom), ST_Y(geom) FROM layer_feature ORDER BY id")
        ).all()
    assert [r[:2] for r in rows] == [("บ่อ 1", "working"), ("บ่อ 2", "broken")]
    assert rows[0][2] == pytest.approx(104.85) and rows[0][3] == pytest.approx(15.25)
    # Without a .prj: degrees are recognised; eastings cannot tell their zone, so the user is
    # asked, and nothing is written.
    degrees = tmp_path / "degrees.shp"
    # (Shapefile field names are 10 bytes: the Thai one would be cut mid-character.)
    bare = sources[["name", "geometry"]]
    pyogrio.write_dataframe(bare.to_crs(4326).set_crs(None, allow_override=True), degrees)
    utm = tmp_path / "utm.shp"
    pyogrio.write_dataframe(bare.set_crs(None, allow_override=True), utm)
    with scratch_engine.begin() as conn:
        report = import_layer(conn, degrees, "water_sources")
    assert report.crs_guessed and report.imported == 2
    before = counts(scratch_engine)
    # The layer names the field; the command line words it as its flag (`--crs`).
    with (
        scratch_engine.begin() as conn,
        pytest.raises(InvalidInputError, match="give the CRS") as e,
    ):
        import_layer(conn, utm, "water_sources")
    assert e.value.field == "crs"
    assert counts(scratch_engine) == before
    with scratch_engine.begin() as conn:
        report = import_layer(conn, utm, "water_sources", crs=32648)
    assert report.imported == 2
    # GeoJSON is degrees by definition: UTM numbers in it are refused with a hint.
    wrong = tmp_path / "wrong.geojson"
    wrong.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "x"},
                        "geometry": {"type": "Point", "coordinates": [500000.0, 1700000.0]},
                    }
                ],
            }
        )
    )
    with scratch_engine.begin() as conn:
        report = import_layer(conn, wrong, "water_sources")
    assert report.quarantine_reasons == {"outside_thailand": 1}


def test_a_shapefile_without_cpg_keeps_its_thai_names(
    scratch_engine: Engine, tmp_path: Path
) -> None:
    streams = gpd.GeoDataFrame(
        {"name": ["ลำโดมใหญ่", "ห้วยตุงลุง"]},
        geometry=[
            LineString([(105.0, 15.0), (105.1, 15.1)]),
            LineString([(105.2, 15.0), (105.3, 15.2)]),
        ],
        crs=4326,
    )
    path = tmp_path / "streams.shp"
    pyogrio.write_dataframe(streams, path, encoding="cp874")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with scratch_engine.begin() as conn:
        import_layer(conn, path, "waterways")
        names = conn.scalars(text("SELECT name FROM layer_feature ORDER BY source_row")).all()
    assert names == ["ลำโดมใหญ่", "ห้วยตุงลุง"]


def test_rasters_are_stored_and_opened_by_id_only(scratch_engine: Engine, tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://unused", home=tmp_path / "home")
    path = tmp_path / "flood.tif"
    values = np.arange(12, dtype="float32").reshape(3, 4)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=3,
        count=1,
        dtype="float32",
        crs="EPSG:32648",
        transform=from_origin(500_000, 1_700_000, 100, 100),
        nodata=-1,
    ) as out:
        out.write(values, 1)
    with scratch_engine.begin() as conn:
        record = import_raster(conn, settings, path, "flood_frequency", raster_id="flood-test")
        again = import_raster(conn, settings, path, "flood_frequency", raster_id="flood-test")
        assert again == record
        with open_raster(conn, settings, "flood-test") as dataset:
            np.testing.assert_array_equal(dataset.read(1), values)
            assert dataset.crs.to_epsg() == 32648 and dataset.profile["tiled"]
        footprint = conn.execute(
            text("SELECT ST_XMin(footprint), ST_YMin(footprint) FROM raster")
        ).one()
        with pytest.raises(NotFoundError):
            raster_record(conn, "../etc/passwd")
        with pytest.raises(InvalidInputError, match="must be lower-case"):
            import_raster(conn, settings, path, "flood_frequency", raster_id="../x")
    assert record["stored_as"] == "flood-test.tif" and record["width"] == 4
    assert footprint[0] == pytest.approx(105.0, abs=0.01)
    assert footprint[1] == pytest.approx(15.37, abs=0.01)
    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(
        no_crs, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8"
    ) as out:
        out.write(np.zeros((2, 2), dtype="uint8"), 1)
    with scratch_engine.begin() as conn, pytest.raises(InvalidInputError, match="no CRS"):
        import_raster(conn, settings, no_crs, "elevation")
    with scratch_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Raster)) == 1
