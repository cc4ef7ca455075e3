"""A synthetic Re X-ray survey in the canonical long format, with planted defects and their key.

Households live in villages placed inside real subdistrict polygons; problems follow the
ministry's 2023 proportions: 26.2 % of households have at least one, about 3.19 each, 93.53 %
solved in the earlier round, and urban communities worse off than rural ones. Every value is
drawn from a seeded generator, and defects come from a separate stream, so the same seed gives
the same clean rows with or without defects.

Hardship is spatially structured (``geo.synth.clusters``): each subdistrict's relative risk comes
from its region, a little noise and the planted hot and cold clusters, listed in
``Synthetic.clusters``, the key that hotspot analysis should recover. The risks are then rescaled
(:func:`affected_probability`) so that, in expectation, the run's share of affected households is
still 26.2 % and urban households are still 1.3 times as likely as rural ones. The planted defects
and their key are ``geo.synth.defects``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.crs import UTM_47N, require_crs
from geo.intake.normalise import BE_OFFSET
from geo.synth.clusters import CLUSTER_COLUMNS, spatial_risk
from geo.synth.defects import plant_defects

AFFECTED_SHARE = 0.262
PROBLEMS_PER_AFFECTED = 3.19
SOLVED_SHARE_EARLIER = 0.9353
URBAN_RISK = 1.3
"""How much likelier an urban household is to have a problem than a rural one."""
HOUSEHOLDS_PER_VILLAGE = 120
SPREAD_DEG = 0.003
"""Spread of households around their village centre (about 300 m)."""
GPS_NOISE_DEG = 0.00005
#: Relative frequency of each category in the synthetic survey (others: 1).
CATEGORY_WEIGHTS = {
    "no_income": 3.0,
    "informal_debt": 2.0,
    "no_land_title": 1.5,
    "dilapidated_house": 1.5,
    "no_clean_water": 1.2,
    "elderly_disabled_no_care": 1.2,
    "flood_drought_damage": 1.0,
    "no_hygienic_toilet": 0.8,
    "illiteracy": 0.8,
    "child_out_of_school": 0.6,
    "drugs": 0.5,
    "no_house_registration": 0.4,
    "unfair_treatment": 0.4,
    "no_safety": 0.4,
}
FIRST_NAMES = ("สมชาย", "สมศรี", "บุญมี", "มาลี", "ประเสริฐ", "วันดี", "สุดา", "อำนาจ", "ทองใบ", "คำปุ่น")
LAST_NAMES = ("ใจดี", "ศรีสุข", "บุญมา", "แก้วมณี", "ทองคำ", "สายบุญ", "พรมมา", "วงศ์ไทย")
DETAILS = ("ต้องการความช่วยเหลือ", "แจ้งผู้ใหญ่บ้านแล้ว", "รอหน่วยงานตรวจสอบ", "")


@dataclass(frozen=True)
class Synthetic:
    """The generated rows, the defect key and the planted clusters.

    The rows have the canonical columns; row order = file order.
    """

    rows: pd.DataFrame
    key: pd.DataFrame
    """``row_number`` (1-based, as in the file), ``defect``, ``expect``."""
    clean: pd.DataFrame
    """The rows before defects were planted."""
    origin: NDArray[np.int64]
    """For each row of ``rows``, the index of the clean row it came from."""
    clusters: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CLUSTER_COLUMNS))
    """The planted clusters, one row per area: ``cluster`` (number), ``level`` (``district``:
    the whole district; ``subdistrict``: one member of a contiguous group), ``code``, ``kind``
    (``hot`` or ``cold``) and ``relative_risk`` (the multiplier of its households' risk)."""


def _random_points_in(
    polygon: shapely.Geometry, n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    minx, miny, maxx, maxy = polygon.bounds
    out = np.empty((0, 2))
    shapely.prepare(polygon)
    while len(out) < n:
        # Rounded as files hold them (6 decimals), and inside after rounding.
        x = rng.uniform(minx, maxx, max(2 * n, 16)).round(6)
        y = rng.uniform(miny, maxy, max(2 * n, 16)).round(6)
        inside = shapely.contains_xy(polygon, x, y)
        out = np.vstack([out, np.column_stack([x[inside], y[inside]])])
    return out[:n]


def national_ids(rng: np.random.Generator, n: int) -> NDArray[np.object_]:
    """Synthetic 13-digit ID numbers with valid check digits (first digit 1-8)."""
    digits = rng.integers(0, 10, size=(n, 12))
    digits[:, 0] = rng.integers(1, 9, size=n)
    check = (11 - (digits @ np.arange(13, 1, -1)) % 11) % 10
    full = np.column_stack([digits, check])
    return np.array(["".join(map(str, row)) for row in full], dtype=object)


def synthesize(
    subdistricts: gpd.GeoDataFrame,
    categories: pd.DataFrame,
    households: int,
    *,
    seed: int = 2567,
    rounds: tuple[int, int] = (2566, 2567),
    defects: float = 0.0,
) -> Synthetic:
    """Generate a synthetic survey.

    Parameters
    ----------
    subdistricts : GeoDataFrame
        ``code`` and polygon of the subdistricts to populate (EPSG:4326).
    categories : DataFrame
        ``code``, ``weight`` (relative frequency) and ``within_mandate`` of the taxonomy.
    households : int
        Households to create; each is surveyed in both rounds.
    rounds : (int, int)
        The earlier and the current round (Buddhist Era years).
    defects : float
        Share of rows that get one planted defect (0 to 1).
    """
    require_crs(subdistricts)
    rng = np.random.default_rng(seed)
    # The spatial structure has its own stream: every other value is drawn as it was without it.
    risk, clusters = spatial_risk(subdistricts, np.random.default_rng([seed, 2]))
    codes = subdistricts["code"].to_numpy(dtype=object)
    geoms = subdistricts.geometry.to_numpy()
    area = subdistricts.to_crs(UTM_47N).area.to_numpy()
    weight = np.sqrt(area) * rng.lognormal(0, 0.6, len(codes))
    mueang = np.array([c[2:4] == "01" for c in codes])
    urban_area = rng.random(len(codes)) < np.where(mueang, 0.6, 0.08)
    weight = np.where(urban_area, weight * 4, weight)
    per_sub = rng.multinomial(households, weight / weight.sum())

    frames = []
    for i in np.flatnonzero(per_sub):
        n = int(per_sub[i])
        villages = max(1, min(30, round(n / HOUSEHOLDS_PER_VILLAGE)))
        centres = _random_points_in(geoms[i], villages, rng)
        moo = rng.integers(0, villages, n)
        x = centres[moo, 0] + rng.normal(0, SPREAD_DEG, n)
        y = centres[moo, 1] + rng.normal(0, SPREAD_DEG, n)
        outside = ~shapely.contains_xy(geoms[i], x, y)
        x[outside], y[outside] = centres[moo[outside], 0], centres[moo[outside], 1]
        # Rounded to what the file holds, the point must still be inside.
        x, y = x.round(6), y.round(6)
        outside = ~shapely.contains_xy(geoms[i], x, y)
        x[outside], y[outside] = centres[moo[outside], 0], centres[moo[outside], 1]
        frames.append(
            pd.DataFrame(
                {
                    "subdistrict_code": codes[i],
                    "moo": moo + 1,
                    "x": x,
                    "y": y,
                    "urban": urban_area[i] ^ (rng.random(n) < 0.1),
                    "_risk": risk[i],
                    "_geom": geoms[i],
                }
            )
        )
    homes = pd.concat(frames, ignore_index=True)
    h = len(homes)
    serial = homes.groupby(["subdistrict_code", "moo"]).cumcount() + 1
    homes["household_id"] = (
        homes["subdistrict_code"]
        + homes["moo"].map("{:02d}".format)
        + "-"
        + serial.map("{:05d}".format)
    )
    homes["house_no"] = [
        f"{a}/{b}" if b else str(a)
        for a, b in zip(rng.integers(1, 400, h), rng.integers(0, 6, h), strict=True)
    ]
    homes["members"] = 1 + np.minimum(rng.poisson(2.2, h), 11)
    homes["head_national_id"] = national_ids(rng, h)
    homes["head_name"] = [
        f"{t}{f} {s}"
        for t, f, s in zip(
            rng.choice(["นาย", "นาง", "นางสาว"], h),
            rng.choice(FIRST_NAMES, h),
            rng.choice(LAST_NAMES, h),
            strict=True,
        )
    ]

    homes["_p"] = affected_probability(
        homes["_risk"].to_numpy(dtype=float), homes["urban"].to_numpy(dtype=bool)
    )
    rows = []
    for r, current in ((rounds[0], False), (rounds[1], True)):
        rows.append(_round_rows(homes, categories, r, current, rng))
    clean = pd.concat(rows, ignore_index=True)
    for column in ("lat", "lon"):
        clean[column] = clean[column].map("{:.6f}".format)
    clean = clean.astype(str)
    planted, key, origin = plant_defects(
        clean, subdistricts, categories, defects, np.random.default_rng([seed, 1])
    )
    return Synthetic(planted, key, clean, origin, clusters)


def affected_probability(
    risk: NDArray[np.float64], urban: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """Each household's chance of having a problem, from its relative risk and whether urban.

    The chance is ``min(1, scale * factor**urban * risk)``, with ``scale`` and ``factor``
    solved so that, in expectation over these households, :data:`AFFECTED_SHARE` of them are
    affected and urban households are :data:`URBAN_RISK` times as likely as rural ones, however
    the clusters and regions fall on towns and villages.

    Parameters
    ----------
    risk : ndarray
        Positive relative risks, one per household.
    urban : ndarray
        Whether each household is urban.

    Returns
    -------
    ndarray
        Probabilities between 0 and 1.
    """
    # Households share their subdistrict's risk: solve over the distinct (risk, urban) pairs.
    pairs, inverse, counts = np.unique(
        np.column_stack([risk, urban]), axis=0, return_inverse=True, return_counts=True
    )
    r, u, weight = pairs[:, 0], pairs[:, 1].astype(bool), counts / counts.sum()

    def probabilities(factor: float) -> NDArray[np.float64]:
        q = r * np.where(u, factor, 1.0)
        low, high = 0.0, 1.0 / q.min()
        for _ in range(64):
            middle = (low + high) / 2
            if weight @ np.minimum(1.0, middle * q) < AFFECTED_SHARE:
                low = middle
            else:
                high = middle
        p: NDArray[np.float64] = np.minimum(1.0, (low + high) / 2 * q)
        return p

    def urban_ratio(p: NDArray[np.float64]) -> float:
        return float((weight[u] @ p[u] / weight[u].sum()) / (weight[~u] @ p[~u] / weight[~u].sum()))

    if u.all() or not u.any():
        return probabilities(1.0)[inverse.ravel()]
    # Raising the urban factor lowers the scale, so the ratio grows with it: bisect on its log.
    low, high = np.log(1e-3), np.log(1e3)
    for _ in range(64):
        middle = (low + high) / 2
        if urban_ratio(probabilities(float(np.exp(middle)))) < URBAN_RISK:
            low = middle
        else:
            high = middle
    return probabilities(float(np.exp((low + high) / 2)))[inverse.ravel()]


def _round_rows(
    homes: pd.DataFrame,
    categories: pd.DataFrame,
    round_: int,
    current: bool,
    rng: np.random.Generator,
) -> pd.DataFrame:
    h = len(homes)
    urban = homes["urban"].to_numpy(dtype=bool)
    affected = rng.random(h) < homes["_p"].to_numpy(dtype=float)
    k = len(categories)
    count = np.minimum(1 + rng.poisson(PROBLEMS_PER_AFFECTED - 1, h), k)
    # Gumbel top-k: distinct categories per household, drawn by weight.
    keys = np.log(categories["weight"].to_numpy(dtype=float)) + rng.gumbel(size=(h, k))
    order = np.argsort(-keys, axis=1)
    ce_year = round_ - BE_OFFSET
    reported = pd.Timestamp(f"{ce_year - 1}-10-01") + pd.to_timedelta(
        rng.integers(0, 150, h), unit="D"
    )
    base = pd.DataFrame(
        {
            "household_id": homes["household_id"],
            "round": round_,
            "house_no": homes["house_no"],
            "moo": homes["moo"],
            "subdistrict_code": homes["subdistrict_code"],
            "members": homes["members"],
            "urban": np.where(urban, "true", "false"),
            "lat": homes["y"] + rng.normal(0, GPS_NOISE_DEG, h),
            "lon": homes["x"] + rng.normal(0, GPS_NOISE_DEG, h),
            "surveyed_on": reported.strftime("%Y-%m-%d"),
            "head_national_id": homes["head_national_id"],
            "head_name": homes["head_name"],
        }
    )
    # A fix that the noise (or rounding) moved out of the household's subdistrict keeps the
    # household's own position: clean rows are never outside their subdistrict.
    fixed = shapely.points(base["lon"].round(6), base["lat"].round(6))
    stray = ~shapely.contains(homes["_geom"].to_numpy(), fixed)
    base.loc[stray, "lon"], base.loc[stray, "lat"] = homes["x"][stray], homes["y"][stray]
    base["_order"] = np.arange(h)
    healthy = base[~affected].assign(
        problem_code="", problem_detail="", status="", reported_on="", updated_on="", resolved_on=""
    )
    who = np.repeat(np.flatnonzero(affected), count[affected])
    rank = (
        np.concatenate([np.arange(c) for c in count[affected]])
        if affected.any()
        else np.array([], dtype=int)
    )
    chosen = order[who, rank]
    problems = base.iloc[who].copy()
    codes = categories["code"].to_numpy(dtype=object)
    problems["problem_code"] = codes[chosen]
    problems["problem_detail"] = rng.choice(DETAILS, len(who))
    outside = ~categories["within_mandate"].to_numpy(dtype=bool)[chosen]
    problems["status"] = _statuses(rng, len(who), outside, current)
    solved = problems["status"].str.startswith("solved").to_numpy()
    problems["reported_on"] = reported[who].strftime("%Y-%m-%d")
    resolved = reported[who] + pd.to_timedelta(rng.integers(10, 200, len(who)), unit="D")
    problems["resolved_on"] = np.where(solved, resolved.strftime("%Y-%m-%d"), "")
    problems["updated_on"] = np.where(solved, problems["resolved_on"], problems["reported_on"])
    out = pd.concat([healthy, problems]).sort_values(["_order", "problem_code"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def _statuses(
    rng: np.random.Generator, n: int, outside: NDArray[np.bool_], current: bool
) -> NDArray[np.object_]:
    if current:
        status = rng.choice(
            ["open", "in_progress", "solved_by_agency"], n, p=[0.5, 0.35, 0.15]
        ).astype(object)
        status[outside & (status == "in_progress")] = "referred"
        return status
    # An exact quota rather than a coin per problem: any sample, however small, reproduces the
    # ministry's 93.53 % to the nearest problem.
    solved = np.zeros(n, dtype=bool)
    solved[rng.permutation(n)[: round(n * SOLVED_SHARE_EARLIER)]] = True
    status = np.where(rng.random(n) < 0.7, "solved_by_agency", "solved_by_household").astype(object)
    rest = rng.choice(["in_progress", "closed_unsolved"], n, p=[0.6, 0.4]).astype(object)
    rest[outside] = "referred"
    status[~solved] = rest[~solved]
    return status


def to_csv_bytes(rows: pd.DataFrame, key: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    """The survey as CSV bytes; rows the key marks ``cp874_text`` are written in cp874."""
    cp874_rows = set(key.loc[key["defect"] == "cp874_text", "row_number"])
    lines = rows.to_csv(index=False, lineterminator="\n").split("\n")
    out = bytearray()
    for number, line in enumerate(lines):
        if not line:
            continue
        codec = "cp874" if number in cp874_rows or encoding == "cp874" else "utf-8"
        out += (line + "\n").encode(codec)
    return bytes(out)
