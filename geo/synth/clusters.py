"""Where hardship is: region, subdistrict noise and planted hot and cold clusters.

Hardship is spatially structured, as it is in TPMAP: a household's risk of having a problem is
the product of its region's multiplier (:data:`REGION_RISK`), a little unstructured noise per
subdistrict, and the relative risk of a planted hot or cold cluster (whole districts, or groups
of contiguous subdistricts) when it lives in one; noise and clusters average to 1 over each
province, so the region alone sets a province's level. The survey then rescales the risks
(``geo.synth.survey.affected_probability``) so that, in expectation, the run's share of affected
households is still 26.2 % and urban households are still 1.3 times as likely as rural ones. The
clusters are listed in ``Synthetic.clusters``, the
key that hotspot analysis should recover.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

REGION_RISK = {
    "bangkok": 0.6,
    "central": 0.8,
    "east": 0.85,
    "west": 0.9,
    "south": 1.0,
    "north": 1.15,
    "northeast": 1.3,
    "deep_south": 1.45,
}
"""Relative household risk by region, from Bangkok (best off) to the Northeast and the deep South
(TPMAP's poorest provinces); a run of one province rescales its own level away."""
SUBDISTRICT_NOISE = 0.1
"""Standard deviation of each subdistrict's unstructured log-risk: areas differ even outside
clusters, without any spatial pattern."""
HOT_RISK = 2.5
"""Relative risk of every household in a planted hot cluster (a district or subdistricts)."""
COLD_RISK = 0.4
"""Relative risk of every household in a planted cold cluster (a district or subdistricts)."""
DISTRICTS_PER_HOT = 25
"""One hot district is planted for every this many districts of the run (rounded)."""
DISTRICTS_PER_COLD = 30
"""One cold district is planted for every this many districts of the run (rounded)."""
SUBDISTRICTS_PER_HOT = 75
"""One hot cluster of subdistricts is planted for every this many subdistricts (rounded)."""
SUBDISTRICTS_PER_COLD = 150
"""One cold cluster of subdistricts is planted for every this many subdistricts (rounded)."""
CLUSTER_SUBDISTRICTS = (7, 12)
"""Smallest and largest number of contiguous subdistricts in a planted subdistrict cluster."""
MIN_DISTRICT_SUBDISTRICTS = 6
"""A district is planted whole only if it has at least this many subdistricts in the run."""
#: The columns of ``Synthetic.clusters`` and of the ``.clusters.csv`` file.
CLUSTER_COLUMNS = ["cluster", "level", "code", "kind", "relative_risk"]


def region(province: str) -> str:
    """The region (a key of :data:`REGION_RISK`) of a province, from its two-digit code.

    The registry numbers provinces region by region: 10 Bangkok, 11-19 the centre, 20-27 the
    east, 30-49 the Northeast, 50-67 the north, 70-77 the west, 80-93 the south and 94-96
    (Pattani, Yala, Narathiwat) the deep South.
    """
    number = int(province[:2])
    for last, name in (
        (10, "bangkok"),
        (19, "central"),
        (29, "east"),
        (49, "northeast"),
        (69, "north"),
        (79, "west"),
        (93, "south"),
    ):
        if number <= last:
            return name
    return "deep_south"


def spatial_risk(
    subdistricts: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[NDArray[np.float64], pd.DataFrame]:
    """Each subdistrict's relative risk of hardship, and the clusters planted to shape it.

    Parameters
    ----------
    subdistricts : GeoDataFrame
        ``code`` and polygon of the subdistricts of the run (EPSG:4326).
    rng : Generator
        The stream the clusters and the noise are drawn from.

    Returns
    -------
    risk : ndarray
        One multiplier per row of ``subdistricts``: the region's, times noise × the cluster's
        relative risk (1 outside clusters) divided by its mean over the province's
        subdistricts. Only ratios matter: :func:`~geo.synth.survey.affected_probability` rescales.
    clusters : DataFrame
        The planted clusters (:data:`CLUSTER_COLUMNS`, see :class:`~geo.synth.survey.Synthetic`).
    """
    codes = subdistricts["code"].astype(str).tolist()
    region_risk = np.array([REGION_RISK[region(c)] for c in codes])
    noise = rng.lognormal(0.0, SUBDISTRICT_NOISE, len(codes))
    clusters = plant_clusters(subdistricts, rng)
    members = planted_subdistricts(clusters, codes)
    local = noise * members["relative_risk"].reindex(codes, fill_value=1.0).to_numpy(dtype=float)
    # Clusters move hardship within a province, and the region alone sets the province's level:
    # otherwise a few hot clusters more in the south than in the Northeast would turn the
    # gradient over.
    province = pd.Series(local).groupby([c[:2] for c in codes]).transform("mean").to_numpy()
    return region_risk * local / province, clusters


def plant_clusters(subdistricts: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Choose hot and cold districts and clusters of contiguous subdistricts.

    Whole districts come first (hot, then cold), then groups of
    :data:`CLUSTER_SUBDISTRICTS` contiguous subdistricts, which may cross district lines. How
    many of each scales with the run (:data:`DISTRICTS_PER_HOT` and the like). No two clusters
    share or touch a subdistrict, so that each one stands out against ordinary neighbours.

    Parameters
    ----------
    subdistricts : GeoDataFrame
        ``code`` and polygon of the subdistricts of the run (EPSG:4326).
    rng : Generator
        The stream the choices are drawn from.

    Returns
    -------
    DataFrame
        :data:`CLUSTER_COLUMNS`, one row per planted district or member subdistrict, numbered
        from 1 in the order planted.
    """
    codes = subdistricts["code"].astype(str).tolist()
    n = len(codes)
    geoms = subdistricts.geometry.to_numpy()
    # Contiguity as Queen weights see it: polygons that meet, at an edge or a corner.
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i != j:
            neighbours[i].add(j)
    blocked = np.zeros(n, dtype=bool)  # in a cluster or next to one
    rows: list[tuple[int, str, str, str, float]] = []

    def take(members: list[int], level: str, kind: str, risk: float) -> None:
        number = rows[-1][0] + 1 if rows else 1
        if level == "district":
            rows.append((number, level, codes[members[0]][:4], kind, risk))
        else:
            rows.extend((number, level, codes[m], kind, risk) for m in sorted(members))
        for m in members:
            blocked[m] = True
            blocked[list(neighbours[m])] = True

    by_district: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        by_district.setdefault(code[:4], []).append(i)
    whole = [m for _, m in sorted(by_district.items()) if len(m) >= MIN_DISTRICT_SUBDISTRICTS]
    for kind, per, risk in (
        ("hot", DISTRICTS_PER_HOT, HOT_RISK),
        ("cold", DISTRICTS_PER_COLD, COLD_RISK),
    ):
        wanted = _how_many(len(by_district), per)
        for d in rng.permutation(len(whole)):
            if wanted == 0:
                break
            if not blocked[whole[d]].any():
                take(whole[d], "district", kind, risk)
                wanted -= 1

    smallest, largest = CLUSTER_SUBDISTRICTS
    for kind, per, risk in (
        ("hot", SUBDISTRICTS_PER_HOT, HOT_RISK),
        ("cold", SUBDISTRICTS_PER_COLD, COLD_RISK),
    ):
        wanted = _how_many(n, per)
        for start in rng.permutation(n):
            if wanted == 0:
                break
            # Only where there is room: a start hemmed in by other clusters grows a thin snake
            # that Gi* cannot see, around holes that it sees as hot.
            if blocked[start] or blocked[list(neighbours[start])].any():
                continue
            size = int(rng.integers(smallest, largest + 1))
            members = [int(start)]
            while len(members) < size:
                frontier = sorted(
                    {j for m in members for j in neighbours[m] if not blocked[j]} - set(members)
                )
                if not frontier:
                    break
                # Grown compact, as real pockets of hardship are: the subdistricts that touch
                # the most members first, so that members are mostly each other's neighbours.
                touching = np.array([len(neighbours[j] & set(members)) for j in frontier])
                best = [j for j, t in zip(frontier, touching, strict=True) if t == touching.max()]
                members.append(best[int(rng.integers(len(best)))])
            if len(members) >= smallest:
                take(members, "subdistrict", kind, risk)
                wanted -= 1
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def planted_subdistricts(clusters: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """The subdistricts inside planted clusters: a district's row stands for all of its own.

    Parameters
    ----------
    clusters : DataFrame
        ``Synthetic.clusters``, or the ``.clusters.csv`` file written beside a survey.
    codes : list of str
        The subdistricts of the run.

    Returns
    -------
    DataFrame
        Indexed by the code of each subdistrict in a cluster: ``cluster``, ``level``, ``kind``
        and ``relative_risk``.
    """
    columns = ["cluster", "level", "kind", "relative_risk"]
    by_area = {
        (str(row.level), str(row.code)): (
            int(row.cluster),
            str(row.level),
            str(row.kind),
            float(row.relative_risk),
        )
        for row in clusters.itertuples(index=False)
    }
    members = {}
    for code in map(str, codes):
        found = by_area.get(("subdistrict", code)) or by_area.get(("district", code[:4]))
        if found:
            members[code] = found
    frame = pd.DataFrame(list(members.values()), index=list(members), columns=columns)
    return frame.rename_axis("code").sort_index()


def _how_many(units: int, per: int) -> int:
    return int(units / per + 0.5)
