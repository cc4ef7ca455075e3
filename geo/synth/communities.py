"""A SYNTHETIC municipality's communities, their planning meetings and the issues raised.

Shaped like Phibun Mangsahan's: 17 communities, 205 issues in one plan year.

Nothing here is Phibun's real data: the areas are Voronoi cells of random points around the
municipality's centre, the names say they are synthetic, and the issues are drawn from the
taxonomy with a seeded spread of states.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.communities import ISSUE_STATES
from geo.crs import utm_epsg

#: A plan year's issues by state, as a municipality reports them a year on (shares).
STATE_SHARES = {
    "raised": 0.12,
    "adopted": 0.2,
    "in_progress": 0.24,
    "done": 0.3,
    "not_adopted": 0.14,
}
#: What meetings raise most: roads, water, drains, lights, waste (the living-conditions and
#: public-services categories), then the rest.
WEIGHTS = {"living_conditions": 4.0, "public_services": 3.0, "income": 2.0, "health": 1.5}


def synth_communities(
    area: gpd.GeoDataFrame, prefix: str, n: int, rng: np.random.Generator, radius_m: float = 2500
) -> gpd.GeoDataFrame:
    """``n`` communities tiling the part of ``area`` within ``radius_m`` of its centre.

    Parameters
    ----------
    area
        One polygon (the municipality's subdistrict), in any CRS.
    prefix
        The codes' first part: codes are ``{prefix}-01`` … ``{prefix}-{n}``.

    Returns
    -------
    GeoDataFrame
        ``code``, ``name_th``, ``name_en``, ``geometry`` (polygons, EPSG:4326).
    """
    if area.crs is None:
        raise ValueError("area has no CRS")
    shape = area.to_crs(4326).union_all()
    epsg = utm_epsg(shape.centroid.x)
    local = gpd.GeoSeries([shape], crs=4326).to_crs(epsg).iloc[0]
    town = local.intersection(local.centroid.buffer(radius_m))
    seeds: list[shapely.Point] = []
    xmin, ymin, xmax, ymax = town.bounds
    while len(seeds) < n:
        p = shapely.Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        if town.contains(p) and all(p.distance(q) > radius_m / 6 for q in seeds):
            seeds.append(p)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=town)
    pieces = [c.intersection(town) for c in cells.geoms]
    # Voronoi cells come in no set order: number them from the north-west, as a map is read.
    order = sorted(range(n), key=lambda i: (-round(pieces[i].centroid.y, -2), pieces[i].centroid.x))
    rows = [
        {
            "code": f"{prefix}-{k + 1:02d}",
            "name_th": f"ชุมชนที่ {k + 1} (สังเคราะห์)",
            "name_en": f"Community {k + 1} (synthetic)",
            "geometry": pieces[i],
        }
        for k, i in enumerate(order)
    ]
    return gpd.GeoDataFrame(rows, crs=epsg).to_crs(4326)


def synth_issues(
    communities: gpd.GeoDataFrame,
    categories: pd.DataFrame,
    n: int,
    year_be: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One planning meeting per community in the plan year, and ``n`` issues raised in them.

    Parameters
    ----------
    categories
        ``code``, ``name_th``, ``dimension`` of the taxonomy.
    year_be
        The plan year (Buddhist Era): meetings are held from its first month (October before,
        as the fiscal year starts).

    Returns
    -------
    meetings, issues
        ``meetings``: ``community``, ``held_on``, ``attendance``. ``issues``: ``community``,
        ``category``, ``detail``, ``votes``, ``priority``, ``state``, ``lon``, ``lat``.
    """
    start = dt.date(year_be - 543 - 1, 10, 1)
    meetings = pd.DataFrame(
        {
            "community": communities["code"].to_numpy(),
            "held_on": [
                start + dt.timedelta(days=int(d)) for d in rng.integers(0, 60, len(communities))
            ],
            "attendance": rng.integers(25, 140, len(communities)),
        }
    )
    # Every community raises some; the rest fall where people speak up most.
    share = rng.dirichlet(np.full(len(communities), 3.0))
    counts = np.ones(len(communities), dtype=int) * 3
    counts += rng.multinomial(n - counts.sum(), share)
    weights = categories["dimension"].map(WEIGHTS).fillna(1.0).to_numpy()
    weights = weights / weights.sum()
    states = list(STATE_SHARES)
    p_state = np.array([STATE_SHARES[s] for s in states])
    rows = []
    for (_, community), count in zip(communities.iterrows(), counts, strict=True):
        for _ in range(count):
            where = _inside(community.geometry, rng)
            category = categories.iloc[int(rng.choice(len(categories), p=weights))]
            rows.append(
                {
                    "community": community["code"],
                    "category": category["code"],
                    "detail": f"{category['name_th']} ในเขต{community['name_th']} (ประเด็นสังเคราะห์)",
                    "votes": int(rng.integers(0, 60)),
                    "priority": int(rng.integers(1, 6)),
                    "state": states[int(rng.choice(len(states), p=p_state))],
                    "lon": where.x,
                    "lat": where.y,
                }
            )
    issues = pd.DataFrame(rows)
    assert set(issues["state"]) <= set(ISSUE_STATES)
    return meetings, issues


def _inside(shape: shapely.Geometry, rng: np.random.Generator) -> shapely.Point:
    """A point drawn uniformly inside ``shape``."""
    xmin, ymin, xmax, ymax = shape.bounds
    while True:
        p = shapely.Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        if shape.contains(p):
            return p
