"""Rules for Geo-social vector layers: CRS guessing, geometry repair, names and statuses.

A feature is kept (possibly repaired and flagged) or rejected with machine-readable reasons;
nothing is dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import THAILAND_BOUNDS, UTM_47N, UTM_48N, WGS84
from geo.errors import InvalidInputError
from geo.intake.labels import Labels
from geo.vocab import LAYER_KINDS

#: The geometry each kind of layer holds (its multi-part forms are accepted too).
GEOMETRY = {
    "water_sources": "Point",
    "waterways": "LineString",
    "flood_zones": "Polygon",
    "drought_zones": "Polygon",
    "land_use": "Polygon",
}
NAME_COLUMNS = ("name", "name_th", "ชื่อ", "name_en", "label")
STATUS_COLUMNS = ("status", "สถานะ", "condition")
WORKING = {"working", "ok", "good", "ใช้การได้", "ใช้ได้", "ดี", "1", "true", "yes"}
BROKEN = {"broken", "damaged", "dry", "ชำรุด", "ใช้การไม่ได้", "ใช้ไม่ได้", "แห้ง", "0", "false", "no"}
_DIMENSION = {"Point": 0, "LineString": 1, "Polygon": 2}


@dataclass(frozen=True)
class CheckedFeatures:
    """Features to store (EPSG:4326) and the rows refused, both keyed by 1-based ``source_row``."""

    features: gpd.GeoDataFrame
    """``source_row``, ``name``, ``status``, ``properties`` (JSON text), ``flags``, geometry."""
    rejected: pd.DataFrame
    """``source_row``, ``reasons``, ``messages``, ``values`` (the attributes as a dict)."""


def guess_crs(bounds: tuple[float, float, float, float]) -> int | None:
    """The CRS of a layer without one, from its extent: degrees, UTM 47N or 48N, or None.

    Eastings alone cannot tell zone 47 from zone 48, so UTM is guessed only when the extent is
    inside Thailand in exactly one of them.
    """
    west, south, east, north = bounds
    lon_lat = THAILAND_BOUNDS[0] <= west and east <= THAILAND_BOUNDS[2]
    if lon_lat and THAILAND_BOUNDS[1] <= south and north <= THAILAND_BOUNDS[3]:
        return WGS84
    if not (west >= 100_000 and east <= 900_000 and south >= 500_000 and north <= 2_400_000):
        return None
    inside = []
    for epsg in (UTM_47N, UTM_48N):
        box = gpd.GeoSeries([shapely.box(*bounds)], crs=epsg).to_crs(WGS84).total_bounds
        if THAILAND_BOUNDS[0] <= box[0] and box[2] <= THAILAND_BOUNDS[2]:
            inside.append(epsg)
    return inside[0] if len(inside) == 1 else None


def check_features(frame: gpd.GeoDataFrame, kind: str) -> CheckedFeatures:
    """Reproject, repair and label the features of a layer of ``kind``.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer as read, with its CRS set.
    kind : str
        One of ``geo.vocab.LAYER_KINDS``.

    Returns
    -------
    CheckedFeatures
    """
    if kind not in LAYER_KINDS:
        raise InvalidInputError(f"kind: {kind!r} is not one of {', '.join(LAYER_KINDS)}")
    if frame.crs is None:
        raise InvalidInputError("the layer has no coordinate reference system")
    frame = frame.to_crs(WGS84)
    size = len(frame)
    reasons, messages, flags = Labels(size), Labels(size), Labels(size)
    wanted = GEOMETRY[kind]
    geoms = np.array(frame.geometry.to_numpy(), dtype=object)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            reasons.append(i, "missing_geometry")
            messages.append(i, "geometry: the feature has none")
            continue
        fixed = geom if geom.is_valid else shapely.make_valid(geom)
        kept = _parts_of(fixed, wanted)
        if kept is None:
            reasons.append(i, "wrong_geometry_type")
            messages.append(i, f"geometry: a {geom.geom_type} where {kind} holds {wanted}s")
            continue
        if fixed is not geom or kept is not fixed:
            flags.append(i, "repaired_geometry")
        west, south, east, north = kept.bounds
        if (
            east < THAILAND_BOUNDS[0]
            or west > THAILAND_BOUNDS[2]
            or north < THAILAND_BOUNDS[1]
            or south > THAILAND_BOUNDS[3]
        ):
            reasons.append(i, "outside_thailand")
            messages.append(
                i, f"geometry: lies at {west:.4f}, {south:.4f}, outside Thailand (wrong CRS?)"
            )
            continue
        geoms[i] = kept
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    values = [_plain(row) for row in attributes.to_dict("records")]
    refused = reasons.mask()
    rows = np.arange(1, size + 1)
    kept_rows = np.flatnonzero(~refused).tolist()
    features = gpd.GeoDataFrame(
        {
            "source_row": [int(rows[i]) for i in kept_rows],
            "name": _pick(attributes, NAME_COLUMNS).iloc[kept_rows].to_numpy(),
            "status": (
                _status(_pick(attributes, STATUS_COLUMNS)).iloc[kept_rows].to_numpy()
                if kind == "water_sources"
                else None
            ),
            "properties": [
                json.dumps(values[i], ensure_ascii=False, default=str) for i in kept_rows
            ],
            "flags": [flags[i] for i in kept_rows],
        },
        geometry=list(geoms[kept_rows]),
        crs=WGS84,
    )
    bad = np.flatnonzero(refused).tolist()
    rejected = pd.DataFrame(
        {
            "source_row": [int(rows[i]) for i in bad],
            "reasons": [reasons[i] for i in bad],
            "messages": [messages[i] for i in bad],
            "values": [values[i] for i in bad],
        }
    )
    return CheckedFeatures(features, rejected)


def _parts_of(geom: BaseGeometry, wanted: str) -> BaseGeometry | None:
    """``geom`` itself when it is all of the wanted dimension, else its parts that are."""
    parts = shapely.get_parts(geom)
    if isinstance(geom, shapely.GeometryCollection):
        parts = np.concatenate([shapely.get_parts(p) for p in parts]) if len(parts) else parts
    same = [p for p in parts if shapely.get_dimensions(p) == _DIMENSION[wanted] and not p.is_empty]
    if not same:
        return None
    if len(same) == len(parts) and not isinstance(geom, shapely.GeometryCollection):
        return geom
    return same[0] if len(same) == 1 else shapely.union_all(same)


def _pick(attributes: pd.DataFrame, candidates: tuple[str, ...]) -> pd.Series:
    lower = {str(c).strip().lower(): c for c in attributes.columns}
    for name in candidates:
        if name in lower:
            column = attributes[lower[name]]
            return column.astype(object).where(column.notna(), None)
    return pd.Series([None] * len(attributes), index=attributes.index, dtype=object)


def _status(values: pd.Series) -> pd.Series:
    text = values.astype(object).map(lambda v: None if v is None else str(v).strip().lower())
    return text.map(lambda v: "working" if v in WORKING else "broken" if v in BROKEN else "unknown")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Attributes as JSON-ready values (dates and numpy scalars as text or numbers)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out[str(key)] = None
        elif isinstance(value, np.generic):
            out[str(key)] = value.item()
        elif isinstance(value, str | int | float | bool):
            out[str(key)] = value
        else:
            out[str(key)] = str(value)
    return out
