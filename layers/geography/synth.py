"""Gather what the synthetic Geo-social water generator needs from the database; write its files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
from sqlalchemy import Connection, select, text

from geo.errors import InvalidInputError
from geo.synth.water import LABEL, SyntheticWater, synthesize_water
from layers.geography.geosocial import write_geotiff
from layers.store.files import GPKG_VERSION
from layers.store.models import AdminUnit

VILLAGES = """
SELECT subdistrict_code, moo,
    ST_SetSRID(ST_MakePoint(avg(ST_X(geom)), avg(ST_Y(geom))), 4326) AS geom
FROM household
WHERE province_code = :province AND moo IS NOT NULL AND precision IN ('gps', 'gps_corrected')
GROUP BY subdistrict_code, moo
"""


def generate_water(conn: Connection, province: str, seed: int) -> SyntheticWater:
    """A synthetic Geo-social water set for a province, around its surveyed villages if any."""
    area = gpd.read_postgis(
        select(AdminUnit.code, AdminUnit.geom).where(
            AdminUnit.code == province, AdminUnit.level == "province", AdminUnit.geom.is_not(None)
        ),
        conn,
        geom_col="geom",
    )
    if area.empty:
        raise InvalidInputError(f"no province polygon with code {province!r} is loaded")
    villages = gpd.read_postgis(
        text(VILLAGES), conn, geom_col="geom", params={"province": province}
    )
    return synthesize_water(area, villages if len(villages) else None, seed=seed)


WATER_VECTORS = ("water_sources", "waterways", "flood_zones", "drought_zones")
WATER_RASTERS = ("elevation", "flood_frequency")


def water_files(folder: Path) -> dict[str, Path]:
    """Where ``write_water`` puts each kind of layer."""
    return {
        **{kind: folder / f"synthetic-{kind}.gpkg" for kind in WATER_VECTORS},
        **{kind: folder / f"synthetic-{kind}.tif" for kind in WATER_RASTERS},
    }


def write_water(water: SyntheticWater, folder: Path) -> dict[str, Path]:
    """Write the set as GeoPackages and GeoTIFFs (tagged synthetic); returns kind → file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = water_files(folder)
    for kind, frame in (
        ("water_sources", water.water_sources),
        ("waterways", water.streams),
        ("flood_zones", water.flood_zones),
        ("drought_zones", water.drought_zones),
    ):
        path = files[kind]
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=kind,
            metadata={"DESCRIPTION": LABEL},
            dataset_options={"VERSION": GPKG_VERSION},
        )
    for kind, values in (
        ("elevation", water.elevation),
        ("flood_frequency", water.flood_frequency),
    ):
        write_geotiff(
            files[kind],
            values,
            crs_epsg=water.crs_epsg,
            transform=water.transform,
            nodata=water.nodata,
            DESCRIPTION=LABEL,
        )
    return files
