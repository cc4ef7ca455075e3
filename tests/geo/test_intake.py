"""Pure survey rules: digits, dates, ID numbers, personal columns, placement."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import box

from geo.intake.areas import AreaIndex
from geo.intake.normalise import parse_dates, thai_digits_to_arabic
from geo.intake.personal import keyed_hash, national_id_valid, personal_columns
from geo.intake.place import classify_coordinates, place


def test_thai_digits_become_arabic() -> None:
    values, found = thai_digits_to_arabic(pd.Series(["๓๔๑๙๐๑", "12", "หมู่ ๕", None]))
    assert values.tolist() == ["341901", "12", "หมู่ 5", ""]
    assert found.tolist() == [True, False, True, False]


def test_buddhist_era_and_common_date_forms() -> None:
    dates, buddhist, bad = parse_dates(
        pd.Series(["2566-10-05", "5/10/2566", "2023-10-05", "31/02/2023", "", "soon"])
    )
    assert dates.dt.strftime("%Y-%m-%d").tolist()[:3] == ["2023-10-05"] * 3
    assert buddhist.tolist() == [True, True, False, False, False, False]
    assert bad.tolist() == [False, False, False, True, False, True]


def test_national_id_checksum() -> None:
    # 1-1017-00230-70-8 has a valid check digit; changing the last digit breaks it.
    valid = national_id_valid(
        pd.Series(["1101700230708", "1-1017-00230-70-8", "1101700230705", "123", ""])
    )
    assert valid.tolist() == [True, True, False, False, False]


def test_personal_columns_are_found_by_content_and_header() -> None:
    frame = pd.DataFrame(
        {
            "household_id": ["a", "b"],
            "pid": ["1101700230708", "3147709882262"],
            "head": ["นายสมชาย ใจดี", "นางมาลี ศรีสุข"],
            "first_name": ["x", "y"],
            "note": ["ok", "fine"],
        }
    )
    assert personal_columns(frame, known={"household_id"}) == {
        "pid": "hashed",
        "head": "dropped",
        "first_name": "dropped",
    }


def test_keyed_hash_depends_on_the_key_and_ignores_separators() -> None:
    a = keyed_hash(pd.Series(["1101700230708", "1-1017-00230-70-8", ""]), b"k1")
    assert a[0] == a[1] and len(a[0]) == 64 and a[2] is None
    assert keyed_hash(pd.Series(["1101700230708"]), b"k2")[0] != a[0]


def test_coordinate_kinds() -> None:
    lat = np.array([15.2, 105.2, 1_683_000.0, 500_000.0, np.nan, 48.8])
    lon = np.array([105.2, 15.2, 500_000.0, 1_683_000.0, np.nan, 2.3])
    assert classify_coordinates(lat, lon).tolist() == [
        "lonlat",
        "swapped",
        "utm",
        "utm_swapped",
        "missing",
        "invalid",
    ]


@pytest.fixture
def index() -> AreaIndex:
    # Two subdistricts side by side in one district, either side of 102°E (zones 47N and 48N).
    subs = gpd.GeoDataFrame(
        {"code": ["100101", "100102"]},
        geometry=[box(101.8, 15.0, 102.0, 15.2), box(102.0, 15.0, 102.2, 15.2)],
        crs=4326,
    )
    districts = gpd.GeoDataFrame(
        {"code": ["1001"]}, geometry=[box(101.8, 15.0, 102.2, 15.2)], crs=4326
    )
    parents = {"100101": "1001", "100102": "1001", "100199": "1001", "1001": "10"}
    return AreaIndex(subs, parents, districts)


def test_placement_rules(index: AreaIndex) -> None:
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    e, n = to_utm.transform(102.1, 15.1)
    declared = pd.Series(
        ["100101", "100101", "100102", "100101", "100101", "100199", "999999", "999999"]
    )
    lat = np.array([15.1, 101.9, n, 15.1, np.nan, np.nan, 15.1, np.nan])
    lon = np.array([101.9, 15.1, e, 102.1, np.nan, np.nan, 102.1, np.nan])
    placed = place(index, declared, lat, lon)
    assert placed.precision.tolist() == [
        "gps",
        "gps_corrected",
        "gps_corrected",
        "gps",
        "subdistrict",
        "district",
        "gps",
        None,
    ]
    assert [placed.flags[i] for i in range(8)] == [
        [],
        ["swapped_coordinates"],
        ["utm_coordinates"],
        ["outside_declared_subdistrict"],
        ["missing_coordinates"],
        ["missing_coordinates"],
        ["subdistrict_from_point"],
        ["missing_coordinates"],
    ]
    assert placed.lon[2] == pytest.approx(102.1) and placed.lat[2] == pytest.approx(15.1)
    # 0.1° of longitude at 15°N is about 10.75 km; the point is 0.1° east of 100101's edge.
    assert placed.outside_m[3] == pytest.approx(10_750, rel=0.01)
    assert placed.subdistrict.tolist()[3] == "100101" and placed.subdistrict.tolist()[6] == "100102"
    assert (placed.lon[4], placed.lat[4]) == pytest.approx((101.9, 15.1))


def test_a_swap_that_does_not_land_in_the_declared_subdistrict_is_not_trusted(
    index: AreaIndex,
) -> None:
    placed = place(index, pd.Series(["100102"]), np.array([101.9]), np.array([15.1]))
    assert placed.precision.tolist() == ["subdistrict"]
    assert placed.flags[0] == ["coordinates_rejected"]


def test_villages_replace_fallback_positions(index: AreaIndex) -> None:
    declared = pd.Series(["100101", "100101"])
    placed = place(index, declared, np.array([np.nan, np.nan]), np.array([np.nan, np.nan]))
    moved = placed.with_villages(
        declared, np.array([3.0, np.nan]), {("100101", 3): (101.85, 15.05)}
    )
    assert moved.precision.tolist() == ["village", "subdistrict"]
    assert (moved.lon[0], moved.lat[0]) == (101.85, 15.05)


def test_an_ambiguous_utm_pair_in_the_far_south_is_read_the_way_that_fits() -> None:
    # Yala, 101.28°E 6.54°N: easting 752,132 and northing 723,470 are both plausible eastings
    # and northings; only one reading lands in the declared subdistrict.
    subs = gpd.GeoDataFrame({"code": ["950101"]}, geometry=[box(101.2, 6.5, 101.35, 6.6)], crs=4326)
    index = AreaIndex(subs, {"950101": "9501", "9501": "95"}, subs.assign(code="9501"))
    e, n = Transformer.from_crs(4326, 32647, always_xy=True).transform(101.28, 6.54)
    for lat, lon in ((n, e), (e, n)):
        placed = place(index, pd.Series(["950101"]), np.array([lat]), np.array([lon]))
        assert placed.precision.tolist() == ["gps_corrected"]
        assert (placed.lon[0], placed.lat[0]) == pytest.approx((101.28, 6.54))
        assert placed.flags[0] == ["utm_coordinates"]


def test_thai_digit_id_numbers_are_recognised_and_hash_like_arabic_ones() -> None:
    thai = pd.Series(["๑๑๐๑๗๐๐๒๓๐๗๐๘"])
    assert national_id_valid(thai).tolist() == [True]
    assert keyed_hash(thai, b"k")[0] == keyed_hash(pd.Series(["1101700230708"]), b"k")[0]
