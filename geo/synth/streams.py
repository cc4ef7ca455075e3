"""Streams where water on the synthetic terrain gathers, drawn from source to end."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import Transformer

from geo.crs import WGS84


def trace_streams(
    is_stream: NDArray[np.bool_],
    receiver: NDArray[np.int64],
    catchment_km2: NDArray[np.float64],
    shape: tuple[int, int],
    transform: Affine,
    to_wgs: Transformer,
) -> list[tuple[shapely.LineString, int, float]]:
    """Each stream from its source cell to its outlet or to where it joins a larger stream.

    At a confluence the stream with the larger catchment carries on; ``order`` 1 reaches the
    edge of the grid, 2 joins an order-1 stream, and so on.

    Parameters
    ----------
    is_stream : ndarray of bool
        Stream cells (flat).
    receiver : ndarray
        Each cell's receiver (``geo.synth.terrain.flow_receivers``), flat.
    catchment_km2 : ndarray
        Each cell's catchment (flat).
    shape : (int, int)
        Rows and columns of the grid.
    transform : Affine
        The grid's transform (UTM).
    to_wgs : Transformer
        From the grid's UTM zone to EPSG:4326.

    Returns
    -------
    list of (LineString, int, float)
        Each stream's line in EPSG:4326 from source to end, its order and the catchment at its
        end; streams of one cell are left out.
    """
    cells = np.flatnonzero(is_stream)
    flows = receiver[cells] != cells
    donors, targets = cells[flows], receiver[cells][flows]
    # At a confluence the stream with the larger catchment carries on; the others end there.
    by_size = np.lexsort((catchment_km2[donors], targets))
    last = np.r_[targets[by_size][1:] != targets[by_size][:-1], True]
    main = np.full(receiver.size, -1)
    main[targets[by_size][last]] = donors[by_size][last]
    fed = np.zeros(receiver.size, dtype=bool)
    fed[targets] = True
    down = receiver.tolist()
    paths: list[list[int]] = []
    owner: dict[int, int] = {}
    for head in cells[~fed[cells]].tolist():
        path, cell = [head], head
        while down[cell] != cell:
            owner[cell] = len(paths)
            cell = down[cell]
            path.append(cell)
            if main[cell] != path[-2]:
                break
        else:
            owner[cell] = len(paths)
        paths.append(path)
    orders: dict[int, int] = {}

    def order_of(i: int) -> int:
        if i not in orders:
            end = paths[i][-1]
            joins = owner.get(end, i)
            orders[i] = 1 if joins == i else order_of(joins) + 1
        return orders[i]

    out = []
    for i, path in enumerate(paths):
        rows, cols = np.divmod(np.asarray(path), shape[1])
        x = transform.c + (cols + 0.5) * transform.a
        y = transform.f + (rows + 0.5) * transform.e
        lon, lat = to_wgs.transform(x, y)
        if len(path) >= 2:
            line = shapely.LineString(np.column_stack([lon, lat]))
            out.append((line, order_of(i), float(catchment_km2[path[-1]])))
    return out


def clip_streams(
    lines: list[tuple[shapely.LineString, int, float]],
    area: shapely.Geometry,
    epsg: int,
    cell_m: float,
) -> gpd.GeoDataFrame:
    """Streams inside the area, still drawn downstream, longest rivers first.

    Parameters
    ----------
    lines : list of (LineString, int, float)
        Streams from :func:`trace_streams`.
    area : Geometry
        The area in EPSG:4326.
    epsg : int
        The UTM zone their lengths are measured in.
    cell_m : float
        Cell size: pieces shorter than two cells are left out.

    Returns
    -------
    GeoDataFrame
        ``name``, ``order``, ``synthetic`` in EPSG:4326, by order then by falling catchment.
    """
    shapely.prepare(area)
    kept: list[tuple[int, float, shapely.LineString]] = []
    for line, order, catchment in lines:
        clipped = shapely.intersection(line, area)
        for part in shapely.get_parts(shapely.get_parts(clipped)):
            if part.geom_type != "LineString" or part.length == 0:
                continue
            start, end = shapely.points(np.asarray(part.coords)[[0, -1]])
            if line.project(start) > line.project(end):
                part = shapely.reverse(part)
            kept.append((order, -catchment, part))
    kept.sort(key=lambda k: (k[0], k[1]))
    frame = gpd.GeoDataFrame(
        {"order": np.array([k[0] for k in kept], dtype=np.int64)},
        geometry=[k[2] for k in kept],
        crs=WGS84,
    )
    frame = frame[frame.to_crs(epsg).length.to_numpy() >= 2 * cell_m].reset_index(drop=True)
    frame.insert(0, "name", [f"SYNTHETIC stream {i}" for i in range(1, len(frame) + 1)])
    frame.insert(2, "synthetic", True)
    return frame
