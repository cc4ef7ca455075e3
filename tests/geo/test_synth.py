"""The synthetic survey: deterministic, in proportion, with a truthful key."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.synth.clusters import region
from geo.synth.defects import EXPECTED
from geo.synth.survey import affected_probability, synthesize, to_csv_bytes

SUBDISTRICTS = gpd.GeoDataFrame(
    {"code": ["340101", "340102", "341901"]},
    geometry=[
        box(104.8, 15.2, 104.9, 15.3),
        box(104.9, 15.2, 105.0, 15.3),
        box(105.2, 15.2, 105.3, 15.3),
    ],
    crs=4326,
)
CATEGORIES = pd.DataFrame(
    {
        "code": ["drugs", "no_land_title", "no_income"],
        "weight": [1.0, 1.0, 2.0],
        "within_mandate": [True, False, True],
    }
)


def test_the_same_seed_gives_the_same_file_and_defects_do_not_change_clean_rows() -> None:
    a = synthesize(SUBDISTRICTS, CATEGORIES, 2000, seed=5, defects=0.05)
    b = synthesize(SUBDISTRICTS, CATEGORIES, 2000, seed=5, defects=0.05)
    assert to_csv_bytes(a.rows, a.key) == to_csv_bytes(b.rows, b.key)
    clean = synthesize(SUBDISTRICTS, CATEGORIES, 2000, seed=5, defects=0.0)
    pd.testing.assert_frame_equal(a.clean, clean.rows)
    assert (
        synthesize(SUBDISTRICTS, CATEGORIES, 2000, seed=6).rows["lat"].tolist()
        != clean.rows["lat"].tolist()
    )


def test_proportions_follow_the_brief() -> None:
    survey = synthesize(SUBDISTRICTS, CATEGORIES, 20_000, seed=1)
    rows = survey.rows
    per_household = rows.groupby(["household_id", "round"])["problem_code"].agg(
        lambda c: (c != "").sum()
    )
    affected = per_household[per_household > 0]
    assert len(affected) / len(per_household) == pytest.approx(0.262, abs=0.01)
    # Three categories only here, so fewer problems than the brief's 3.19 fit in a household.
    assert affected.mean() == pytest.approx(2.55, abs=0.1)
    earlier = rows[(rows["round"] == "2566") & (rows["problem_code"] != "")]
    assert earlier["status"].str.startswith("solved").mean() == pytest.approx(0.9353, abs=0.0005)
    assert set(
        earlier.loc[
            ~earlier["status"].str.startswith("solved")
            & (earlier["problem_code"] == "no_land_title"),
            "status",
        ]
    ) == {"referred"}


def test_the_key_describes_each_planted_fault() -> None:
    survey = synthesize(SUBDISTRICTS, CATEGORIES, 3000, seed=3, defects=0.1)
    key = survey.key
    assert set(key["defect"]) == set(EXPECTED)
    assert (key["expect"] == key["defect"].map(EXPECTED)).all()
    rows = survey.rows
    for row_number, defect in key[["row_number", "defect"]].itertuples(index=False):
        row, clean = rows.iloc[row_number - 1], survey.clean.iloc[survey.origin[row_number - 1]]
        if defect == "swapped_coordinates":
            assert (row["lat"], row["lon"]) == (clean["lon"], clean["lat"])
        elif defect == "missing_coordinates":
            assert row["lat"] == row["lon"] == ""
        elif defect == "unknown_problem_code":
            assert row["problem_code"] == "no_such_problem"
        elif defect == "duplicate_row":
            assert row.tolist() == rows.iloc[row_number - 2].tolist()


def test_risks_are_rescaled_to_the_brief_s_shares_even_when_some_reach_certainty() -> None:
    rng = np.random.default_rng(0)
    risk = np.repeat([0.2, 1.0, 1.0, 3.0, 40.0], 2000) * rng.lognormal(0, 0.1, 10_000).round(2)
    urban = rng.random(10_000) < 0.3
    p = affected_probability(risk, urban)
    assert p.max() == 1.0  # the riskiest are capped, and the others make up for them
    assert p.mean() == pytest.approx(0.262, rel=1e-9)
    assert p[urban].mean() / p[~urban].mean() == pytest.approx(1.3, rel=1e-6)
    for group in (urban, ~urban):
        order = np.argsort(risk[group], kind="stable")
        assert (np.diff(p[group][order]) >= 0).all()


@pytest.mark.parametrize(
    ("province", "expected"),
    [
        ("10", "bangkok"),
        ("13", "central"),
        ("21", "east"),
        ("34", "northeast"),
        ("48", "northeast"),
        ("58", "north"),
        ("65", "north"),
        ("71", "west"),
        ("90", "south"),
        ("94", "deep_south"),
        ("96", "deep_south"),
    ],
)
def test_provinces_fall_in_their_regions(province: str, expected: str) -> None:
    assert region(province + "0101") == expected
