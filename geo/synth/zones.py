"""Flood and drought zones that follow from the terrain and its streams.

Flood frequency falls with height above and distance from the nearest stream; the zones are
bands of it, and the driest land (far above and away from streams, and high) outside them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio import features

from geo.crs import WGS84

FLOOD_CLASSES = ((2, 5.0), (10, 1.0))
"""(return period in years, least floods per 10 years), most frequent first."""
DROUGHT_SHARES = (("severe", 0.08), ("moderate", 0.12))
"""Share of the area's land in each drought class, driest first."""
DROUGHT_MIN_DISTANCE_M = 2_000.0
MIN_ZONE_KM2 = 0.5


def zone_classes(
    flood: NDArray[np.float64],
    height: NDArray[np.float64],
    distance: NDArray[np.float64],
    elevation: NDArray[np.float64],
    inside: NDArray[np.bool_],
) -> NDArray[np.uint8]:
    """Zone of each cell: 1.. for flood classes, then drought classes (driest first), 0 none.

    Parameters
    ----------
    flood : ndarray
        Floods per 10 years of each cell.
    height, distance : ndarray
        Metres above and from each cell's nearest stream.
    elevation : ndarray
        Metres above sea level.
    inside : ndarray of bool
        The cells of the area; the others get 0.

    Returns
    -------
    ndarray of uint8
        Flood classes by :data:`FLOOD_CLASSES`; of the land outside them and at least
        :data:`DROUGHT_MIN_DISTANCE_M` from a stream, the driest shares of the area by
        :data:`DROUGHT_SHARES`.
    """
    classes = np.zeros(flood.shape, dtype=np.uint8)
    for value, (_, least) in reversed(list(enumerate(FLOOD_CLASSES, start=1))):
        classes[inside & (flood >= least)] = value
    land = np.flatnonzero(inside)
    dryness = _rank(height.ravel()[land]) + _rank(distance.ravel()[land])
    dryness += _rank(elevation.ravel()[land])
    dry = (classes.ravel()[land] == 0) & (distance.ravel()[land] >= DROUGHT_MIN_DISTANCE_M)
    driest = land[dry][np.argsort(-dryness[dry], kind="stable")]
    start = 0
    for value, (_, share) in enumerate(DROUGHT_SHARES, start=len(FLOOD_CLASSES) + 1):
        stop = start + round(share * land.size)
        classes.ravel()[driest[start:stop]] = value
        start = stop
    return classes


def zone_polygons(
    classes: NDArray[np.uint8],
    transform: Affine,
    epsg: int,
    area: shapely.Geometry,
    cell_m: float,
) -> gpd.GeoDataFrame:
    """Polygons of each class, clipped to the area; one sieved raster keeps classes disjoint.

    Parameters
    ----------
    classes : ndarray of uint8
        Zone of each cell (:func:`zone_classes`).
    transform : Affine
        The grid's transform, in the UTM zone ``epsg``.
    epsg : int
        The grid's CRS.
    area : Geometry
        The area in EPSG:4326.
    cell_m : float
        Cell size: patches under :data:`MIN_ZONE_KM2` are sieved away.

    Returns
    -------
    GeoDataFrame
        In EPSG:4326: ``value`` (the class), ``kind`` ("flood" or "drought"),
        ``return_period_years`` (flood) and ``severity`` (drought).
    """
    sieved = features.sieve(classes, size=max(1, round(MIN_ZONE_KM2 * 1e6 / cell_m**2)))
    pieces = [
        (int(value), shapely.geometry.shape(geom))
        for geom, value in features.shapes(sieved, mask=sieved > 0, transform=transform)
    ]
    frame = gpd.GeoDataFrame(
        {"value": np.array([v for v, _ in pieces], dtype=np.int64)},
        geometry=[g for _, g in pieces],
        crs=epsg,
    ).to_crs(WGS84)
    geoms = shapely.make_valid(shapely.intersection(frame.geometry.to_numpy(), area))
    frame = frame.set_geometry([_polygonal(g) for g in geoms], crs=WGS84)
    frame = frame[~frame.geometry.is_empty]
    n_flood = len(FLOOD_CLASSES)
    flood = frame["value"] <= n_flood
    frame["kind"] = np.where(flood, "flood", "drought")
    periods = dict(enumerate((p for p, _ in FLOOD_CLASSES), start=1))
    severities = dict(enumerate((s for s, _ in DROUGHT_SHARES), start=n_flood + 1))
    frame["return_period_years"] = frame["value"].map(periods)
    frame["severity"] = frame["value"].map(severities)
    return frame


def labelled_zones(frame: gpd.GeoDataFrame, noun: str, column: str) -> gpd.GeoDataFrame:
    """Zones of one kind as published: "SYNTHETIC <noun> <n>" names, ``column``, ``synthetic``.

    Parameters
    ----------
    frame : GeoDataFrame
        Zones of one kind from :func:`zone_polygons`.
    noun : str
        What the names call them ("flood zone").
    column : str
        The column kept: ``return_period_years`` (as integers) or ``severity``.

    Returns
    -------
    GeoDataFrame
        ``name``, ``column``, ``synthetic`` in EPSG:4326.
    """
    values = frame[column].to_numpy()
    if column == "return_period_years":
        values = values.astype(np.int64)
    return gpd.GeoDataFrame(
        {
            "name": [f"SYNTHETIC {noun} {i}" for i in range(1, len(frame) + 1)],
            column: values,
            "synthetic": True,
        },
        geometry=frame.geometry.to_numpy(),
        crs=WGS84,
    )


def _rank(values: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty(values.size)
    out[np.argsort(values, kind="stable")] = np.arange(values.size)
    return out / max(values.size, 1)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()
