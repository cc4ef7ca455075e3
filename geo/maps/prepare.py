"""Data made ready for a web page: light shared borders, and rasters as Web Mercator images.

No Folium here: the map kinds (``geo.maps.kinds``) draw what these return.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.transform
import shapely
from matplotlib import colormaps
from rasterio.features import geometry_mask
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from geo.crs import require_crs


def simplify_coverage(frame: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """Polygons that tile an area, simplified together so shared borders stay shared.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons with a CRS (EPSG:4326) that tile an area.
    tolerance_m : float
        The tolerance in metres (taken as degrees at the equator: close enough for a zoom
        level); 0 or less leaves the frame as it is.

    Returns
    -------
    GeoDataFrame
        A copy whose coordinates are then rounded to 1e-5 degrees (about a metre), vertex by
        vertex; polygons only.
    """
    require_crs(frame)
    if frame.empty or tolerance_m <= 0:
        return frame
    geoms = frame.geometry.to_numpy()
    simplified = shapely.coverage_simplify(geoms, tolerance_m / 111_320.0)
    rounded = shapely.set_precision(simplified, 1e-5, mode="pointwise")
    out = frame.copy()
    # Rounding may collapse a sliver to a line; only the polygons are kept.
    out[frame.geometry.name] = shapely.make_valid(rounded, method="structure", keep_collapsed=False)
    return out


def raster_image(
    values: np.ndarray,
    transform: Any,
    crs: Any,
    nodata: float | None,
    cmap: str = "Blues",
    clip: shapely.Geometry | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A raster band as an RGBA image in Web Mercator (what Leaflet draws).

    Parameters
    ----------
    values : ndarray
        The band (rows × cols).
    transform, crs
        The band's affine transform and CRS.
    nodata : float, optional
        The band's no-data value.
    cmap : str
        A matplotlib colour map, scaled from 0 to the largest value shown.
    clip : Geometry, optional
        A polygon in EPSG:4326 (the area's outline): every cell whose centre lies outside it is
        transparent.

    Returns
    -------
    image : ndarray
        Rows × cols × 4, uint8; nodata and zero cells are transparent.
    bounds : tuple
        The image's bounds in degrees (west, south, east, north).
    """
    rows, cols = values.shape
    west, south, east, north = rasterio.transform.array_bounds(rows, cols, transform)
    target, width, height = calculate_default_transform(
        crs, "EPSG:3857", cols, rows, west, south, east, north
    )
    mercator = np.full((height, width), np.nan, dtype="float32")
    source = values.astype("float32")
    if nodata is not None:
        source[values == nodata] = np.nan
    reproject(
        source,
        mercator,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=target,
        dst_crs="EPSG:3857",
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    shown = np.isfinite(mercator) & (mercator != 0)
    if clip is not None:
        # Edges straight in degrees are curves in Web Mercator: densified first.
        dense = shapely.segmentize(clip, 0.005)
        outline = gpd.GeoSeries([dense], crs=4326).to_crs(3857)
        shown &= geometry_mask(outline, out_shape=(height, width), transform=target, invert=True)
    top = float(np.nanmax(mercator[shown])) if shown.any() else 1.0
    rgba = (colormaps[cmap](np.clip(np.nan_to_num(mercator) / (top or 1.0), 0, 1)) * 255).astype(
        "uint8"
    )
    rgba[..., 3] = np.where(shown, 200, 0)
    left, bottom, right, top_ = rasterio.transform.array_bounds(height, width, target)
    box = transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top_)
    return rgba, (box[0], box[1], box[2], box[3])
