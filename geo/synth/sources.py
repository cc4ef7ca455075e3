"""Synthetic villages, and the water sources placed around them."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from geo.crs import WGS84, require_crs
from geo.errors import InvalidInputError

logger = logging.getLogger(__name__)

VILLAGE_KM2 = 15.0
SOURCE_RADIUS_M = 300.0
KINDS = ("well", "pond", "piped_supply", "reservoir")
KIND_SHARES = (0.4, 0.3, 0.2, 0.1)
WORKING_SHARE = 0.8


def check_villages(villages: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """The given villages inside the area; those outside are left out, with a warning.

    Parameters
    ----------
    villages : GeoDataFrame
        Village centres: points in EPSG:4326.
    area : Geometry
        The area in EPSG:4326.

    Returns
    -------
    GeoDataFrame
        The rows of ``villages`` inside the area.

    Raises
    ------
    InvalidInputError
        If the villages are not points in EPSG:4326 or none lies inside the area.
    """
    if not isinstance(villages, gpd.GeoDataFrame):
        raise InvalidInputError(f"villages must be a GeoDataFrame, got {type(villages).__name__}")
    try:
        require_crs(villages)
    except ValueError as error:
        raise InvalidInputError(f"villages: {error}") from error
    geoms = villages.geometry
    bad = geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")
    if bad.any():
        raise InvalidInputError(
            f"villages must be points; {int(bad.sum())} row(s) are not, "
            f"first at row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}"
        )
    inside = shapely.contains_xy(area, geoms.x.to_numpy(), geoms.y.to_numpy())
    if not inside.any():
        raise InvalidInputError(f"none of the {len(villages)} villages lies inside the area")
    if not inside.all():
        logger.warning("%d village(s) outside the area get no water source", int((~inside).sum()))
    return villages[inside]


def random_villages(
    area: shapely.Geometry, area_km2: float, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """About one village per :data:`VILLAGE_KM2`, at random inside the area.

    Parameters
    ----------
    area : Geometry
        The area in EPSG:4326.
    area_km2 : float
        Its area.
    rng : Generator
        The stream the positions are drawn from.

    Returns
    -------
    GeoDataFrame
        ``name``, ``synthetic`` and points in EPSG:4326.
    """
    n = max(1, round(area_km2 / VILLAGE_KM2))
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    found = np.empty((0, 2))
    while len(found) < n:
        x = rng.uniform(minx, maxx, 2 * n)
        y = rng.uniform(miny, maxy, 2 * n)
        hit = shapely.contains_xy(area, x, y)
        found = np.vstack([found, np.column_stack([x[hit], y[hit]])])
    found = found[:n]
    return gpd.GeoDataFrame(
        {"name": [f"SYNTHETIC village {i}" for i in range(1, n + 1)], "synthetic": True},
        geometry=shapely.points(found),
        crs=WGS84,
    )


def water_sources(
    villages: gpd.GeoDataFrame,
    area: shapely.Geometry,
    to_utm: Transformer,
    to_wgs: Transformer,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """One or two water sources within :data:`SOURCE_RADIUS_M` of each village centre.

    Parameters
    ----------
    villages : GeoDataFrame
        Village centres inside the area (EPSG:4326).
    area : Geometry
        The area in EPSG:4326: a source pushed across its boundary sits at its village centre.
    to_utm, to_wgs : Transformer
        From EPSG:4326 to the area's UTM zone and back.
    rng : Generator
        The stream the sources are drawn from.

    Returns
    -------
    GeoDataFrame
        ``name``, ``kind`` (:data:`KINDS`), ``status`` ("working" or "broken"), ``synthetic``.
    """
    lon0, lat0 = villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy()
    per_village = 1 + (rng.random(len(villages)) < 0.5)
    home = np.repeat(np.arange(len(villages)), per_village)
    n = home.size
    x0, y0 = to_utm.transform(lon0[home], lat0[home])
    radius = SOURCE_RADIUS_M * np.sqrt(rng.random(n))
    angle = rng.uniform(0, 2 * np.pi, n)
    lon, lat = to_wgs.transform(x0 + radius * np.cos(angle), y0 + radius * np.sin(angle))
    lon, lat = np.asarray(lon), np.asarray(lat)
    # A source pushed across the boundary sits at its village centre, which is inside.
    outside = ~shapely.contains_xy(area, lon, lat)
    lon[outside], lat[outside] = lon0[home][outside], lat0[home][outside]
    return gpd.GeoDataFrame(
        {
            "name": [f"SYNTHETIC source {i}" for i in range(1, n + 1)],
            "kind": rng.choice(KINDS, n, p=KIND_SHARES),
            "status": np.where(rng.random(n) < WORKING_SHARE, "working", "broken"),
            "synthetic": True,
        },
        geometry=shapely.points(lon, lat),
        crs=WGS84,
    )
