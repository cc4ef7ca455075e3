"""Load COD-AB boundary files into ``admin_unit`` and check what was loaded."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from geo.boundaries import (
    LEVELS,
    UNIT_COLUMNS,
    HierarchyIssue,
    check_hierarchy,
    detect_level,
    normalise,
    prepare,
)
from geo.errors import InvalidInputError
from geo.vocab import ADMIN_LEVELS
from layers.geography.sources import attribution_for
from layers.store.files import file_checksum
from layers.store.models import AdminUnit, BoundaryVersion

VECTOR_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg")
SUFFIXES = (*VECTOR_SUFFIXES, ".zip")
SUBDIVIDE_VERTICES = 256


@dataclass(frozen=True)
class Layer:
    """One readable boundary layer of a file (or of a ``member`` file inside a zip)."""

    file: Path
    member: str | None
    layer: str
    level: str
    features: int

    @property
    def dataset(self) -> str:
        """What GDAL opens for this layer's file (or zip member)."""
        return _dataset(self.file, self.member)

    @property
    def label(self) -> str:
        """File (and member) name, with the layer name where it is not the file's own."""
        name = f"{self.file.name}/{self.member}" if self.member else self.file.name
        return name if self.layer == Path(name).stem else f"{name}:{self.layer}"


@dataclass
class LayerResult:
    """What loading one boundary layer did: how many units changed how, and what was repaired."""

    layer: str
    level: str
    features: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    absent: int = 0
    removed: int = 0
    repaired: list[str] = field(default_factory=list)
    skipped: bool = False
    version_id: int | None = None


@dataclass
class LoadReport:
    """What a load of boundary files did: each layer's result, and the hierarchy issues after it."""

    layers: list[LayerResult]
    hierarchy: list[HierarchyIssue]


def _dataset(file: Path, member: str | None) -> str:
    """What GDAL opens for a file, or for a file inside a zip."""
    return f"/vsizip/{file}/{member}" if member else str(file)


def _members(file: Path) -> Sequence[str | None]:
    """The vector files inside a zip, or ``[None]`` for a file GDAL opens as it is."""
    if file.suffix.lower() != ".zip":
        return [None]
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise InvalidInputError(f"{file}: not a readable zip file ({exc})") from exc
    return sorted(n for n in names if Path(n).suffix.lower() in VECTOR_SUFFIXES)


def _layers_of(file: Path) -> list[Layer]:
    found = []
    for member in _members(file):
        dataset = _dataset(file, member)
        try:
            names = [str(row[0]) for row in pyogrio.list_layers(dataset)]
        except Exception as exc:  # GDAL raises several kinds; its message is what helps
            raise InvalidInputError(f"{file}: not a readable vector file ({exc})") from exc
        for name in names:
            info = pyogrio.read_info(dataset, layer=name)
            n = detect_level(info["fields"])
            kind = str(info["geometry_type"])
            if n is not None and "Point" not in kind and "LineString" not in kind:
                found.append(Layer(file, member, name, LEVELS[n], int(info["features"])))
    return found


def discover(paths: Iterable[Path]) -> list[Layer]:
    """The boundary layers in files, zips and folders, provinces first.

    Layers without ``ADMn_PCODE`` fields (such as the country outline ``adm0``) and point or
    line layers are passed over; a path holding no boundary layer at all is an error.
    """
    layers: list[Layer] = []
    for path in paths:
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file or folder")
        files = (
            sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
            if path.is_dir()
            else [path]
        )
        found = [layer for file in files for layer in _layers_of(file)]
        if not found:
            raise InvalidInputError(
                f"{path}: no polygon layer with ADM1_PCODE, ADM2_PCODE or ADM3_PCODE fields "
                "(COD-AB layout)"
            )
        layers.extend(found)
    order = {name: n for n, name in LEVELS.items()}
    return sorted(layers, key=lambda layer: order[layer.level])


def _latest(conn: Connection, level: str) -> tuple[str, str] | None:
    row = conn.execute(
        select(BoundaryVersion.sha256, BoundaryVersion.source)
        .where(BoundaryVersion.level == level)
        .order_by(BoundaryVersion.id.desc())
        .limit(1)
    ).first()
    return (row.sha256, row.source) if row else None


def _bound_unit_columns() -> dict[str, Any]:
    return {column: bindparam(column) for column in UNIT_COLUMNS}


def _upsert_units(
    conn: Connection, units: gpd.GeoDataFrame, version_id: int
) -> list[tuple[str, bool]]:
    table = cast(Table, AdminUnit.__table__)
    stmt = insert(table).values(
        **_bound_unit_columns(),
        geom=func.ST_GeomFromWKB(bindparam("wkb"), 4326),
        area_km2=bindparam("area_km2"),
        utm_epsg=bindparam("utm_epsg"),
        source="boundary",
        boundary_version_id=version_id,
    )
    compared = ["level", "parent_code", "pcode", "name_th", "name_en", "geom", "source"]
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.code],
        set_={
            **{
                c: stmt.excluded[c]
                for c in [*compared, "area_km2", "utm_epsg", "boundary_version_id"]
            },
            "updated_at": func.now(),
        },
        where=or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in compared)),
    ).returning(table.c.code, literal_column("xmax = 0").label("inserted"))
    rows = [
        {
            **{c: getattr(r, c) for c in UNIT_COLUMNS},
            "wkb": r.geometry.wkb,
            "area_km2": float(r.area_km2),
            "utm_epsg": int(r.utm_epsg),
        }
        for r in units.itertuples(index=False)
    ]
    return [(row.code, bool(row.inserted)) for row in conn.execute(upsert, rows)]


def _insert_ancestors(conn: Connection, ancestors: pd.DataFrame) -> None:
    """Units a layer names in its ``ADMn_*`` fields: stored without geometry unless present."""
    if ancestors.empty:
        return
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in ancestors.to_dict("records")
    ]
    stmt = insert(cast(Table, AdminUnit.__table__)).values(
        **_bound_unit_columns(), source="attribute"
    )
    conn.execute(stmt.on_conflict_do_nothing(), rows)


def _subdivide(conn: Connection, codes: list[str]) -> None:
    conn.execute(text("DELETE FROM admin_unit_part WHERE code = ANY(:codes)"), {"codes": codes})
    conn.execute(
        text(
            "INSERT INTO admin_unit_part (code, level, geom) "
            "SELECT code, level, (ST_Dump(ST_Subdivide(geom, :vertices))).geom "
            "FROM admin_unit WHERE code = ANY(:codes) AND geom IS NOT NULL"
        ),
        {"codes": codes, "vertices": SUBDIVIDE_VERTICES},
    )


def load_layer(
    conn: Connection,
    layer: Layer,
    boundaries_dir: Path,
    *,
    replace: bool = False,
    force: bool = False,
    step: Callable[[str], None] = lambda _: None,
) -> LayerResult:
    """Load one layer inside the caller's transaction; see :func:`load_boundaries`."""
    result = LayerResult(layer.label, layer.level, layer.features)
    step(f"{layer.label}: checksum")
    digest = file_checksum(layer.file)
    if not (force or replace) and _latest(conn, layer.level) == (digest, layer.label):
        result.skipped = True
        result.unchanged = layer.features
        return result
    step(f"{layer.label}: reading")
    frame = pyogrio.read_dataframe(layer.dataset, layer=layer.layer)
    units, ancestors = normalise(frame, layer.label)
    step(f"{layer.label}: repairing geometry, measuring area")
    units, result.repaired = prepare(units)
    source = attribution_for(boundaries_dir, digest, layer.file)
    version_id = conn.scalar(
        insert(BoundaryVersion)
        .values(
            level=layer.level,
            source=layer.label,
            sha256=digest,
            features=len(units),
            attribution=source.attribution if source else None,
            licence=source.licence if source else None,
            report={},
        )
        .returning(BoundaryVersion.id)
    )
    assert version_id is not None
    result.version_id = version_id
    step(f"{layer.label}: writing {len(units):,} units")
    _insert_ancestors(conn, ancestors)
    changed = _upsert_units(conn, units, version_id)
    result.inserted = sum(1 for _, inserted in changed if inserted)
    result.updated = len(changed) - result.inserted
    result.unchanged = len(units) - len(changed)
    step(f"{layer.label}: subdividing {len(changed):,} polygons")
    _subdivide(conn, [code for code, _ in changed])
    table = cast(Table, AdminUnit.__table__)
    absent = (
        (table.c.level == layer.level)
        & (table.c.source == "boundary")
        & table.c.code.not_in(units["code"].tolist())
    )
    result.absent = conn.scalar(select(func.count()).where(absent)) or 0
    if replace and result.absent:
        child = aliased(table)
        childless = ~select(child.c.code).where(child.c.parent_code == table.c.code).exists()
        result.removed = len(
            conn.execute(table.delete().where(absent, childless).returning(table.c.code)).all()
        )
    conn.execute(
        update(BoundaryVersion)
        .where(BoundaryVersion.id == version_id)
        .values(report=_report(result))
    )
    return result


def _report(result: LayerResult) -> dict[str, Any]:
    keys = ("inserted", "updated", "unchanged", "absent", "removed", "repaired")
    return {k: getattr(result, k) for k in keys}


def hierarchy_issues(conn: Connection) -> list[HierarchyIssue]:
    """Check the stored provinces, districts and subdistricts (geo.boundaries.check_hierarchy)."""
    units = gpd.read_postgis(
        text(
            "SELECT code, level, parent_code, geom FROM admin_unit "
            "WHERE level = ANY(:levels) ORDER BY code"
        ),
        conn,
        geom_col="geom",
        params={"levels": list(ADMIN_LEVELS)},
    )
    if units.crs is None:
        units = units.set_crs(4326)
    return check_hierarchy(units)


def load_boundaries(
    conn: Connection,
    paths: Iterable[Path],
    boundaries_dir: Path,
    *,
    replace: bool = False,
    force: bool = False,
    step: Callable[[str], None] = lambda _: None,
) -> LoadReport:
    """Load COD-AB boundary files (any of ADM1/ADM2/ADM3) in one transaction.

    Each layer's geometries are repaired, stored as MultiPolygons in EPSG:4326 with their area
    in km² (measured in the unit's UTM zone), and cut into parts for point-in-polygon. A layer
    whose checksum equals the last one loaded for its level is skipped (``force`` loads it
    again; unchanged rows are still left untouched). Units of a level that the new layer does
    not list are counted, and removed only with ``replace``.

    Parameters
    ----------
    conn : Connection
        A connection inside a transaction; nothing is committed here.
    paths : iterable of Path
        Files (GeoJSON, Shapefile, GeoPackage, zip) or folders holding them.
    boundaries_dir : Path
        The folder of the source manifest, to record attribution and licence.
    """
    layers = discover(paths)
    results = [
        load_layer(conn, layer, boundaries_dir, replace=replace, force=force, step=step)
        for layer in layers
    ]
    step("checking the hierarchy")
    return LoadReport(results, hierarchy_issues(conn))
