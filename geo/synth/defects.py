"""Defects planted in a clean synthetic survey, and the key that says what the importer must do."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import Transformer

from geo.crs import UTM_47N, UTM_48N, WGS84, utm_epsg
from geo.intake.normalise import BE_OFFSET

DEFECTS = (
    "missing_coordinates",
    "swapped_coordinates",
    "utm_coordinates",
    "wrong_subdistrict",
    "cp874_text",
    "buddhist_era_date",
    "thai_digits",
    "duplicate_row",
    "unknown_problem_code",
)
#: What the importer must do with each planted defect: a flag on the stored row, or a reason.
EXPECTED = {
    "missing_coordinates": "flag:missing_coordinates",
    "swapped_coordinates": "flag:swapped_coordinates",
    "utm_coordinates": "flag:utm_coordinates",
    "wrong_subdistrict": "flag:outside_declared_subdistrict",
    "cp874_text": "flag:cp874_text",
    "buddhist_era_date": "flag:buddhist_era_date",
    "thai_digits": "flag:thai_digits",
    "duplicate_row": "quarantine:duplicate_row",
    "unknown_problem_code": "quarantine:unknown_problem_code",
}
_TO_UTM = {epsg: Transformer.from_crs(WGS84, epsg, always_xy=True) for epsg in (UTM_47N, UTM_48N)}
_THAI = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def plant_defects(
    clean: pd.DataFrame,
    subdistricts: gpd.GeoDataFrame,
    categories: pd.DataFrame,
    rate: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, NDArray[np.int64]]:
    """Plant one defect of :data:`DEFECTS` in a share of the rows.

    Parameters
    ----------
    clean : DataFrame
        The clean rows, as text.
    subdistricts : GeoDataFrame
        ``code`` of the run's subdistricts: a wrong subdistrict is a sibling in the same district.
    categories : DataFrame
        The taxonomy (unused by the defects planted today).
    rate : float
        Share of rows that get a defect (0 to 1).
    rng : Generator
        The defects' own stream, so that clean rows are the same with or without them.

    Returns
    -------
    rows : DataFrame
        The rows with defects, duplicates right after their original.
    key : DataFrame
        ``row_number`` (1-based, as in the file), ``defect`` and ``expect`` (:data:`EXPECTED`).
    origin : ndarray
        For each row of ``rows``, the index of the clean row it came from.
    """
    rows = clean.copy()
    n = len(rows)
    hit = np.flatnonzero(rng.random(n) < rate)
    kinds = rng.choice(DEFECTS, len(hit))
    # A wrong subdistrict is a sibling in the same district, far enough to be outside.
    by_district: dict[str, list[str]] = {}
    for code in subdistricts["code"]:
        by_district.setdefault(code[:4], []).append(code)
    log = []
    duplicates = []
    for i, kind in zip(hit, kinds, strict=True):
        row = rows.iloc[i]
        if kind == "missing_coordinates":
            rows.loc[i, ["lat", "lon"]] = ""
        elif kind == "swapped_coordinates":
            rows.loc[i, "lat"], rows.loc[i, "lon"] = row["lon"], row["lat"]
        elif kind == "utm_coordinates":
            epsg = utm_epsg(float(row["lon"]))
            e, nn = _TO_UTM[epsg].transform(float(row["lon"]), float(row["lat"]))
            rows.loc[i, "lon"], rows.loc[i, "lat"] = f"{e:.1f}", f"{nn:.1f}"
        elif kind == "wrong_subdistrict":
            siblings = [
                c for c in by_district[row["subdistrict_code"][:4]] if c != row["subdistrict_code"]
            ]
            if not siblings:
                continue
            rows.loc[i, "subdistrict_code"] = siblings[int(rng.integers(len(siblings)))]
        elif kind == "cp874_text":
            if not row["head_name"]:
                continue
        elif kind == "buddhist_era_date":
            date = pd.Timestamp(row["surveyed_on"])
            rows.loc[i, "surveyed_on"] = f"{date.day}/{date.month}/{date.year + BE_OFFSET}"
        elif kind == "thai_digits":
            rows.loc[i, "moo"] = str(row["moo"]).translate(_THAI)
        elif kind == "duplicate_row":
            duplicates.append(i)
        elif kind == "unknown_problem_code":
            rows.loc[i, "problem_code"] = "no_such_problem"
        log.append((i, kind))
    rows["_source"] = np.arange(n)
    if duplicates:
        copies = rows.iloc[duplicates].copy()
        copies["_source"] = np.array(duplicates) + 0.5
        rows = pd.concat([rows, copies]).sort_values("_source", kind="stable")
    position = {src: pos + 1 for pos, src in enumerate(rows["_source"])}
    key = pd.DataFrame(
        [
            (position[i + 0.5] if kind == "duplicate_row" else position[i], kind, EXPECTED[kind])
            for i, kind in log
        ],
        columns=["row_number", "defect", "expect"],
    ).sort_values("row_number", ignore_index=True)
    origin = np.floor(rows["_source"].to_numpy()).astype(np.int64)
    return rows.drop(columns="_source").reset_index(drop=True), key, origin
