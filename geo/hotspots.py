"""Hot and cold spots of a value over areas: contiguity weights, Getis-Ord Gi* and Local Moran."""

from __future__ import annotations

import copy
import logging
import time
import warnings
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.crs import require_crs, utm_epsg
from geo.errors import InvalidInputError

# PySAL is imported where it is used: it takes over a second, and every `bamrung` command (and
# the app) imports this module through the layer catalog.
if TYPE_CHECKING:
    import esda
    from libpysal.weights import W

log = logging.getLogger(__name__)

#: Gi* classes from hottest to coldest, for legends.
GI_CLASSES = (
    "hot_99",
    "hot_95",
    "hot_90",
    "not_significant",
    "cold_90",
    "cold_95",
    "cold_99",
)
#: Local Moran classes: high-high, high-low, low-high and low-low clusters or outliers.
MORAN_CLASSES = ("HH", "HL", "LH", "LL", "not_significant")
#: Gi* confidence levels as (label, FDR alpha), strictest first.
GI_LEVELS = (("99", 0.01), ("95", 0.05), ("90", 0.10))
#: esda's (PySAL) quadrant numbers: 1 HH, 2 LH, 3 LL, 4 HL.
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
WEIGHTS_COLUMNS = ["focal", "neighbor", "weight"]


def build_weights(areas: gpd.GeoDataFrame, id_column: str = "code") -> W:
    """Queen contiguity between areas; each island is joined to its nearest area.

    Parameters
    ----------
    areas : GeoDataFrame
        At least two polygons in EPSG:4326.
    id_column : str, default "code"
        Column of unique ids, used as strings.

    Returns
    -------
    W
        Binary weights whose ``id_order`` follows the rows of ``areas``; every area has at least
        one neighbour.
    """
    require_crs(areas)
    if id_column not in areas.columns:
        raise InvalidInputError(f"areas need an id column {id_column!r}")
    if len(areas) < 2:
        raise InvalidInputError(f"spatial weights need at least 2 areas, got {len(areas)}")
    if areas[id_column].isna().any() or areas.geometry.isna().any() or areas.is_empty.any():
        raise InvalidInputError(f"every area needs an {id_column!r} and a geometry")
    from libpysal.weights import KNN, Queen, W, attach_islands

    ids = [str(i) for i in areas[id_column]]
    repeated = pd.Index(ids)[pd.Index(ids).duplicated()].unique().tolist()
    if repeated:
        raise InvalidInputError(f"{id_column!r} repeats: {', '.join(repeated[:10])}")

    w = Queen.from_dataframe(areas, ids=ids, silence_warnings=True)
    if not w.islands:
        return w
    log.info("attaching %d island(s) to their nearest area: %s", len(w.islands), w.islands)
    points = areas.geometry.representative_point()
    metric = points.to_crs(utm_epsg(float(points.x.mean())))
    nearest = KNN(np.column_stack([metric.x, metric.y]), k=1, ids=ids, silence_warnings=True)
    attached = attach_islands(w, nearest, silence_warnings=True)
    # attach_islands lists a neighbour twice when two islands are each other's nearest
    # (Ko Chang's two subdistricts), and KNN hands back numpy strings.
    neighbors = {str(i): list(dict.fromkeys(str(j) for j in attached.neighbors[i])) for i in ids}
    return W(neighbors, id_order=ids, silence_warnings=True)


def weights_to_frame(w: W) -> pd.DataFrame:
    """The links of spatial weights as rows, for storage.

    Parameters
    ----------
    w : W
        Spatial weights.

    Returns
    -------
    DataFrame
        ``focal``, ``neighbor`` and ``weight``, one row per link, focal ids in ``w.id_order``.
        Areas without neighbours have no row: keep ``w.id_order`` to rebuild them.
    """
    focal: list[str] = []
    neighbor: list[str] = []
    weight: list[float] = []
    for i in w.id_order:
        focal.extend([i] * len(w.neighbors[i]))
        neighbor.extend(w.neighbors[i])
        weight.extend(float(v) for v in w.weights[i])
    return pd.DataFrame({"focal": focal, "neighbor": neighbor, "weight": weight})


def weights_from_frame(frame: pd.DataFrame, ids: list[str] | None = None) -> W:
    """Spatial weights rebuilt from the rows of :func:`weights_to_frame`.

    Parameters
    ----------
    frame : DataFrame
        Columns ``focal``, ``neighbor`` and ``weight``.
    ids : list of str, optional
        All ids in order (``w.id_order``); by default the focal ids in order of appearance,
        which loses areas without neighbours.

    Returns
    -------
    W
        The same weights: neighbours, weights and id order.
    """
    from libpysal.weights import W

    missing = [c for c in WEIGHTS_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"weights frame lacks column(s) {', '.join(missing)}")
    order = list(dict.fromkeys(frame["focal"])) if ids is None else list(ids)
    unknown = (set(frame["focal"]) | set(frame["neighbor"])) - set(order)
    if unknown:
        raise InvalidInputError(f"weights name unknown ids: {', '.join(sorted(unknown)[:10])}")
    neighbors: dict[str, list[str]] = {i: [] for i in order}
    weights: dict[str, list[float]] = {i: [] for i in order}
    for i, j, v in zip(frame["focal"], frame["neighbor"], frame["weight"], strict=True):
        neighbors[i].append(j)
        weights[i].append(float(v))
    return W(neighbors, weights, id_order=order, silence_warnings=True)


def _aligned(values: pd.Series, w: W) -> pd.Series:
    index = values.index.astype(str)
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique().tolist()
        raise InvalidInputError(f"values repeat ids: {', '.join(repeated[:10])}")
    missing = sorted(set(w.id_order) - set(index))
    extra = sorted(set(index) - set(w.id_order))
    if missing or extra:
        raise InvalidInputError(
            "values must cover exactly the areas of the weights: "
            f"{len(missing)} missing ({', '.join(missing[:10])}), "
            f"{len(extra)} extra ({', '.join(extra[:10])})"
        )
    if not pd.api.types.is_numeric_dtype(values):
        raise InvalidInputError(f"values must be numbers, got {values.dtype}")
    y = pd.Series(values.to_numpy(dtype=np.float64), index=index).reindex(w.id_order)
    if y.isna().any():
        raise InvalidInputError(f"values are missing for {int(y.isna().sum())} area(s)")
    # Getis-Ord G is a share of the total, defined for non-negative values.
    if (y < 0).any():
        raise InvalidInputError("values must be >= 0 for Getis-Ord Gi*")
    if y.nunique() < 2:
        raise InvalidInputError("values are all equal: there are no hot or cold spots to find")
    return y


def _local_statistics(
    y: NDArray[np.float64], w: W, permutations: int, seed: int
) -> tuple[esda.G_Local, esda.Moran_Local, dict[str, float]]:
    import esda

    # esda sets the transform of the W it is given and reseeds numpy's global generator:
    # work on a copy and put the generator back.
    local_w = copy.deepcopy(w)
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            # Archipelagos leave the weights disconnected by nature; esda warns on every call.
            warnings.filterwarnings("ignore", "The weights matrix is not fully connected")
            # G_Local and Moran_Local take no `alternative`; their p_sim stays esda's "directed"
            # one (the smaller tail), which a future major esda release will change.
            warnings.filterwarnings("ignore", "The alternative hypothesis", DeprecationWarning)
            started = time.perf_counter()
            gi = esda.G_Local(
                y,
                local_w,
                transform="B",
                star=True,
                permutations=permutations,
                seed=seed,
                n_jobs=1,
                keep_simulations=False,
            )
            seconds = {"gi": time.perf_counter() - started}
            started = time.perf_counter()
            lisa = esda.Moran_Local(
                y,
                local_w,
                transformation="R",
                permutations=permutations,
                seed=seed,
                n_jobs=1,
            )
            seconds["moran"] = time.perf_counter() - started
    finally:
        np.random.set_state(state)
    return gi, lisa, seconds


def hotspots(
    values: pd.Series,
    w: W,
    *,
    permutations: int = 999,
    seed: int = 12345,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Getis-Ord Gi* hot and cold spots and Local Moran clusters, with FDR correction.

    Parameters
    ----------
    values : Series
        One non-negative value per area, indexed by exactly the ids of ``w`` in any order.
    w : W
        Binary contiguity weights (:func:`build_weights`); left unchanged.
    permutations : int, default 999
        Conditional permutations for the pseudo p-values.
    seed : int, default 12345
        Seed of the permutations: the same seed gives the same p-values.
    alpha : float, default 0.05
        False discovery rate for the Local Moran classes.

    Returns
    -------
    DataFrame
        Indexed by id in ``w.id_order``: ``value``, ``gi_z``, ``gi_p``, ``gi_class`` (one of
        :data:`GI_CLASSES`, the strictest FDR level of 1, 5 or 10 % met), ``moran_i``,
        ``moran_z``, ``moran_p``, ``moran_quadrant`` and ``moran_class`` (the quadrant when
        significant at FDR ``alpha``). ``attrs["parameters"]`` holds the parameters and the
        FDR p-value cut-offs; ``attrs["seconds"]`` how long each statistic took.
    """
    import esda

    if permutations < 1:
        raise InvalidInputError(f"permutations must be at least 1, got {permutations}")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1, got {alpha}")
    y = _aligned(values, w)
    gi, lisa, seconds = _local_statistics(y.to_numpy(), w, permutations, seed)

    gi_z = np.asarray(gi.Zs, dtype=np.float64)
    gi_p = np.asarray(gi.p_sim, dtype=np.float64)
    gi_cutoffs = {label: float(esda.fdr(gi_p, level)) for label, level in GI_LEVELS}
    gi_class = np.full(len(y), "not_significant", dtype=object)
    # Loosest level first, so the strictest level met is written last.
    for label, _ in reversed(GI_LEVELS):
        significant = gi_p <= gi_cutoffs[label]
        gi_class[significant] = np.where(gi_z[significant] > 0, f"hot_{label}", f"cold_{label}")

    moran_p = np.asarray(lisa.p_sim, dtype=np.float64)
    moran_cutoff = float(esda.fdr(moran_p, alpha))
    quadrant = np.array([QUADRANTS[int(q)] for q in lisa.q], dtype=object)
    frame = pd.DataFrame(
        {
            "value": y.to_numpy(),
            "gi_z": gi_z,
            "gi_p": gi_p,
            "gi_class": gi_class,
            "moran_i": np.asarray(lisa.Is, dtype=np.float64),
            "moran_z": np.asarray(lisa.z_sim, dtype=np.float64),
            "moran_p": moran_p,
            "moran_quadrant": quadrant,
            "moran_class": np.where(moran_p <= moran_cutoff, quadrant, "not_significant"),
        },
        index=pd.Index(w.id_order, name=values.index.name),
    )
    frame.attrs["parameters"] = {
        "permutations": int(permutations),
        "seed": int(seed),
        "alpha": float(alpha),
        "gi_fdr_cutoffs": {str(level): gi_cutoffs[label] for label, level in GI_LEVELS},
        "moran_fdr_cutoff": moran_cutoff,
    }
    frame.attrs["seconds"] = seconds
    return frame
