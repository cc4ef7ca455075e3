"""Where households and their problems are dense: counts on H3 hexagons and kernel density."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter
from shapely.geometry import Polygon

from geo.crs import WGS84, require_crs, utm_epsg
from geo.errors import InvalidInputError, TooLargeError

log = logging.getLogger(__name__)

HEX_COLUMNS = [
    "h3",
    "households",
    "households_with_problems",
    "problems",
    "solved",
    "problems_per_1000",
    "affected_per_1000",
]
#: Largest kernel density grid, in cells (a 250 m grid over all of Thailand is about 25 M).
MAX_GRID_CELLS = 30_000_000
#: The grid reaches this many bandwidths past the points so that almost no density is cut off.
PAD_BANDWIDTHS = 3.0


def h3_resolution(
    area_km2: float, target_cells: int = 2000, finest: int = 10, coarsest: int = 4
) -> int:
    """The finest H3 resolution at which an area holds at most ``target_cells`` hexagons.

    Parameters
    ----------
    area_km2 : float
        Area to cover, in km².
    target_cells : int, default 2000
        Largest number of average-size hexagons wanted over the area.
    finest, coarsest : int, default 10 and 4
        Bounds of the answer; an area too large for ``coarsest`` still gets ``coarsest``.

    Returns
    -------
    int
        An H3 resolution in ``[coarsest, finest]``.
    """
    if not 0 <= coarsest <= finest <= 15:
        raise InvalidInputError(f"need 0 <= coarsest <= finest <= 15, got {coarsest}, {finest}")
    if not area_km2 >= 0 or target_cells < 1:
        raise InvalidInputError(
            f"need an area >= 0 and target_cells >= 1, got {area_km2}, {target_cells}"
        )
    for res in range(finest, coarsest, -1):
        if area_km2 / h3.average_hexagon_area(res, unit="km^2") <= target_cells:
            return res
    return coarsest


def _count_column(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or values.isna().any() or (values < 0).any():
        raise InvalidInputError(f"column {column!r} must hold counts: numbers >= 0, none missing")
    return values.astype("int64")


def _hexagon(cell: str) -> Polygon:
    # h3 gives (lat, lng) pairs; shapely wants (x=lng, y=lat).
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])


def hex_counts(households: gpd.GeoDataFrame, resolution: int) -> gpd.GeoDataFrame:
    """Households and their problems counted on the H3 hexagons of one resolution.

    Parameters
    ----------
    households : GeoDataFrame
        One point per household in EPSG:4326, with an integer column ``problems`` (may be 0)
        and optionally ``solved``.
    resolution : int
        H3 resolution, 0 to 15 (see :func:`h3_resolution`).

    Returns
    -------
    GeoDataFrame
        One row per occupied cell, sorted by cell id, in EPSG:4326: ``h3``, ``households``,
        ``households_with_problems``, ``problems``, ``solved`` (only if given),
        ``problems_per_1000`` and ``affected_per_1000`` (per 1,000 households), and the
        hexagon as geometry.
    """
    require_crs(households)
    if not 0 <= resolution <= 15:
        raise InvalidInputError(f"H3 resolution must be 0 to 15, got {resolution}")
    if "problems" not in households.columns:
        raise InvalidInputError("households need a column 'problems'")
    with_solved = "solved" in households.columns
    columns = [c for c in HEX_COLUMNS if with_solved or c != "solved"]
    counts = pd.DataFrame(
        {
            "h3": _cells(households, resolution),
            "households": 1,
            "problems": _count_column(households, "problems").to_numpy(),
        }
    )
    counts["households_with_problems"] = (counts["problems"] > 0).astype("int64")
    if with_solved:
        counts["solved"] = _count_column(households, "solved").to_numpy()
    cells = counts.groupby("h3", sort=True).sum().reset_index().astype({"h3": object})
    cells["problems_per_1000"] = 1000.0 * cells["problems"] / cells["households"]
    cells["affected_per_1000"] = 1000.0 * cells["households_with_problems"] / cells["households"]
    geometry = [_hexagon(cell) for cell in cells["h3"]]
    return gpd.GeoDataFrame(cells[columns], geometry=geometry, crs=WGS84)


def cell_centres(
    households: gpd.GeoDataFrame, resolution: int, column: str = "problems"
) -> pd.DataFrame:
    """``column`` summed per H3 cell, at the cell's centre: ``lat``, ``lon``, ``weight``.

    The points of a heatmap that shows no household's position, only its cell's.
    """
    require_crs(households)
    weights = pd.DataFrame(
        {"h3": _cells(households, resolution), "weight": _count_column(households, column)}
    )
    summed = weights.groupby("h3", sort=True)["weight"].sum()
    summed = summed[summed > 0]
    centres = pd.DataFrame([h3.cell_to_latlng(c) for c in summed.index], columns=["lat", "lon"])
    return centres.assign(weight=summed.to_numpy())


def _cells(households: gpd.GeoDataFrame, resolution: int) -> list[str]:
    """The H3 cell of each household's point."""
    if not 0 <= resolution <= 15:
        raise InvalidInputError(f"H3 resolution must be 0 to 15, got {resolution}")
    geoms = households.geometry
    bad = geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")
    if bad.any():
        raise InvalidInputError(f"{int(bad.sum())} household(s) have no point location")
    return [
        h3.latlng_to_cell(lat, lng, resolution)
        for lng, lat in zip(geoms.x.to_numpy(), geoms.y.to_numpy(), strict=True)
    ]


@dataclass(frozen=True, eq=False)
class Density:
    """A kernel density surface on a regular grid in a UTM zone.

    Attributes
    ----------
    values : ndarray of float32
        Density in points (or summed weights) per km², rows from north to south.
    transform : Affine
        Maps (column, row) to the grid's metric coordinates, as in GeoTIFF.
    crs_epsg : int
        EPSG code of the grid's CRS (32647 or 32648).
    cell_m : float
        Cell size in metres.
    bandwidth_m : float
        Standard deviation of the Gaussian kernel in metres.
    points : int
        Number of points smoothed.
    """

    values: NDArray[np.float32]
    transform: Affine
    crs_epsg: int
    cell_m: float
    bandwidth_m: float
    points: int


def kernel_density(
    points: gpd.GeoDataFrame,
    *,
    cell_m: float = 250.0,
    bandwidth_m: float | None = None,
    weights: str | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> Density:
    """Gaussian kernel density of points, binned on a metric grid.

    Points are counted (or their ``weights`` summed) per cell, then smoothed with a Gaussian of
    standard deviation ``bandwidth_m``; the surface integrates to the number of points (or total
    weight), less the little that falls off the grid's edge.

    Parameters
    ----------
    points : GeoDataFrame
        At least two points in EPSG:4326.
    cell_m : float, default 250
        Cell size in metres.
    bandwidth_m : float, optional
        Kernel standard deviation in metres. By default Scott's rule for two dimensions,
        ``n ** (-1/6)`` times the mean standard deviation of the coordinates, and at least
        one cell.
    weights : str, optional
        Column of non-negative weights to sum instead of counting points.
    bounds : tuple of float, optional
        ``(minx, miny, maxx, maxy)`` in the UTM zone of the points' mean longitude; by default
        the points' extent. The grid covers it with a margin of three bandwidths.

    Returns
    -------
    Density
        The surface in points (or weight) per km².
    """
    require_crs(points)
    if len(points) < 2:
        raise InvalidInputError(f"a kernel density needs at least 2 points, got {len(points)}")
    geoms = points.geometry
    bad = geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")
    if bad.any():
        raise InvalidInputError(f"{int(bad.sum())} row(s) are not points")
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise InvalidInputError(f"the cell size must be a positive number of metres, got {cell_m}")
    if bandwidth_m is not None and not (math.isfinite(bandwidth_m) and bandwidth_m > 0):
        raise InvalidInputError(
            f"the bandwidth must be a positive number of metres, got {bandwidth_m}"
        )
    if bounds is not None and not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
        raise InvalidInputError(f"bounds must be (minx, miny, maxx, maxy), got {bounds}")
    mass: NDArray[np.float64] | None = None
    if weights is not None:
        if weights not in points.columns:
            raise InvalidInputError(f"no weights column {weights!r}")
        column = points[weights]
        if not pd.api.types.is_numeric_dtype(column) or column.isna().any() or (column < 0).any():
            raise InvalidInputError(f"weights {weights!r} must be numbers >= 0, none missing")
        mass = column.to_numpy(dtype=np.float64)

    epsg = utm_epsg(float(geoms.x.mean()))
    metric = geoms.to_crs(epsg)
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    n = len(x)
    if bandwidth_m is None:
        scott = n ** (-1 / 6) * float(np.mean([x.std(ddof=1), y.std(ddof=1)]))
        bandwidth_m = max(scott, cell_m)

    minx, miny, maxx, maxy = bounds if bounds is not None else (x.min(), y.min(), x.max(), y.max())
    pad = PAD_BANDWIDTHS * bandwidth_m
    left = math.floor((minx - pad) / cell_m) * cell_m
    bottom = math.floor((miny - pad) / cell_m) * cell_m
    cols = math.ceil((maxx + pad - left) / cell_m)
    rows = math.ceil((maxy + pad - bottom) / cell_m)
    if rows * cols > MAX_GRID_CELLS:
        raise TooLargeError(
            f"the density grid would have {rows * cols:,} cells, more than {MAX_GRID_CELLS:,}: "
            "use larger cells or smaller bounds"
        )
    top = bottom + rows * cell_m
    log.debug(
        "kernel density: %d points, %d x %d cells of %g m, EPSG:%d", n, rows, cols, cell_m, epsg
    )

    binned, _, _ = np.histogram2d(
        y,
        x,
        bins=(rows, cols),
        range=((bottom, top), (left, left + cols * cell_m)),
        weights=mass,
    )
    smooth = gaussian_filter(binned, sigma=bandwidth_m / cell_m, mode="constant", truncate=4.0)
    # histogram2d counts rows from the south; rasters run from the north.
    per_km2 = smooth[::-1] / (cell_m * cell_m / 1e6)
    return Density(
        values=per_km2.astype(np.float32),
        transform=Affine(cell_m, 0.0, left, 0.0, -cell_m, top),
        crs_epsg=epsg,
        cell_m=float(cell_m),
        bandwidth_m=float(bandwidth_m),
        points=n,
    )
