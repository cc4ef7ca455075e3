"""The pure boundary rules: recognising COD-AB layers, repairing geometry, measuring, checking."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, box

from geo.boundaries import check_hierarchy, detect_level, normalise, prepare, repair
from geo.crs import UTM_47N, UTM_48N, area_km2, utm_epsg_of
from geo.errors import InvalidInputError

BOWTIE = Polygon([(100.0, 15.0), (100.1, 15.1), (100.1, 15.0), (100.0, 15.1), (100.0, 15.0)])


def subdistricts(**overrides: object) -> gpd.GeoDataFrame:
    data = {
        "ADM3_PCODE": ["TH341901", "TH341902"],
        "ADM3_EN": ["Phibun", "Kut Chom Phu"],
        "ADM3_TH": ["พิบูล", "กุดชมภู"],
        "ADM2_PCODE": ["TH3419", "TH3419"],
        "ADM2_EN": ["Phibun Mangsahan"] * 2,
        "ADM2_TH": ["พิบูลมังสาหาร"] * 2,
        "ADM1_PCODE": ["TH34", "TH34"],
        "ADM1_EN": ["Ubon Ratchathani"] * 2,
        "ADM1_TH": ["อุบลราชธานี"] * 2,
    }
    data.update(overrides)  # type: ignore[arg-type]
    return gpd.GeoDataFrame(
        data, geometry=[box(105.2, 15.2, 105.3, 15.3), box(105.3, 15.2, 105.4, 15.3)], crs=4326
    )


def test_level_is_the_deepest_pcode_field_in_any_case() -> None:
    assert detect_level(["ADM1_PCODE", "ADM2_PCODE", "adm3_pcode"]) == 3
    assert detect_level(["ADM1_PCODE", "ADM1_EN"]) == 1
    assert detect_level(["ADM0_PCODE", "name"]) is None


def test_normalise_gives_registry_codes_parents_and_ancestors() -> None:
    units, ancestors = normalise(subdistricts(), "test")
    assert units[["code", "pcode", "level", "parent_code", "name_th"]].to_dict("records")[0] == {
        "code": "341901",
        "pcode": "TH341901",
        "level": "subdistrict",
        "parent_code": "3419",
        "name_th": "พิบูล",
    }
    assert ancestors[["code", "level", "parent_code"]].to_dict("records") == [
        {"code": "34", "level": "province", "parent_code": None},
        {"code": "3419", "level": "district", "parent_code": "34"},
    ]


def test_normalise_reprojects_to_wgs84() -> None:
    frame = subdistricts().to_crs(UTM_48N)
    units, _ = normalise(frame, "utm")
    assert units.crs.to_epsg() == 4326
    assert units.geometry.iloc[0].bounds == pytest.approx((105.2, 15.2, 105.3, 15.3), abs=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ADM3_PCODE": ["TH341901", "341902"]}, "row 2: '341902'"),
        ({"ADM3_PCODE": ["TH341901", "TH34190"]}, "'TH' + 6 digits"),
        ({"ADM3_PCODE": ["TH341901", "TH341901"]}, "codes repeat: 341901 (row 1), 341901 (row 2)"),
    ],
)
def test_bad_codes_are_named_by_row(overrides: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidInputError, match=r"test\.geojson") as err:
        normalise(subdistricts(**overrides), "test.geojson")
    assert message in str(err.value)


def test_a_layer_without_cod_ab_fields_is_refused_with_its_fields() -> None:
    frame = gpd.GeoDataFrame({"name": ["x"]}, geometry=[box(100, 15, 101, 16)], crs=4326)
    with pytest.raises(InvalidInputError, match=r"no ADM1_PCODE.*\['name', 'geometry'\]"):
        normalise(frame, "odd.gpkg")


def test_a_feature_without_geometry_is_named() -> None:
    frame = subdistricts()
    frame.loc[1, "geometry"] = None
    with pytest.raises(InvalidInputError, match=r"have no geometry \(rows 2\)"):
        normalise(frame, "test")


def test_no_crs_outside_thailand_is_refused() -> None:
    frame = subdistricts().to_crs(UTM_48N).set_crs(None, allow_override=True)
    with pytest.raises(InvalidInputError, match="no CRS"):
        normalise(frame, "noprj.shp")


def test_bowtie_is_repaired_into_a_valid_multipolygon_of_its_two_triangles() -> None:
    assert not BOWTIE.is_valid
    fixed, changed = repair(gpd.GeoSeries([BOWTIE, box(100, 15, 101, 16)], crs=4326))
    assert changed.tolist() == [True, False]
    assert all(isinstance(g, MultiPolygon) and g.is_valid for g in fixed)
    assert len(fixed.iloc[0].geoms) == 2
    # The two triangles together cover half of the bowtie's bounding square.
    assert fixed.iloc[0].area == pytest.approx(0.005)


def test_area_is_measured_in_the_zone_of_each_unit() -> None:
    squares = gpd.GeoSeries([box(99.0, 15.0, 99.1, 15.1), box(104.0, 15.0, 104.1, 15.1)], crs=4326)
    assert utm_epsg_of(squares).tolist() == [UTM_47N, UTM_48N]
    geod = Geod(ellps="WGS84")
    expected = [abs(geod.geometry_area_perimeter(g)[0]) / 1e6 for g in squares]
    assert area_km2(squares) == pytest.approx(expected, rel=1e-3)


def test_prepare_adds_area_zone_and_names_the_repaired_units() -> None:
    frame = subdistricts()
    frame.loc[0, "geometry"] = BOWTIE
    units, repaired = prepare(normalise(frame, "t")[0])
    assert repaired == ["341901"]
    assert units["utm_epsg"].tolist() == [UTM_47N, UTM_48N]
    assert (units["area_km2"] > 0).all()


def _tree(sub_geom: Polygon, sub_code: str = "341901", parent: str = "3419") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        pd.DataFrame(
            {
                "code": ["34", "3419", "3420", sub_code],
                "level": ["province", "district", "district", "subdistrict"],
                "parent_code": [None, "34", "34", parent],
            }
        ),
        geometry=[
            box(104, 14, 106, 16),
            box(105, 15, 105.5, 15.5),
            box(105.5, 15, 106, 15.5),
            sub_geom,
        ],
        crs=4326,
    )


def test_consistent_hierarchy_has_no_issues() -> None:
    assert check_hierarchy(_tree(box(105.1, 15.1, 105.2, 15.2))) == []


def test_a_subdistrict_outside_its_district_is_reported_with_where_it_lies() -> None:
    [issue] = check_hierarchy(_tree(box(105.6, 15.1, 105.7, 15.2)))
    assert (issue.code, issue.problem) == ("341901", "outside_parent")
    assert issue.detail == "0% of its area is inside 3419; its point lies in 3420"


def test_codes_must_nest_and_parents_must_exist() -> None:
    issues = check_hierarchy(_tree(box(105.1, 15.1, 105.2, 15.2), sub_code="342001"))
    assert [(i.code, i.problem) for i in issues] == [("342001", "code_prefix")]
    issues = check_hierarchy(_tree(box(105.1, 15.1, 105.2, 15.2), parent="3499"))
    assert [(i.code, i.problem) for i in issues] == [("341901", "missing_parent")]
