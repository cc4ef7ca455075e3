"""Queries on administrative units for the interfaces (API and command line)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, literal, select
from sqlalchemy.orm import Session, aliased

from geo.errors import NotFoundError
from geo.vocab import ADMIN_LEVELS
from layers.store.models import AdminUnit, AdminUnitPart, BoundaryVersion


@dataclass(frozen=True)
class AreaPage:
    """A page of administrative units, and how many there are in all."""

    items: list[dict[str, Any]]
    total: int


def _summary(unit: AdminUnit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "level": unit.level,
        "name_th": unit.name_th,
        "name_en": unit.name_en,
        "parent_code": unit.parent_code,
    }


def list_areas(
    session: Session, *, level: str | None, parent: str | None, limit: int, offset: int
) -> AreaPage:
    """Units ordered by code, filtered by level and parent."""
    query = select(AdminUnit)
    if level is not None:
        query = query.where(AdminUnit.level == level)
    if parent is not None:
        if session.get(AdminUnit, parent) is None:
            raise NotFoundError(f"no area with code {parent!r}")
        query = query.where(AdminUnit.parent_code == parent)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    units = session.scalars(query.order_by(AdminUnit.code).limit(limit).offset(offset))
    return AreaPage([_summary(u) for u in units], total)


def parent_chain(session: Session, code: str) -> list[dict[str, Any]]:
    """The ancestors of a unit, nearest first."""
    chain = (
        select(AdminUnit.code, AdminUnit.parent_code, literal(0).label("depth"))
        .where(AdminUnit.code == code)
        .cte("chain", recursive=True)
    )
    parent = aliased(AdminUnit)
    chain = chain.union_all(
        select(parent.code, parent.parent_code, (chain.c.depth + 1).label("depth")).where(
            parent.code == chain.c.parent_code
        )
    )
    rows = session.execute(
        select(AdminUnit, chain.c.depth)
        .join(chain, chain.c.code == AdminUnit.code)
        .where(chain.c.depth > 0)
        .order_by(chain.c.depth)
    ).all()
    return [_summary(unit) for unit, _ in rows]


def get_area(session: Session, code: str, *, simplify_m: float | None = None) -> dict[str, Any]:
    """One unit as a GeoJSON Feature.

    ``simplify_m`` simplifies the outline in metres (in the unit's UTM zone), keeping it valid.
    """
    geom: Any = AdminUnit.geom
    if simplify_m:
        # Simplified rings may touch or cross: repair, keep the polygons, stay a MultiPolygon.
        simplified = func.ST_SimplifyPreserveTopology(
            func.ST_Transform(AdminUnit.geom, AdminUnit.utm_epsg), simplify_m
        )
        geom = func.ST_Multi(
            func.ST_CollectionExtract(func.ST_MakeValid(func.ST_Transform(simplified, 4326)), 3)
        )
    row = session.execute(
        select(AdminUnit, func.ST_AsGeoJSON(geom, 6)).where(AdminUnit.code == code)
    ).first()
    if row is None:
        raise NotFoundError(f"no area with code {code!r}")
    unit, text_geom = row
    geometry = json.loads(text_geom) if text_geom else None
    return {
        "type": "Feature",
        "id": unit.code,
        "geometry": geometry,
        "properties": {
            **_summary(unit),
            "pcode": unit.pcode,
            "area_km2": unit.area_km2,
            "source": unit.source,
            "in_registry": unit.in_registry,
            "parents": parent_chain(session, code),
        },
    }


def locate(session: Session, lat: float, lon: float) -> dict[str, dict[str, Any]]:
    """The subdistrict, district and province that contain a point.

    The deepest level whose polygons contain the point decides; its ancestors follow by code.
    Where polygons overlap (simplified borders), the lowest code wins.
    """
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    for level in reversed(ADMIN_LEVELS):
        code = session.scalar(
            select(AdminUnitPart.code)
            .where(AdminUnitPart.level == level, func.ST_Intersects(AdminUnitPart.geom, point))
            .order_by(AdminUnitPart.code)
            .limit(1)
        )
        if code is not None:
            unit = session.get(AdminUnit, code)
            assert unit is not None
            found = {unit.level: _summary(unit)}
            for ancestor in parent_chain(session, code):
                found[ancestor["level"]] = ancestor
            return found
    raise NotFoundError(f"the point ({lat}, {lon}) is not inside any loaded boundary of Thailand")


def boundary_versions(session: Session) -> list[dict[str, Any]]:
    """The boundary layer currently in force for each level."""
    latest = (
        select(BoundaryVersion.level, func.max(BoundaryVersion.id).label("id"))
        .group_by(BoundaryVersion.level)
        .subquery()
    )
    versions = session.scalars(
        select(BoundaryVersion)
        .join(latest, latest.c.id == BoundaryVersion.id)
        .order_by(BoundaryVersion.id)
    )
    return [
        {
            "level": v.level,
            "source": v.source,
            "sha256": v.sha256,
            "features": v.features,
            "attribution": v.attribution,
            "licence": v.licence,
            "loaded_at": v.loaded_at.isoformat(),
        }
        for v in versions
    ]


def unit_counts(session: Session) -> dict[str, dict[str, int]]:
    """Units per level and source."""
    counts: dict[str, dict[str, int]] = {}
    for level, source, n in session.execute(
        select(AdminUnit.level, AdminUnit.source, func.count()).group_by(
            AdminUnit.level, AdminUnit.source
        )
    ):
        counts.setdefault(level, {})[source] = n
    return counts


def search_areas(
    session: Session, text: str, *, within: str = "", limit: int = 20
) -> list[dict[str, Any]]:
    """Units whose Thai or English name holds ``text``, or whose code starts with it.

    Inside the area ``within`` ('' Thailand); provinces first, then districts, subdistricts.
    """
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(AdminUnit)
        .where(
            AdminUnit.level.in_(ADMIN_LEVELS),
            AdminUnit.code.startswith(within, autoescape=True),
            AdminUnit.name_th.ilike(pattern, escape="\\")
            | AdminUnit.name_en.ilike(pattern, escape="\\")
            | AdminUnit.code.startswith(text, autoescape=True),
        )
        .order_by(func.length(AdminUnit.code), AdminUnit.code)
        .limit(limit)
    )
    return [_summary(u) for u in session.scalars(query)]


def area_bounds(conn: Connection, area: str) -> list[float]:
    """West, south, east, north of an area's outline ('': of Thailand's provinces)."""
    extent = func.ST_Extent(AdminUnit.geom)
    box = conn.execute(
        select(
            func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)
        ).where(AdminUnit.code == area if area else AdminUnit.level == "province")
    ).one()
    if box[0] is None:
        raise NotFoundError(f"no outline for area {area!r}")
    return [float(v) for v in box]
