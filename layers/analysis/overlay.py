"""Overlays of the survey with Geo-social layers: zones, nearest water source, raster values."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.errors import WindowError
from rasterio.io import DatasetReader
from rasterio.windows import Window, from_bounds
from sqlalchemy import Connection, text

from geo.errors import InvalidInputError
from geo.overlay import ZONAL_STATS, sample_points, zonal
from geo.vocab import CODE_LENGTH, ZONE_KINDS
from layers.analysis.stats import area_above, outlines_below, resolve_area
from layers.geography.geosocial import open_raster
from layers.store.partitions import latest_round
from layers.store.settings import Settings

# The households of a round and area inside a zone of ``kinds``: found from the zones (a few
# hundred parts, each through the households' spatial index), not by testing each household
# against the zones; once (MATERIALIZED), not again in each parallel worker.
INSIDE_ZONES = """
inside AS MATERIALIZED (
    SELECT DISTINCT h.household_id
    FROM layer_part z
    JOIN household h ON ST_Intersects(z.geom, h.geom)
    WHERE z.kind = ANY(:kinds) AND h.round = :round AND h.subdistrict_code LIKE :prefix
)"""
# Households and their problems per child area, and how many lie in a zone of ``kinds``.
ZONES = f"""
WITH {INSIDE_ZONES},
problems AS (
    SELECT p.household_id, count(*) AS n,
        count(*) FILTER (WHERE p.category = 'flood_drought_damage') AS flood_drought
    FROM problem p WHERE p.round = :round AND p.subdistrict_code LIKE :prefix
    GROUP BY p.household_id
)
SELECT left(h.subdistrict_code, :length) AS code,
    count(*) AS households,
    count(*) FILTER (WHERE i.household_id IS NOT NULL) AS households_in_zone,
    coalesce(sum(p.n), 0)::bigint AS problems,
    coalesce(sum(p.n) FILTER (WHERE i.household_id IS NOT NULL), 0)::bigint AS problems_in_zone,
    coalesce(sum(p.flood_drought) FILTER (WHERE i.household_id IS NOT NULL), 0)::bigint
        AS flood_drought_problems_in_zone
FROM household h
LEFT JOIN inside i USING (household_id)
LEFT JOIN problems p USING (household_id)
WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
GROUP BY 1 ORDER BY 1
"""  # noqa: S608 - a constant of this module
# For each household reporting ``category``: the nearest working water source, in metres in
# its UTM zone. KNN on the index gives candidates by degrees; the metric nearest is among the
# first few (a degree of longitude is only 3-4 % shorter than one of latitude in Thailand).
NEAREST_SOURCE = """
WITH wanted AS MATERIALIZED (
    -- The households reporting the category first: the search runs for them only.
    SELECT h.household_id, h.subdistrict_code, h.geom
    FROM household h
    JOIN problem p
        ON p.household_id = h.household_id AND p.round = h.round AND p.category = :category
    WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
)
SELECT w.household_id, w.subdistrict_code, ST_X(w.geom) AS lon, ST_Y(w.geom) AS lat,
       s.id AS source_id, s.name AS source_name, s.distance_m
FROM wanted w
CROSS JOIN LATERAL (
    SELECT c.id, c.name,
        ST_Distance(ST_Transform(c.geom, u.epsg), ST_Transform(w.geom, u.epsg)) AS distance_m
    FROM (
        SELECT f.id, f.name, f.geom FROM layer_feature f
        WHERE f.kind = 'water_sources' AND f.status = 'working'
        ORDER BY f.geom <-> w.geom LIMIT 8
    ) c,
    LATERAL (SELECT CASE WHEN ST_X(w.geom) < 102 THEN 32647 ELSE 32648 END AS epsg) u
    ORDER BY distance_m, c.id LIMIT 1
) s
ORDER BY w.household_id
"""


def zone_exposure(
    conn: Connection,
    *,
    kinds: tuple[str, ...],
    area: str,
    level: str,
    round_: int | None = None,
) -> pd.DataFrame:
    """Households and problems inside zones of any of ``kinds`` per child area of ``area``."""
    for kind in kinds:
        if kind not in ZONE_KINDS:
            raise InvalidInputError(f"kind: {kind!r} is not one of {', '.join(ZONE_KINDS)}")
    parent = area_above(conn, area, level)
    round_ = round_ or latest_round(conn)
    params = {
        "length": CODE_LENGTH[level],
        "kinds": list(kinds),
        "round": round_,
        "prefix": parent.code + "%",
    }
    result = conn.execute(text(ZONES), params)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    frame["share_in_zone_pct"] = (
        100 * frame["households_in_zone"] / frame["households"].where(frame["households"] > 0)
    ).round(2)
    return frame


def water_access(
    conn: Connection,
    *,
    area: str,
    round_: int | None = None,
    category: str = "no_clean_water",
) -> gpd.GeoDataFrame:
    """Each household reporting ``category`` with its nearest working water source."""
    unit = resolve_area(conn, area)
    round_ = round_ or latest_round(conn)
    params = {"category": category, "round": round_, "prefix": unit.code + "%"}
    result = conn.execute(text(NEAREST_SOURCE), params)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    return gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    )


def water_access_summary(access: gpd.GeoDataFrame, level: str) -> pd.DataFrame:
    """Per area: households without clean water, and how far their nearest source is."""
    codes = access["subdistrict_code"].str[: CODE_LENGTH[level]]
    grouped = access.groupby(codes)["distance_m"]
    return pd.DataFrame(
        {
            "households": grouped.size(),
            "median_m": grouped.median().round(1),
            "max_m": grouped.max().round(1),
            "beyond_1km": grouped.apply(lambda d: int((d > 1000).sum())),
        }
    ).rename_axis("code")


def sample_households(
    conn: Connection,
    settings: Settings,
    *,
    raster_id: str,
    area: str,
    round_: int | None = None,
) -> gpd.GeoDataFrame:
    """The households of an area with the raster's value under each."""
    unit = resolve_area(conn, area)
    round_ = round_ or latest_round(conn)
    points = gpd.read_postgis(
        text(
            "SELECT household_id, subdistrict_code, geom FROM household "
            "WHERE round = :round AND subdistrict_code LIKE :prefix ORDER BY household_id"
        ),
        conn,
        geom_col="geom",
        params={"round": round_, "prefix": unit.code + "%"},
    )
    with open_raster(conn, settings, raster_id) as dataset:
        points["value"] = sample_points(dataset, points.geometry)
    return points


def zonal_by_area(
    conn: Connection,
    settings: Settings,
    *,
    raster_id: str,
    area: str,
    level: str,
    stats: tuple[str, ...] = ZONAL_STATS,
) -> gpd.GeoDataFrame:
    """Statistics of a raster per child area of ``area``, with the areas' outlines."""
    units = outlines_below(conn, area, level)
    with open_raster(conn, settings, raster_id) as dataset:
        window = _cover(dataset, units)
        if window is None:  # no unit, or every unit off the raster: no cells
            figures = pd.DataFrame(
                {s: 0 if s == "count" else np.nan for s in stats}, index=units.index
            )
        else:
            figures = zonal(
                units,
                dataset.read(1, window=window),
                dataset.window_transform(window),
                dataset.crs,
                dataset.nodata,
                stats,
            )
    frame = pd.concat([units, figures.round(3)], axis=1)
    return gpd.GeoDataFrame(frame, geometry="geom", crs=4326)


def _cover(dataset: DatasetReader, units: gpd.GeoDataFrame) -> Window | None:
    """The cells under the units, whole cells outwards, within the raster (None: no cells)."""
    if units.empty:
        return None
    cover = from_bounds(*units.to_crs(dataset.crs).total_bounds, transform=dataset.transform)
    col, row = math.floor(cover.col_off), math.floor(cover.row_off)
    whole = Window(
        col,
        row,
        math.ceil(cover.col_off + cover.width) - col,
        math.ceil(cover.row_off + cover.height) - row,
    )
    try:
        return whole.intersection(Window(0, 0, dataset.width, dataset.height))
    except WindowError:
        return None
