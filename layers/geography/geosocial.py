"""Geo-social layers: vector layers (water sources, waterways, zones, land use) and rasters.

Vector features go through the same intake rules as surveys: the CRS is read or guessed and the
features reprojected, geometries repaired, Thai text decoded, bad features quarantined with their
reasons — and one file is imported in one transaction. Rasters are copied into the project's
raster store (tiled, compressed GeoTIFF) and registered under an id; afterwards they are opened
only through that id, never from a path a client supplies.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.warp import transform_bounds
from sqlalchemy import Connection, func, insert, select, text, update

from geo.errors import InvalidInputError, NotFoundError
from geo.geosocial import GEOMETRY, check_features, guess_crs
from geo.vocab import RASTER_KINDS
from layers.store.files import file_checksum
from layers.store.models import ImportJob, Layer, LayerFeature, Raster
from layers.store.settings import Settings
from layers.survey.imports import Quarantined, write_quarantine
from layers.survey.readers import dbf_encoding

log = logging.getLogger(__name__)

SUBDIVIDE = """
INSERT INTO layer_part (feature_id, kind, geom)
SELECT id, kind, ST_Subdivide(geom, 256) FROM layer_feature
WHERE layer_id = :layer AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')
"""


@dataclass
class LayerReport:
    """What importing one vector layer did: features kept, quarantined and repaired, and the CRS."""

    layer_id: int | None
    kind: str
    name: str
    features: int = 0
    imported: int = 0
    quarantined: int = 0
    repaired: int = 0
    source_crs: str | None = None
    crs_guessed: bool = False
    skipped: bool = False
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


def import_layer(
    conn: Connection,
    path: Path,
    kind: str,
    *,
    name: str | None = None,
    crs: int | None = None,
    synthetic: bool = False,
) -> LayerReport:
    """Import one vector file as a layer of ``kind``; the same file again is skipped."""
    if kind not in GEOMETRY:
        raise InvalidInputError(f"kind: {kind!r} is not one of {', '.join(GEOMETRY)}")
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    digest = file_checksum(path)
    name = name or path.stem
    existing = conn.scalar(select(Layer.id).where(Layer.kind == kind, Layer.sha256 == digest))
    if existing is not None:
        return LayerReport(existing, kind, name, skipped=True)
    try:
        frame = pyogrio.read_dataframe(path, encoding=dbf_encoding(path))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInputError(f"{path}: not a readable vector file ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path}: a field name or value is not valid text in its encoding ({exc.reason}); "
            "Thai shapefile field names longer than 10 bytes are cut mid-character"
        ) from exc
    report = LayerReport(None, kind, name, features=len(frame))
    if crs is not None:
        frame = frame.set_crs(crs, allow_override=True)
    elif frame.crs is None:
        guessed = guess_crs(tuple(frame.total_bounds)) if len(frame) else None
        if guessed is None:
            raise InvalidInputError(
                f"{path}: the file has no CRS and its coordinates do not say which one: "
                "give the CRS (an EPSG code)",
                field="crs",
            )
        frame = frame.set_crs(guessed)
        report.crs_guessed = True
    report.source_crs = frame.crs.to_string() if frame.crs is not None else None
    checked = check_features(frame, kind)
    job_id = conn.scalar(
        insert(ImportJob)
        .values(file_name=path.name, sha256=digest, profile=f"layer:{kind}", state="running")
        .returning(ImportJob.id)
    )
    assert job_id is not None
    layer_id = conn.scalar(
        insert(Layer)
        .values(
            kind=kind,
            name=name,
            file_name=path.name,
            sha256=digest,
            source_crs=report.source_crs,
            features=len(checked.features),
            synthetic=synthetic,
            import_job_id=job_id,
        )
        .returning(Layer.id)
    )
    features = checked.features
    if len(features):
        conn.execute(
            insert(LayerFeature),
            [
                {
                    "layer_id": layer_id,
                    "kind": kind,
                    "source_row": int(row.source_row),
                    "name": None if row.name is None else str(row.name),
                    "status": row.status,
                    "properties": row.properties,
                    "flags": row.flags,
                    "geom": f"SRID=4326;{shapely.to_wkt(row.geometry)}",
                }
                for row in features.itertuples()
            ],
        )
        conn.execute(text(SUBDIVIDE), {"layer": layer_id})
    refused = [
        Quarantined(int(r.source_row), r.reasons, r.messages, r.values)
        for r in checked.rejected.itertuples()
    ]
    write_quarantine(conn, job_id, digest, path.name, refused)
    report.layer_id = layer_id
    report.imported = len(features)
    report.quarantined = len(checked.rejected)
    report.repaired = int(sum("repaired_geometry" in f for f in features["flags"]))
    for reasons in checked.rejected["reasons"]:
        for reason in reasons:
            report.quarantine_reasons[reason] = report.quarantine_reasons.get(reason, 0) + 1
    conn.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            state="done",
            rows_done=report.features,
            report=report.__dict__,
            finished_at=func.now(),
        )
    )
    conn.execute(update(Layer).where(Layer.id == layer_id).values(report=report.__dict__))
    log.info(
        "layer %s (%s): %d kept, %d quarantined", name, kind, report.imported, report.quarantined
    )
    return report


def list_layers(conn: Connection) -> list[dict[str, Any]]:
    """Every imported vector layer, by id, without its features."""
    rows = conn.execute(select(Layer.__table__).order_by(Layer.id))
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "name": r.name,
            "file_name": r.file_name,
            "features": r.features,
            "synthetic": r.synthetic,
            "source_crs": r.source_crs,
            "created_at": r.created_at,
        }
        for r in rows
    ]


def write_geotiff(
    path: Path,
    values: NDArray[np.float32],
    *,
    crs_epsg: int,
    transform: Affine,
    nodata: float | None = None,
    **tags: str,
) -> None:
    """One float32 band as a tiled, deflate-compressed GeoTIFF, with metadata ``tags``."""
    height, width = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=f"EPSG:{crs_epsg}",
        transform=transform,
        nodata=nodata,
        tiled=True,
        compress="deflate",
    ) as out:
        out.write(values, 1)
        out.update_tags(**tags)


def raster_store(settings: Settings) -> Path:
    """The folder registered rasters are stored in (``rasters`` in the home folder)."""
    return settings.home.resolve() / "rasters"


def import_raster(
    conn: Connection,
    settings: Settings,
    path: Path,
    kind: str,
    *,
    name: str | None = None,
    raster_id: str | None = None,
    units: str | None = None,
    description: str | None = None,
    synthetic: bool = False,
) -> dict[str, Any]:
    """Copy a GeoTIFF (any CRS) into the raster store and register it; returns its record.

    The same file imported again under the same id is left as it is.
    """
    if kind not in RASTER_KINDS:
        raise InvalidInputError(f"kind: {kind!r} is not one of {', '.join(RASTER_KINDS)}")
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    raster_id = raster_id or _slug(f"{kind}-{name or path.stem}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", raster_id):
        raise InvalidInputError(
            f"id: {raster_id!r} must be lower-case letters, digits, '-' or '_' (up to 64)"
        )
    digest = file_checksum(path)
    found = conn.scalar(select(Raster.sha256).where(Raster.id == raster_id))
    if found == digest:
        return raster_record(conn, raster_id)
    if found is not None:
        raise InvalidInputError(
            f"a different raster is registered as {raster_id!r}: choose another id", field="id"
        )
    try:
        source = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInputError(f"{path}: not a readable raster ({exc})") from exc
    with source:
        if source.crs is None:
            raise InvalidInputError(f"{path}: the raster has no CRS; assign one (gdal_edit -a_srs)")
        store = raster_store(settings)
        store.mkdir(parents=True, exist_ok=True)
        target = store / f"{raster_id}.tif"
        profile = source.profile | {
            "driver": "GTiff",
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
        }
        with rasterio.open(target, "w", **profile) as out:
            for _, window in source.block_windows(1):
                out.write(source.read(window=window), window=window)
            out.update_tags(**source.tags())
        west, south, east, north = transform_bounds(source.crs, "EPSG:4326", *source.bounds)
        record = {
            "id": raster_id,
            "kind": kind,
            "name": name or path.stem,
            "file_name": path.name,
            "stored_as": target.name,
            "sha256": digest,
            "crs": source.crs.to_string(),
            "width": source.width,
            "height": source.height,
            "bands": source.count,
            "dtype": source.dtypes[0],
            "nodata": source.nodata,
            "resolution": list(source.res),
            "units": units,
            "description": description,
            "synthetic": synthetic,
            "footprint": f"SRID=4326;{shapely.box(west, south, east, north).wkt}",
        }
    conn.execute(insert(Raster).values(**record))
    return raster_record(conn, raster_id)


def raster_record(conn: Connection, raster_id: str) -> dict[str, Any]:
    """The registration of raster ``raster_id``, without its footprint; NotFoundError if none."""
    row = conn.execute(select(Raster.__table__).where(Raster.id == raster_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no raster registered as {raster_id!r}")
    return {c.key: getattr(row, c.key) for c in Raster.__table__.columns if c.key != "footprint"}


def list_rasters(conn: Connection) -> list[dict[str, Any]]:
    """Every registered raster's record, by id."""
    ids = conn.scalars(select(Raster.id).order_by(Raster.id)).all()
    return [raster_record(conn, i) for i in ids]


def open_raster(conn: Connection, settings: Settings, raster_id: str) -> rasterio.DatasetReader:
    """The registered raster ``raster_id``, opened from the store (close it when done)."""
    record = raster_record(conn, raster_id)
    path = raster_store(settings) / record["stored_as"]
    if not path.exists():
        raise NotFoundError(f"raster {raster_id!r} is registered but its file {path} is gone")
    return rasterio.open(path)


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")[:64] or "raster"


def features_frame(
    conn: Connection, kind: str, bbox: tuple[float, ...] | None = None, limit: int | None = None
) -> Any:
    """The features of every layer of ``kind`` as a GeoDataFrame (EPSG:4326).

    The first ``limit`` of them when given.
    """
    sql = (
        "SELECT f.id, f.layer_id, f.name, f.status, f.properties, f.geom FROM layer_feature f "
        "WHERE f.kind = :kind AND (CAST(:bbox AS float8[]) IS NULL OR f.geom && "
        "ST_MakeEnvelope((:bbox)[1], (:bbox)[2], (:bbox)[3], (:bbox)[4], 4326)) ORDER BY f.id "
        "LIMIT :limit"
    )
    return gpd.read_postgis(
        text(sql),
        conn,
        geom_col="geom",
        params={"kind": kind, "bbox": _floats(bbox), "limit": limit},
    )


def _floats(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else [float(v) for v in np.asarray(values, dtype=float)]
