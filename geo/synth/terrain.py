"""The synthetic terrain, and how water runs over it: the grid, the relief, the drainage.

The relief is a gentle regional slope plus smooth random relief; its depressions are filled so
that every cell drains to the edge of the grid, each cell flows to its steepest-descent neighbour
(D8), and the flow is accumulated into each cell's catchment.
"""

from __future__ import annotations

import heapq

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from scipy import ndimage

from geo.errors import InvalidInputError

MARGIN_M = 2_000.0
MAX_CELLS = 4_000_000
"""Largest grid accepted (about 12 s, 1 GB); Ubon Ratchathani is 0.5 M cells at 250 m."""
LOW_M, HIGH_M = 120.0, 390.0
"""Range of the terrain: the Khorat plateau lies mostly between 100 and 400 m."""
SLOPE_M_PER_KM = 0.6
RELIEF = ((25_000.0, 30.0), (6_000.0, 8.0), (1_500.0, 1.5))
"""Smooth random relief: (correlation length in m, standard deviation in m) of each field."""
_EPS_M = 1e-4
"""Rise forced across filled depressions, so that every cell has a lower neighbour."""


def grid(area_utm: shapely.Geometry, cell_m: float) -> tuple[Affine, tuple[int, int]]:
    """The north-up grid over an area's bounds plus :data:`MARGIN_M`, aligned to ``cell_m``.

    Parameters
    ----------
    area_utm : Geometry
        The area in its UTM zone.
    cell_m : float
        Cell size in metres.

    Returns
    -------
    transform : Affine
        The grid's transform.
    shape : (int, int)
        Rows and columns.

    Raises
    ------
    InvalidInputError
        If the grid would have more than :data:`MAX_CELLS` cells.
    """
    minx, miny, maxx, maxy = area_utm.bounds
    x0 = np.floor((minx - MARGIN_M) / cell_m) * cell_m
    y1 = np.ceil((maxy + MARGIN_M) / cell_m) * cell_m
    width = int(np.ceil((maxx + MARGIN_M - x0) / cell_m))
    height = int(np.ceil((y1 - miny + MARGIN_M) / cell_m))
    if width * height > MAX_CELLS:
        raise InvalidInputError(
            f"a {width}x{height} grid is larger than {MAX_CELLS:,} cells; use a larger cell_m"
        )
    return Affine(cell_m, 0.0, float(x0), 0.0, -cell_m, float(y1)), (height, width)


def relief(shape: tuple[int, int], cell_m: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Terrain heights: a regional slope in a random direction plus smooth random relief.

    Parameters
    ----------
    shape : (int, int)
        Rows and columns of the grid.
    cell_m : float
        Cell size in metres.
    rng : Generator
        The stream the slope's direction and the relief are drawn from.

    Returns
    -------
    ndarray
        Metres above sea level, within :data:`LOW_M` and :data:`HIGH_M`.
    """
    rows, cols = np.indices(shape, dtype=float) * cell_m / 1_000.0
    angle = rng.uniform(0, 2 * np.pi)
    z = SLOPE_M_PER_KM * (np.cos(angle) * cols + np.sin(angle) * rows)
    for length_m, sd_m in RELIEF:
        z += sd_m * _smooth_noise(shape, length_m / cell_m, rng)
    span = z.max() - z.min()
    height: NDArray[np.float64] = LOW_M + (z - z.min()) * min(
        1.0, (HIGH_M - LOW_M) / span if span else 1.0
    )
    return height


def _smooth_noise(
    shape: tuple[int, int], sigma_cells: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    # Filtering in the frequency domain costs the same for any correlation length.
    field = np.fft.rfft2(rng.standard_normal(shape))
    field = ndimage.fourier_gaussian(field, sigma=sigma_cells, n=shape[1])
    out = np.fft.irfft2(field, s=shape)
    noise: NDArray[np.float64] = (out - out.mean()) / (out.std() or 1.0)
    return noise


def fill_depressions(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Priority-flood fill: raise each depression to its spill level plus a tiny slope.

    Parameters
    ----------
    z : ndarray
        Terrain heights (rows × cols).

    Returns
    -------
    ndarray
        The filled heights: every cell has a strictly lower neighbour or is on the edge.
    """
    h, w = z.shape
    wp = w + 2
    # A ring of cells marked done around the grid saves bounds checks in the loop.
    padded = np.pad(z, 1, constant_values=np.inf)
    done = np.ones((h + 2, wp), dtype=bool)
    done[1:-1, 1:-1] = False
    edge = ~done
    edge[2:-2, 2:-2] = False
    seeds = np.flatnonzero(edge)
    done.ravel()[seeds] = True
    values = padded.ravel().tolist()
    seen = done.ravel().tolist()
    heap = [(values[i], i) for i in seeds.tolist()]
    heapq.heapify(heap)
    offsets = (-wp - 1, -wp, -wp + 1, -1, 1, wp - 1, wp, wp + 1)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        level, cell = pop(heap)
        floor = level + _EPS_M
        for offset in offsets:
            n = cell + offset
            if not seen[n]:
                seen[n] = True
                if values[n] < floor:
                    values[n] = floor
                push(heap, (values[n], n))
    return np.asarray(values).reshape(h + 2, wp)[1:-1, 1:-1]


def flow_receivers(filled: NDArray[np.float64]) -> NDArray[np.int64]:
    """Each cell's steepest-descent neighbour (D8).

    Parameters
    ----------
    filled : ndarray
        Filled heights (:func:`fill_depressions`), rows × cols.

    Returns
    -------
    ndarray
        The flat index of each cell's receiver (flat); outlets point to themselves.
    """
    h, w = filled.shape
    z = np.pad(filled, 1, constant_values=np.inf)
    best = np.zeros((h, w))
    rows, cols = np.indices((h, w))
    receiver = rows * w + cols
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            drop = (filled - z[1 + dr : h + 1 + dr, 1 + dc : w + 1 + dc]) / np.hypot(dr, dc)
            better = drop > best
            best = np.where(better, drop, best)
            receiver = np.where(better, (rows + dr) * w + cols + dc, receiver)
    flat: NDArray[np.int64] = receiver.ravel().astype(np.int64)
    return flat


def accumulate(filled: NDArray[np.float64], receiver: NDArray[np.int64]) -> NDArray[np.float64]:
    """Number of cells draining through each cell, itself included.

    Parameters
    ----------
    filled : ndarray
        Filled heights, rows × cols.
    receiver : ndarray
        Each cell's receiver (:func:`flow_receivers`), flat.

    Returns
    -------
    ndarray
        Cell counts (flat).
    """
    count = [1.0] * receiver.size
    down = receiver.tolist()
    # Receivers are strictly lower, so from high to low every cell is done before its receiver.
    for cell in np.argsort(filled.ravel(), kind="stable")[::-1].tolist():
        target = down[cell]
        if target != cell:
            count[target] += count[cell]
    return np.asarray(count)


def carve_valleys(
    filled: NDArray[np.float64],
    is_stream: NDArray[np.bool_],
    size: NDArray[np.float64],
    cell_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp], NDArray[np.float64]]:
    """Valleys carved along the streams, deeper and wider downstream.

    Parameters
    ----------
    filled : ndarray
        The filled terrain (:func:`fill_depressions`), rows × cols, metres.
    is_stream : ndarray of bool
        Stream cells (flat).
    size : ndarray
        Each stream cell's catchment over the stream threshold, 0 elsewhere (flat).
    cell_m : float
        Cell size in metres.

    Returns
    -------
    elevation : ndarray
        The carved terrain (rows × cols), metres.
    distance : ndarray
        Metres from each cell to its nearest stream cell (rows × cols).
    nearest : ndarray
        Flat index of that stream cell (rows × cols).
    width : ndarray
        The width of the valley at each cell, from its nearest stream cell (rows × cols).
    """
    shape = filled.shape
    distance, nearest = ndimage.distance_transform_edt(
        ~is_stream.reshape(shape), sampling=cell_m, return_indices=True
    )
    nearest_flat = np.ravel_multi_index(tuple(nearest), shape)
    depth = np.minimum(2.0 + 3.0 * np.log1p(size), 15.0)[nearest_flat]
    width = np.minimum(400.0 * size**0.3, 3_000.0)[nearest_flat]
    elevation = filled.reshape(shape) - depth * np.exp(-((distance / width) ** 2))
    return elevation, distance, nearest_flat, width
