"""Loading real COD-AB boundaries into PostGIS."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, func, select, text

from geo.boundaries import check_hierarchy
from geo.errors import InvalidInputError
from layers.geography.boundaries import hierarchy_issues, load_boundaries
from layers.store.models import AdminUnit, BoundaryVersion
from layers.store.settings import Settings

BOUNDARIES_DIR = Settings().boundaries_dir


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AdminUnit.level, func.count())
            .where(AdminUnit.geom.is_not(None))
            .group_by(AdminUnit.level)
        )
        return dict(rows.all())


def fingerprint(engine: Engine) -> str:
    """Everything stored about the units and their parts, as one digest."""
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT md5(string_agg(concat_ws('|', code, level, parent_code, pcode, name_th, name_en, "
                "ST_AsEWKB(geom)::text, area_km2, utm_epsg, source, boundary_version_id, updated_at), ',' "
                "ORDER BY code)) || (SELECT md5(string_agg(ST_AsEWKB(geom)::text, ',' ORDER BY code, id::text)) "
                "FROM admin_unit_part) FROM admin_unit"
            )
        )


def test_real_boundaries_load_with_their_counts(loaded_engine: Engine) -> None:
    assert counts(loaded_engine) == {"province": 77, "district": 928, "subdistrict": 7425}
    with loaded_engine.connect() as conn:
        kinds = conn.execute(
            text(
                "SELECT DISTINCT GeometryType(geom), ST_SRID(geom) FROM admin_unit WHERE geom IS NOT NULL"
            )
        ).all()
        assert kinds == [("MULTIPOLYGON", 4326)]
        invalid = conn.scalar(text("SELECT count(*) FROM admin_unit WHERE NOT ST_IsValid(geom)"))
        assert invalid == 0
        phibun = conn.execute(
            select(
                AdminUnit.pcode, AdminUnit.parent_code, AdminUnit.name_en, AdminUnit.utm_epsg
            ).where(AdminUnit.code == "341901")
        ).one()
        assert tuple(phibun) == ("TH341901", "3419", "Phibun", 32648)


def test_areas_agree_with_a_geodesic_measure(
    loaded_engine: Engine, shared_boundaries: Path
) -> None:
    with loaded_engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(AdminUnit.code, AdminUnit.area_km2).where(AdminUnit.level == "province")
            ).all()
        )
        geodesic = dict(
            conn.execute(
                select(AdminUnit.code, func.ST_Area(func.Geography(AdminUnit.geom)) / 1e6).where(
                    AdminUnit.level == "province"
                )
            ).all()
        )
    for code, area in stored.items():
        assert area == pytest.approx(geodesic[code], rel=2e-3), code
    assert sum(stored.values()) == pytest.approx(513_120, rel=0.01)  # Thailand's official area


def test_every_unit_is_cut_into_parts_that_cover_it_exactly(loaded_engine: Engine) -> None:
    with loaded_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(DISTINCT p.code), count(*), max(ST_NPoints(p.geom)), "
                "sum(ST_Area(p.geom::geography)) / (SELECT sum(ST_Area(geom::geography)) FROM admin_unit) "
                "FROM admin_unit_part p"
            )
        ).one()
    units, parts, max_points, area_ratio = row
    assert units == 77 + 928 + 7425
    assert parts > units
    assert max_points <= 256 + 1
    assert area_ratio == pytest.approx(1.0, abs=1e-6)


def test_hierarchy_is_consistent_by_code_and_in_space(loaded_engine: Engine) -> None:
    with loaded_engine.connect() as conn:
        assert hierarchy_issues(conn) == []
        stored = gpd.read_postgis(
            "SELECT code, level, parent_code, geom FROM admin_unit WHERE geom IS NOT NULL",
            conn,
            geom_col="geom",
        )
    # The same answer another way: a spatial join of each unit's point with the level above.
    for level, parent_level in (("district", "province"), ("subdistrict", "district")):
        children = stored[stored["level"] == level]
        parents = stored[stored["level"] == parent_level][["code", "geom"]]
        points = children.set_geometry(children.representative_point())
        joined = gpd.sjoin(points, parents, predicate="within", how="left")
        assert (joined["parent_code"] == joined["code_right"]).all(), level
        width = {"district": 2, "subdistrict": 4}[level]
        assert (children["code"].str[:width] == children["parent_code"]).all(), level


def test_loading_the_same_files_again_changes_nothing(
    scratch_engine: Engine, shared_boundaries: Path
) -> None:
    with scratch_engine.begin() as conn:
        first = load_boundaries(conn, [shared_boundaries], BOUNDARIES_DIR)
    assert [r.inserted for r in first.layers] == [77, 928, 7425]
    before = fingerprint(scratch_engine)
    with scratch_engine.begin() as conn:
        again = load_boundaries(conn, [shared_boundaries], BOUNDARIES_DIR)
    assert all(r.skipped and r.inserted == r.updated == 0 for r in again.layers)
    with scratch_engine.begin() as conn:
        forced = load_boundaries(conn, [shared_boundaries], BOUNDARIES_DIR, force=True)
    assert [(r.inserted, r.updated, r.unchanged) for r in forced.layers] == [
        (0, 0, 77),
        (0, 0, 928),
        (0, 0, 7425),
    ]
    assert fingerprint(scratch_engine) == before
    with scratch_engine.connect() as conn:
        versions = conn.execute(select(BoundaryVersion.attribution, BoundaryVersion.licence)).all()
    assert len(versions) == 6  # the first load and the forced one; the plain repeat adds none
    assert {v.licence for v in versions} == {"CC BY-IGO 3.0"}


def write_layer(path: Path, frame: gpd.GeoDataFrame, **kwargs: object) -> Path:
    pyogrio.write_dataframe(frame, path, **kwargs)
    return path


def provinces_frame(shared: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(shared / "tha_admbnda_adm1.geojson")


@pytest.mark.parametrize("suffix", [".shp", ".gpkg"])
def test_shapefile_and_geopackage_load_like_geojson(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path, suffix: str
) -> None:
    path = write_layer(tmp_path / f"provinces{suffix}", provinces_frame(shared_boundaries))
    with scratch_engine.begin() as conn:
        report = load_boundaries(conn, [path], BOUNDARIES_DIR)
    assert [(r.level, r.inserted) for r in report.layers] == [("province", 77)]
    with scratch_engine.connect() as conn:
        name = conn.scalar(select(AdminUnit.name_th).where(AdminUnit.code == "34"))
    assert name == "อุบลราชธานี"


def test_a_geopackage_with_several_levels_loads_them_all(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    path = tmp_path / "cod.gpkg"
    for n in (1, 2):
        frame = gpd.read_file(shared_boundaries / f"tha_admbnda_adm{n}.geojson")
        write_layer(path, frame, layer=f"adm{n}", append=n > 1)
    outline = provinces_frame(shared_boundaries).dissolve()[["geometry"]].assign(ADM0_PCODE="TH")
    write_layer(path, outline, layer="adm0", append=True)
    with scratch_engine.begin() as conn:
        report = load_boundaries(conn, [path], BOUNDARIES_DIR)
    assert [(r.layer, r.inserted) for r in report.layers] == [
        ("cod.gpkg:adm1", 77),
        ("cod.gpkg:adm2", 928),
    ]


def test_invalid_geometry_is_repaired_and_reported(scratch_engine: Engine, tmp_path: Path) -> None:
    bowtie = Polygon([(105.2, 15.2), (105.3, 15.3), (105.3, 15.2), (105.2, 15.3), (105.2, 15.2)])
    frame = gpd.GeoDataFrame(
        {
            "ADM1_PCODE": ["TH34", "TH35"],
            "ADM1_EN": ["Ubon Ratchathani", "Yasothon"],
            "ADM1_TH": ["อุบลราชธานี", "ยโสธร"],
        },
        geometry=[bowtie, box(104.0, 15.5, 104.5, 16.0)],
        crs=4326,
    )
    path = write_layer(tmp_path / "bowtie.geojson", frame)
    with scratch_engine.begin() as conn:
        report = load_boundaries(conn, [path], BOUNDARIES_DIR)
    assert report.layers[0].repaired == ["34"]
    with scratch_engine.connect() as conn:
        valid, kind, parts = conn.execute(
            text(
                "SELECT ST_IsValid(geom), GeometryType(geom), ST_NumGeometries(geom) FROM admin_unit WHERE code = '34'"
            )
        ).one()
        stored = conn.scalar(select(BoundaryVersion.report))
    assert (valid, kind, parts) == (True, "MULTIPOLYGON", 2)
    assert stored["repaired"] == ["34"]


def test_a_subdistrict_layer_alone_brings_its_named_parents(
    scratch_engine: Engine, tmp_path: Path
) -> None:
    frame = gpd.GeoDataFrame(
        {
            "ADM3_PCODE": ["TH341901"],
            "ADM3_EN": ["Phibun"],
            "ADM3_TH": ["พิบูล"],
            "ADM2_PCODE": ["TH3419"],
            "ADM2_EN": ["Phibun Mangsahan"],
            "ADM2_TH": ["พิบูลมังสาหาร"],
            "ADM1_PCODE": ["TH34"],
            "ADM1_EN": ["Ubon Ratchathani"],
            "ADM1_TH": ["อุบลราชธานี"],
        },
        geometry=[box(105.2, 15.2, 105.3, 15.3)],
        crs=4326,
    )
    with scratch_engine.begin() as conn:
        load_boundaries(conn, [write_layer(tmp_path / "one.geojson", frame)], BOUNDARIES_DIR)
        rows = conn.execute(
            select(AdminUnit.code, AdminUnit.parent_code, AdminUnit.source).order_by(AdminUnit.code)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("34", None, "attribute"),
        ("3419", "34", "attribute"),
        ("341901", "3419", "boundary"),
    ]


def test_a_changed_file_updates_only_what_changed_and_replace_removes_the_rest(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    frame = provinces_frame(shared_boundaries)
    with scratch_engine.begin() as conn:
        load_boundaries(conn, [write_layer(tmp_path / "v1.geojson", frame)], BOUNDARIES_DIR)
    changed = frame[frame["ADM1_PCODE"] != "TH96"].copy()
    changed.loc[changed["ADM1_PCODE"] == "TH34", "ADM1_EN"] = "Ubon"
    path = write_layer(tmp_path / "v2.geojson", changed)
    with scratch_engine.begin() as conn:
        merged = load_boundaries(conn, [path], BOUNDARIES_DIR).layers[0]
    assert (merged.inserted, merged.updated, merged.unchanged, merged.absent, merged.removed) == (
        0,
        1,
        75,
        1,
        0,
    )
    with scratch_engine.begin() as conn:
        replaced = load_boundaries(conn, [path], BOUNDARIES_DIR, force=True, replace=True).layers[0]
        left = conn.scalar(select(func.count()).select_from(AdminUnit))
        name = conn.scalar(select(AdminUnit.name_en).where(AdminUnit.code == "34"))
    assert (replaced.absent, replaced.removed, left, name) == (1, 1, 76, "Ubon")


def test_a_failed_load_leaves_the_database_as_it_was(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    bad = gpd.read_file(shared_boundaries / "tha_admbnda_adm2.geojson")
    bad.loc[5, "ADM2_PCODE"] = "XX9999"
    provinces = shared_boundaries / "tha_admbnda_adm1.geojson"
    # The provinces load first and are written before the district layer fails.
    with (
        pytest.raises(
            InvalidInputError, match=r"bad.geojson: 1 value\(s\) of ADM2_PCODE .*row 6: 'XX9999'"
        ),
        scratch_engine.begin() as conn,
    ):
        load_boundaries(
            conn, [write_layer(tmp_path / "bad.geojson", bad), provinces], BOUNDARIES_DIR
        )
    assert counts(scratch_engine) == {}
    with scratch_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AdminUnit)) == 0
        assert conn.scalar(select(func.count()).select_from(BoundaryVersion)) == 0


def test_a_zip_of_several_files_in_folders_loads_them_all(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    path = tmp_path / "cod.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(
            shared_boundaries / "tha_admbnda_adm2.geojson", "cod/tha_admbnda_adm2.geojson"
        )
        archive.write(
            shared_boundaries / "tha_admbnda_adm1.geojson", "cod/tha_admbnda_adm1.geojson"
        )
        archive.writestr("cod/README.txt", "not a layer")
    with scratch_engine.begin() as conn:
        report = load_boundaries(conn, [path], BOUNDARIES_DIR)
    assert [(r.layer, r.inserted) for r in report.layers] == [
        ("cod.zip/cod/tha_admbnda_adm1.geojson", 77),
        ("cod.zip/cod/tha_admbnda_adm2.geojson", 928),
    ]


def test_replace_removes_only_units_without_children(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    provinces = provinces_frame(shared_boundaries)
    districts = gpd.read_file(shared_boundaries / "tha_admbnda_adm2.geojson")
    with scratch_engine.begin() as conn:
        load_boundaries(
            conn,
            [
                shared_boundaries / "tha_admbnda_adm1.geojson",
                shared_boundaries / "tha_admbnda_adm2.geojson",
            ],
            BOUNDARIES_DIR,
        )
        no_96 = write_layer(tmp_path / "d.geojson", districts[districts["ADM1_PCODE"] != "TH96"])
        load_boundaries(conn, [no_96], BOUNDARIES_DIR, replace=True)
        fewer = write_layer(
            tmp_path / "p.geojson", provinces[~provinces["ADM1_PCODE"].isin(["TH34", "TH96"])]
        )
        result = load_boundaries(conn, [fewer], BOUNDARIES_DIR, replace=True).layers[0]
        left = set(conn.scalars(select(AdminUnit.code).where(AdminUnit.level == "province")))
    # 96 (Narathiwat) lost its districts and goes; 34 still has districts and stays.
    assert (result.absent, result.removed) == (2, 1)
    assert "34" in left and "96" not in left


def test_replace_applies_even_when_the_file_was_loaded_before(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    provinces = provinces_frame(shared_boundaries)
    with scratch_engine.begin() as conn:
        load_boundaries(conn, [write_layer(tmp_path / "all.geojson", provinces)], BOUNDARIES_DIR)
    fewer = write_layer(tmp_path / "fewer.geojson", provinces[provinces["ADM1_PCODE"] != "TH96"])
    with scratch_engine.begin() as conn:
        load_boundaries(conn, [fewer], BOUNDARIES_DIR)
        again = load_boundaries(conn, [fewer], BOUNDARIES_DIR, replace=True).layers[0]
    assert (again.skipped, again.removed) == (False, 1)


def test_files_without_cod_ab_layers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "roads.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "x"},
                        "geometry": {"type": "Point", "coordinates": [100, 15]},
                    }
                ],
            }
        )
    )
    with pytest.raises(
        InvalidInputError, match=r"roads\.geojson: no polygon layer with ADM1_PCODE"
    ):
        load_boundaries(None, [path], BOUNDARIES_DIR)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no such file"):
        load_boundaries(None, [tmp_path / "missing.shp"], BOUNDARIES_DIR)  # type: ignore[arg-type]


def test_the_spatial_check_finds_a_subdistrict_moved_out_of_its_district(
    scratch_engine: Engine, shared_boundaries: Path, tmp_path: Path
) -> None:
    subs = gpd.read_file(shared_boundaries / "tha_admbnda_adm3.geojson")
    subs = subs[subs["ADM1_PCODE"] == "TH34"].copy()
    dists = gpd.read_file(shared_boundaries / "tha_admbnda_adm2.geojson")
    dists = dists[dists["ADM1_PCODE"] == "TH34"]
    # Give Phibun the shape of a subdistrict in another district.
    other = subs.loc[subs["ADM2_PCODE"] != "TH3419"].iloc[0]
    subs.loc[subs["ADM3_PCODE"] == "TH341901", "geometry"] = other.geometry
    paths = [write_layer(tmp_path / "d.geojson", dists), write_layer(tmp_path / "s.geojson", subs)]
    with scratch_engine.begin() as conn:
        report = load_boundaries(conn, paths, BOUNDARIES_DIR)
    problems = [(i.code, i.problem) for i in report.hierarchy]
    assert ("341901", "outside_parent") in problems
    [moved] = [i for i in report.hierarchy if i.code == "341901"]
    assert moved.detail.endswith(f"its point lies in {other['ADM2_PCODE'][2:]}")
    assert (
        check_hierarchy(
            gpd.GeoDataFrame({"code": [], "level": [], "parent_code": []}, geometry=[], crs=4326)
        )
        == []
    )
