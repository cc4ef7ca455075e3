"""Density and hotspot analysis over the stored survey: gathers data, calls ``geo``, stores runs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import rasterio
from rasterio.warp import transform_bounds
from sqlalchemy import Connection, and_, delete, func, insert, select, text

from geo.access import Scope
from geo.density import Density, h3_resolution, hex_counts, kernel_density
from geo.errors import InvalidInputError, NotFoundError
from geo.hotspots import build_weights, hotspots, weights_from_frame, weights_to_frame
from geo.vocab import HOTSPOT_INDICATORS, SOLVED
from layers.access import scope as scoped
from layers.analysis.stats import resolve_area, rollup
from layers.geography.geosocial import raster_store, write_geotiff
from layers.store.codes import within
from layers.store.db import read_frame
from layers.store.models import (
    AdminUnit,
    HotspotResult,
    HotspotRun,
    Household,
    Problem,
    ProblemCategory,
    Raster,
    SpatialWeights,
)
from layers.store.partitions import latest_round
from layers.store.settings import Settings

if TYPE_CHECKING:  # PySAL is imported where it is used (geo.hotspots says why)
    from libpysal.weights import W

log = logging.getLogger(__name__)

WEIGHTS_METHOD = "queen+nearest-for-islands"
HOUSEHOLD_TYPES = {
    "household_id": pa.string(),
    "subdistrict_code": pa.string(),
    "lon": pa.float64(),
    "lat": pa.float64(),
    "problems": pa.int64(),
    "solved": pa.int64(),
}
BOUNDARIES_DIGEST = """
SELECT md5(string_agg(code || ':' || md5(ST_AsBinary(geom)), ',' ORDER BY code))
FROM admin_unit WHERE level = :level AND geom IS NOT NULL
"""


@dataclass(frozen=True)
class Filters:
    """Which problems an analysis counts: of one dimension, category or status (None: any)."""

    dimension: str | None = None
    category: str | None = None
    status: str | None = None


def households(
    conn: Connection,
    area: str,
    round_: int | None = None,
    filters: Filters = Filters(),
    scope: Scope | None = None,
) -> gpd.GeoDataFrame:
    """The households of an area as points, with ``problems`` and ``solved`` counts.

    With a ``scope``, only what it may see: its households, and of their problems its own.
    """
    unit = resolve_area(conn, area)
    round_ = round_ or latest_round(conn)
    counted = [Problem.household_id == Household.household_id, Problem.round == Household.round]
    if filters.category is not None:
        counted.append(Problem.category == filters.category)
    if filters.status is not None:
        counted.append(Problem.status == filters.status)
    if filters.dimension is not None:
        of_dimension = select(ProblemCategory.code).where(
            ProblemCategory.dimension == filters.dimension
        )
        counted.append(Problem.category.in_(of_dimension.scalar_subquery()))
    query = select(
        Household.household_id,
        Household.subdistrict_code,
        # Coordinates as numbers: points built from arrays, not one WKB value decoded per row.
        func.ST_X(Household.geom).label("lon"),
        func.ST_Y(Household.geom).label("lat"),
        func.count(Problem.id).label("problems"),
        func.count(Problem.id).filter(Problem.status.in_(SOLVED)).label("solved"),
    ).where(
        Household.round == round_,
        within(Household.subdistrict_code, unit.code),
    )
    if scope is not None:
        counted.append(scoped.problems(scope))
        query = query.where(scoped.denominator(scope))
    query = query.outerjoin(Problem, and_(*counted)).group_by(
        Household.household_id, Household.round
    )
    frame = read_frame(conn, query, HOUSEHOLD_TYPES)
    lon, lat = frame.pop("lon"), frame.pop("lat")
    points = gpd.points_from_xy(lon, lat)
    points[lon.isna().to_numpy()] = None  # a household without a position
    return gpd.GeoDataFrame(frame, geometry=points, crs=4326).rename_geometry("geom")


def hexagons(
    conn: Connection,
    area: str,
    round_: int | None = None,
    filters: Filters = Filters(),
    resolution: int | None = None,
    scope: Scope | None = None,
) -> gpd.GeoDataFrame:
    """Counts and rates per H3 cell; the resolution follows the area's size unless given."""
    if resolution is None:
        size = area_km2(conn, area)
        resolution = h3_resolution(size)
    frame = hex_counts(households(conn, area, round_, filters, scope), resolution)
    frame.attrs["resolution"] = resolution
    return frame


def density_surface(
    conn: Connection,
    settings: Settings,
    area: str,
    round_: int | None = None,
    filters: Filters = Filters(),
    *,
    cell_m: float = 250.0,
    bandwidth_m: float | None = None,
) -> dict[str, Any]:
    """A kernel density GeoTIFF of problems (points weighted by their count), registered.

    It is stored as ``density-<area>-<round>`` (replacing an earlier one of the same name).
    """
    round_ = round_ or latest_round(conn)
    points = households(conn, area, round_, filters)
    points = points[points["problems"] > 0]
    surface = kernel_density(points, cell_m=cell_m, bandwidth_m=bandwidth_m, weights="problems")
    raster_id = f"density-{area or 'th'}-{round_}"
    store = raster_store(settings)
    store.mkdir(parents=True, exist_ok=True)
    path = store / f"{raster_id}.tif"
    description = (
        f"problems per km², Gaussian kernel, bandwidth {surface.bandwidth_m:.0f} m, "
        f"cell {surface.cell_m:.0f} m, EPSG:{surface.crs_epsg}, {surface.points} households"
    )
    write_density(surface, path, description)
    conn.execute(delete(Raster).where(Raster.id == raster_id))
    with rasterio.open(path) as written:
        west, south, east, north = transform_bounds(written.crs, "EPSG:4326", *written.bounds)
        conn.execute(
            insert(Raster).values(
                id=raster_id,
                kind="problem_density",
                name=f"Problem density {area or 'Thailand'} {round_}",
                file_name=path.name,
                stored_as=path.name,
                sha256="",
                crs=written.crs.to_string(),
                width=written.width,
                height=written.height,
                bands=1,
                dtype="float32",
                nodata=None,
                resolution=list(written.res),
                units="problems per km²",
                description=description,
                footprint=func.ST_MakeEnvelope(west, south, east, north, 4326),
            )
        )
    return {
        "id": raster_id,
        "description": description,
        "bandwidth_m": surface.bandwidth_m,
        "cell_m": surface.cell_m,
        "crs": f"EPSG:{surface.crs_epsg}",
        "points": surface.points,
    }


def write_density(surface: Density, path: Path, description: str) -> None:
    """Write a density surface as a GeoTIFF at ``path``, tagged with how it was made."""
    write_geotiff(
        path,
        surface.values,
        crs_epsg=surface.crs_epsg,
        transform=surface.transform,
        DESCRIPTION=description,
        BANDWIDTH_M=str(surface.bandwidth_m),
        CELL_M=str(surface.cell_m),
        UNITS="problems per km2",
    )


def area_km2(conn: Connection, area: str) -> float:
    """The area's size in km² (Thailand's for '')."""
    if not area:
        return float(
            conn.scalar(select(func.sum(AdminUnit.area_km2)).where(AdminUnit.level == "province"))
            or 513_000.0
        )
    size = conn.scalar(select(AdminUnit.area_km2).where(AdminUnit.code == area))
    if size is None:
        raise NotFoundError(f"area {area!r} has no polygon, so no size to choose cells by")
    return float(size)


def weights(conn: Connection, level: str = "subdistrict") -> tuple[int, W]:
    """Contiguity weights of a level's units: built once per boundary version and stored."""
    digest = conn.scalar(text(BOUNDARIES_DIGEST), {"level": level})
    if digest is None:
        raise InvalidInputError(f"no {level} polygons are loaded")
    stored = conn.execute(
        select(SpatialWeights.__table__).where(
            SpatialWeights.level == level,
            SpatialWeights.method == WEIGHTS_METHOD,
            SpatialWeights.boundaries == digest,
        )
    ).one_or_none()
    if stored is not None:
        frame = pd.DataFrame(
            {
                "focal": [stored.ids[i] for i in stored.focal],
                "neighbor": [stored.ids[i] for i in stored.neighbor],
                "weight": 1.0,
            }
        )
        return stored.id, weights_from_frame(frame, ids=list(stored.ids))
    started = time.perf_counter()
    units = gpd.read_postgis(
        select(AdminUnit.code, AdminUnit.geom)
        .where(AdminUnit.level == level, AdminUnit.geom.is_not(None))
        .order_by(AdminUnit.code),
        conn,
        geom_col="geom",
    )
    w = build_weights(units, "code")
    frame = weights_to_frame(w)
    ids = [str(i) for i in w.id_order]
    position = {code: i for i, code in enumerate(ids)}
    weights_id = conn.scalar(
        insert(SpatialWeights)
        .values(
            level=level,
            method=WEIGHTS_METHOD,
            boundaries=digest,
            ids=ids,
            focal=[position[c] for c in frame["focal"]],
            neighbor=[position[c] for c in frame["neighbor"]],
            seconds=time.perf_counter() - started,
        )
        .returning(SpatialWeights.id)
    )
    log.info(
        "built %s weights for %d units in %.1f s", level, len(ids), time.perf_counter() - started
    )
    assert weights_id is not None
    return weights_id, w


def run_hotspots(
    conn: Connection,
    *,
    area: str = "",
    level: str = "subdistrict",
    round_: int | None = None,
    indicator: str = "problems_per_1000",
    dimension: str | None = None,
    permutations: int = 999,
    seed: int = 12345,
    alpha: float = 0.05,
) -> tuple[int, pd.DataFrame]:
    """Gi* and Local Moran of an indicator over the surveyed units of an area; stored as a run.

    Units with no surveyed household have no rate and are left out (with their links).
    """
    if indicator not in HOTSPOT_INDICATORS:
        raise InvalidInputError(
            f"indicator: {indicator!r} is not one of {', '.join(HOTSPOT_INDICATORS)}"
        )
    round_ = round_ or latest_round(conn)
    figures = pd.DataFrame(
        rollup(conn, area=area, level=level, round_=round_, dimension=dimension)
    ).set_index("code")
    figures = figures[figures["households"] > 0]
    # From the counts, not the rounded rates the roll-up reports.
    households = figures["households"].astype(float)
    problems = figures["problems"].astype(float)
    figures["problems_per_1000"] = 1000 * problems / households
    figures["affected_per_1000"] = 1000 * figures["households_with_problems"] / households
    unsolved = (problems - figures["solved"]) / problems.where(problems > 0)
    figures["unsolved_pct"] = (100 * unsolved).fillna(0.0)
    weights_id, w = weights(conn, level)
    codes = [c for c in w.id_order if c in figures.index]
    if len(codes) < 3:
        raise InvalidInputError(f"hotspots need at least 3 surveyed {level}s, found {len(codes)}")
    if len(codes) < len(w.id_order):
        from libpysal.weights import w_subset

        w = w_subset(w, codes, silence_warnings=True)
    started = time.perf_counter()
    values = figures.loc[codes, indicator].astype(float)
    result = hotspots(values, w, permutations=permutations, seed=seed, alpha=alpha)
    seconds = time.perf_counter() - started
    parameters = {
        **result.attrs["parameters"],
        "dimension": dimension,
        "weights": WEIGHTS_METHOD,
        "units": len(codes),
        "seconds": result.attrs["seconds"],
    }
    run_id = conn.scalar(
        insert(HotspotRun)
        .values(
            level=level,
            area=area,
            round=round_,
            indicator=indicator,
            weights_id=weights_id,
            parameters=parameters,
            seconds=seconds,
        )
        .returning(HotspotRun.id)
    )
    stored = result.reset_index(names="code")
    stored = stored.astype(object).where(stored.notna(), None)
    conn.execute(
        insert(HotspotResult),
        [{"run_id": run_id, **row} for row in stored.to_dict("records")],
    )
    assert run_id is not None
    return run_id, result


def hotspot_layer(conn: Connection, run_id: int | None = None) -> gpd.GeoDataFrame:
    """A stored run's results with the units' outlines; the latest run when none is named."""
    run_id = run_id or conn.scalar(select(func.max(HotspotRun.id)))
    run = conn.execute(select(HotspotRun.__table__).where(HotspotRun.id == run_id)).one_or_none()
    if run is None:
        raise NotFoundError(f"no hotspot run {run_id}" if run_id else "no hotspot run yet")
    frame = gpd.read_postgis(
        text(
            "SELECT r.*, u.name_th, u.name_en, u.geom FROM hotspot_result r "
            "JOIN admin_unit u ON u.code = r.code WHERE r.run_id = :run ORDER BY r.code"
        ),
        conn,
        geom_col="geom",
        params={"run": run_id},
    )
    frame.attrs["run"] = {
        "id": run.id,
        "level": run.level,
        "area": run.area,
        "round": run.round,
        "indicator": run.indicator,
        "parameters": run.parameters,
        "seconds": run.seconds,
        "created_at": run.created_at.isoformat(),
    }
    return frame
