"""Administrative boundaries in the COD-AB layout: recognise, clean and check them.

COD-AB files name their fields ``ADMn_PCODE``, ``ADMn_EN`` and ``ADMn_TH`` (n = 1 province,
2 district, 3 subdistrict); each level also repeats the fields of the levels above it. A pcode is
``TH`` followed by the registry code of 2, 4 or 6 digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs import THAILAND_BOUNDS, WGS84, area_km2, require_crs, utm_epsg_of
from geo.errors import InvalidInputError
from geo.vocab import ADMIN_LEVELS, CODE_LENGTH

#: COD-AB numbers the levels: ``ADM1`` provinces, ``ADM2`` districts, ``ADM3`` subdistricts.
LEVELS: dict[int, str] = dict(enumerate(ADMIN_LEVELS, start=1))
PARENT_LEVEL: dict[str, str | None] = dict(zip(ADMIN_LEVELS, (None, *ADMIN_LEVELS), strict=False))
_PCODE = re.compile(r"^TH(\d+)$")
UNIT_COLUMNS = ["code", "pcode", "level", "parent_code", "name_th", "name_en"]


def detect_level(columns: Iterable[str]) -> int | None:
    """The COD-AB level (1, 2 or 3) of a layer from its field names, or None.

    The deepest ``ADMn_PCODE`` present wins, since each level repeats its ancestors' fields.
    """
    upper = {c.upper() for c in columns}
    found = [n for n in LEVELS if f"ADM{n}_PCODE" in upper]
    return max(found) if found else None


def _field(frame: pd.DataFrame, n: int, suffix: str) -> pd.Series:
    by_upper = {c.upper(): c for c in frame.columns}
    name = by_upper.get(f"ADM{n}_{suffix}")
    if name is None:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), None)


def _codes(pcodes: pd.Series, level: str, source: str, field: str) -> pd.Series:
    text = pcodes.astype("string").str.strip().str.upper()
    digits = text.str.extract(_PCODE, expand=False)
    bad = digits.isna() | (digits.str.len() != CODE_LENGTH[level])
    if bad.any():
        rows = [f"row {i + 1}: {pcodes.iloc[i]!r}" for i in np.flatnonzero(bad.to_numpy())[:10]]
        raise InvalidInputError(
            f"{source}: {int(bad.sum())} value(s) of {field} are not 'TH' + "
            f"{CODE_LENGTH[level]} digits ({'; '.join(rows)})"
        )
    return digits.astype(object)


def normalise(frame: gpd.GeoDataFrame, source: str) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Turn a COD-AB layer into Bamrung's unit layout.

    Parameters
    ----------
    frame : GeoDataFrame
        One layer of a COD-AB file, any CRS (a missing CRS is taken as EPSG:4326 when the
        coordinates are degrees inside Thailand).
    source : str
        Name of the file and layer, used in error messages.

    Returns
    -------
    units : GeoDataFrame
        Columns ``code, pcode, level, parent_code, name_th, name_en, geometry`` in EPSG:4326,
        in the order of the input rows.
    ancestors : DataFrame
        The distinct ancestor units named by the layer's ``ADMn_*`` fields, same columns without
        geometry, ordered from the top level down.

    Raises
    ------
    InvalidInputError
        When the layer has no COD-AB fields, a pcode is malformed, a code repeats or a feature
        has no geometry; the message names the rows.
    """
    n = detect_level(frame.columns)
    if n is None:
        raise InvalidInputError(
            f"{source}: no ADM1_PCODE, ADM2_PCODE or ADM3_PCODE field; found {list(frame.columns)}"
        )
    level = LEVELS[n]
    frame = _to_wgs84(frame, source)
    empty = frame.geometry.isna() | frame.geometry.is_empty
    if empty.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(empty.to_numpy())[:10])
        raise InvalidInputError(
            f"{source}: {int(empty.sum())} feature(s) have no geometry (rows {rows})"
        )
    ancestors = []
    codes_by_level: dict[int, pd.Series] = {}
    for k in range(1, n + 1):
        pcode = _field(frame, k, "PCODE")
        if k < n and pcode.isna().all():
            codes_by_level[k] = pcode
            continue
        codes_by_level[k] = _codes(pcode, LEVELS[k], source, f"ADM{k}_PCODE")
    codes = codes_by_level[n]
    duplicated = codes.duplicated(keep=False)
    if duplicated.any():
        repeats = [
            f"{c} (row {i + 1})"
            for i, c in zip(np.flatnonzero(duplicated), codes[duplicated], strict=True)
        ]
        raise InvalidInputError(f"{source}: codes repeat: {', '.join(repeats[:10])}")
    for k in range(1, n):
        parent = (
            codes_by_level[k - 1] if k > 1 else pd.Series([None] * len(frame), index=frame.index)
        )
        table = pd.DataFrame(
            {
                "code": codes_by_level[k],
                "pcode": "TH" + codes_by_level[k].astype("string"),
                "level": LEVELS[k],
                "parent_code": parent,
                "name_th": _field(frame, k, "TH"),
                "name_en": _field(frame, k, "EN"),
            }
        ).dropna(subset=["code"])
        ancestors.append(table.drop_duplicates("code").sort_values("code"))
    parent_codes = (
        codes_by_level[n - 1] if n > 1 else pd.Series([None] * len(frame), index=frame.index)
    )
    units = gpd.GeoDataFrame(
        {
            "code": codes,
            "pcode": "TH" + codes.astype("string"),
            "level": level,
            "parent_code": parent_codes.astype(object),
            "name_th": _field(frame, n, "TH"),
            "name_en": _field(frame, n, "EN"),
        },
        geometry=frame.geometry.to_numpy(),
        crs=WGS84,
    ).reset_index(drop=True)
    units["pcode"] = units["pcode"].astype(object)
    ancestor_frame = (
        pd.concat(ancestors, ignore_index=True) if ancestors else pd.DataFrame(columns=UNIT_COLUMNS)
    )
    ancestor_frame["pcode"] = ancestor_frame["pcode"].astype(object)
    return units, ancestor_frame


def _to_wgs84(frame: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        lo_x, lo_y, hi_x, hi_y = THAILAND_BOUNDS
        if not (lo_x <= minx and maxx <= hi_x and lo_y <= miny and maxy <= hi_y):
            raise InvalidInputError(
                f"{source}: the file has no CRS and its coordinates are not degrees inside "
                "Thailand; add a .prj (or reproject to EPSG:4326) and load it again"
            )
        return frame.set_crs(WGS84)
    if frame.crs.to_epsg() != WGS84:
        return frame.to_crs(WGS84)
    return frame


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    parts: list[Polygon] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, Polygon):
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(part.geoms)
        elif part.geom_type == "GeometryCollection":
            parts.extend(_polygonal(part).geoms)
    return MultiPolygon(parts)


def repair(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Make every geometry a valid MultiPolygon.

    Invalid geometries are fixed with ``shapely.make_valid`` (a self-crossing "bowtie" ring
    becomes its two triangles); lines and points left over by the repair are dropped, and
    every result is a MultiPolygon, as PostGIS stores them.

    Parameters
    ----------
    geoms : GeoSeries
        Polygonal geometries in any CRS.

    Returns
    -------
    repaired : GeoSeries
        Valid MultiPolygons, same index and CRS.
    changed : ndarray of bool
        True where the input geometry was invalid and had to be repaired.
    """
    values = geoms.to_numpy()
    invalid = ~shapely.is_valid(values)
    fixed = values.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(values[invalid])
    out = np.array([_polygonal(g) for g in fixed], dtype=object)
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs), invalid


def prepare(units: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Repair geometries and add ``area_km2`` and ``utm_epsg`` to normalised units.

    Returns
    -------
    units : GeoDataFrame
        The units with valid MultiPolygons, area in km² and the UTM zone it was measured in.
    repaired : list of str
        Codes of the units whose geometry was invalid and was repaired.
    """
    require_crs(units)
    geoms, changed = repair(units.geometry)
    out = units.set_geometry(geoms)
    out["area_km2"] = area_km2(out.geometry)
    out["utm_epsg"] = utm_epsg_of(out.geometry)
    return out, units.loc[changed, "code"].tolist()


@dataclass(frozen=True)
class HierarchyIssue:
    """A unit that does not sit where its code says it should."""

    code: str
    level: str
    parent_code: str | None
    problem: str
    detail: str


def check_hierarchy(units: gpd.GeoDataFrame) -> list[HierarchyIssue]:
    """Check that every district and subdistrict lies in its parent, by code and in space.

    By code, a unit's code must start with its parent's code and the parent must exist. In
    space, a unit's representative point (always inside the unit) must lie inside the parent's
    polygon; when it does not, the detail gives the share of the unit's area inside the parent
    and the unit of the parent's level that holds the point. Units or parents without
    geometry are checked by code only.

    Parameters
    ----------
    units : GeoDataFrame
        Columns ``code, level, parent_code, geometry`` in EPSG:4326, all levels together.

    Returns
    -------
    list of HierarchyIssue
        Ordered by code; empty when the hierarchy is consistent.
    """
    require_crs(units)
    by_code = units.set_index("code")
    issues: list[HierarchyIssue] = []
    for level in ("district", "subdistrict"):
        parent_level = PARENT_LEVEL[level]
        children = units[units["level"] == level]
        parents = by_code[by_code["level"] == parent_level]
        for code, parent in zip(children["code"], children["parent_code"], strict=True):
            if parent is None or parent not in parents.index:
                issues.append(
                    HierarchyIssue(
                        code, level, parent, "missing_parent", f"parent {parent!r} is not loaded"
                    )
                )
            elif not code.startswith(parent):
                issues.append(
                    HierarchyIssue(
                        code, level, parent, "code_prefix", f"code does not start with {parent}"
                    )
                )
        placed = children[
            children.geometry.notna()
            & children["parent_code"].isin(parents.index[parents.geometry.notna()])
        ]
        if placed.empty:
            continue
        points = placed.geometry.representative_point().to_numpy()
        parent_geoms = parents.geometry.loc[placed["parent_code"]].to_numpy()
        outside = ~shapely.contains(parent_geoms, points)
        if not outside.any():
            continue
        strays = placed[outside]
        holders = (
            gpd.sjoin(
                gpd.GeoDataFrame(
                    {"code": strays["code"].to_numpy()}, geometry=points[outside], crs=WGS84
                ),
                gpd.GeoDataFrame(
                    {"holder": parents.index}, geometry=parents.geometry.to_numpy(), crs=WGS84
                ),
                predicate="within",
                how="left",
            )
            .groupby("code")["holder"]
            .first()
        )
        inside = area_km2(
            gpd.GeoSeries(
                shapely.intersection(strays.geometry.to_numpy(), parent_geoms[outside]), crs=WGS84
            )
        ) / area_km2(strays.geometry)
        for (code, parent), share in zip(
            strays[["code", "parent_code"]].itertuples(index=False), inside, strict=True
        ):
            holder = holders.get(code)
            where = f"; its point lies in {holder}" if isinstance(holder, str) else ""
            issues.append(
                HierarchyIssue(
                    code,
                    level,
                    parent,
                    "outside_parent",
                    f"{share:.0%} of its area is inside {parent}{where}",
                )
            )
    return sorted(issues, key=lambda i: i.code)
