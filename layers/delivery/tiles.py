"""Vector tiles (Mapbox Vector Tile, built by PostGIS ``ST_AsMVT``) inside the caller's scope.

Two tilesets, ``households`` and ``cases``. Below :data:`POINT_ZOOM` a tile holds areas
(provinces, districts, subdistricts by zoom) with their counts and rates, from the same
roll-ups as ``/stats`` (small counts hidden for the public); from :data:`POINT_ZOOM` on, the
subdistricts and the points of households or cases, for the roles that may see where
households are (the others get the subdistricts only). Tiles are kept per (tileset, tile,
scope, data version): a new import, run, case event or layer changes the version, and with it
every tile's ``ETag``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, literal_column, select, text

from geo.access import Scope
from geo.disclosure import K as K_PUBLIC
from geo.disclosure import suppress
from geo.errors import InvalidInputError, NotFoundError
from geo.vocab import CODE_LENGTH
from layers.access import scope as scoped
from layers.analysis.public import public_rollup
from layers.analysis.stats import rollup
from layers.cases import queries as case_queries
from layers.cases.events import clock, today
from layers.delivery.features import FeatureCache
from layers.store.models import Case, Household
from layers.store.partitions import latest_round
from layers.store.settings import Settings

TILESETS = ("households", "cases")
POINT_ZOOM = 12
MAX_ZOOM = 16
EXTENT = 4096
#: The areas drawn up to each zoom (inclusive).
LEVEL_BY_ZOOM = ((5, "province"), (8, "district"), (POINT_ZOOM - 1, "subdistrict"))
#: Fields of the areas layer, per tileset (TileJSON ``vector_layers``).
AREA_FIELDS = {
    "households": {
        "code": "String",
        "name_th": "String",
        "name_en": "String",
        "households": "Number",
        "problems": "Number",
        "problems_per_1000": "Number",
        "solved_pct": "Number",
    },
    "cases": {
        "code": "String",
        "name_th": "String",
        "name_en": "String",
        "cases": "Number",
        "overdue": "Number",
    },
}
POINT_FIELDS = {
    "households": {"household_id": "String", "subdistrict_code": "String"},
    "cases": {"id": "Number", "household_id": "String", "state": "String", "category": "String",
              "overdue": "Boolean"},
}  # fmt: skip
AREAS_SQL = text(
    """
WITH f AS (
  SELECT * FROM jsonb_to_recordset(CAST(:figures AS jsonb)) AS f(
    code text, name_th text, name_en text, households bigint, problems bigint,
    problems_per_1000 float8, solved_pct float8, cases bigint, overdue bigint)
)
SELECT ST_AsMVT(t, 'areas', 4096, 'geom') FROM (
  SELECT ST_AsMVTGeom(
           ST_Transform(ST_Simplify(u.geom, :tolerance), 3857),
           ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
         f.code, f.name_th, f.name_en, f.households, f.problems, f.problems_per_1000,
         f.solved_pct, f.cases, f.overdue
  FROM admin_unit u JOIN f ON f.code = u.code
  WHERE u.level = :level
) t WHERE t.geom IS NOT NULL
"""
)
CODES_SQL = text(
    "SELECT code FROM admin_unit WHERE level = :level AND code LIKE :prefix "
    "AND geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326)"
)


@dataclass(frozen=True)
class Tile:
    """A tile's bytes, its ETag, and the households whose positions it holds (access log)."""

    data: bytes
    etag: str
    households: list[str] = field(default_factory=list)


def check(tileset: str, z: int, x: int, y: int) -> None:
    """Refuse a tileset that does not exist or a tile outside the grid."""
    if tileset not in TILESETS:
        raise NotFoundError(f"no tileset {tileset!r}: {', '.join(TILESETS)}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInputError(f"z: {z} is not between 0 and {MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInputError(f"x, y: tile {x}/{y} is outside zoom {z}'s grid")


def points_for(scope: Scope | None) -> bool:
    """Whether ``scope`` gets points at high zoom (roles that may see where households are)."""
    return scope is not None and not scope.pseudonymised and scope.allows("households:read")


def etag(tileset: str, z: int, x: int, y: int, scope: Scope | None, version: str) -> str:
    """The tile's ETag: the tile, the scope and the data version (no tile needs building)."""
    key = f"{tileset}/{z}/{x}/{y}/{scope!r}/{version}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def tile(
    conn: Connection,
    settings: Settings,
    cache: FeatureCache,
    tileset: str,
    z: int,
    x: int,
    y: int,
    scope: Scope | None,
    version: str,
) -> Tile:
    """The tile ``z/x/y`` of ``tileset`` as ``scope`` may see it (None: the public).

    ``version`` is the data version (``data_version``) the caller read for the tile's ETag.
    """
    check(tileset, z, x, y)
    tag = etag(tileset, z, x, y, scope, version)

    def build() -> Tile:
        areas = _areas(conn, settings, cache, tileset, z, x, y, scope, version)
        if z >= POINT_ZOOM and points_for(scope):
            assert scope is not None
            points, households = _points(conn, settings, tileset, z, x, y, scope)
            # A tile is a list of layers: two tiles' bytes, one after the other, are one tile.
            return Tile(areas + points, tag, households)
        return Tile(areas, tag)

    found: Tile = cache.get(("tile", tag), build)
    return found


def _level(z: int) -> str:
    return next((level for top, level in LEVEL_BY_ZOOM if z <= top), "subdistrict")


def _areas(
    conn: Connection,
    settings: Settings,
    cache: FeatureCache,
    tileset: str,
    z: int,
    x: int,
    y: int,
    scope: Scope | None,
    version: str,
) -> bytes:
    area = scope.area if scope is not None else ""
    level = _level(z)
    if CODE_LENGTH[level] <= len(area):
        # Levels above the scope's own area show that area only (its figures, nothing beyond).
        level = next(lv for lv, n in CODE_LENGTH.items() if n == len(area))
    codes = [
        c
        for c in conn.execute(
            CODES_SQL,
            {"level": level, "prefix": (area[: CODE_LENGTH[level]]) + "%", "z": z, "x": x, "y": y},
        ).scalars()
    ]
    if not codes:
        return b""
    figures = cache.get(
        ("figures", tileset, level, scope, version),
        lambda: _figures(conn, settings, tileset, level, scope),
    )
    rows = [figures[c] for c in codes if c in figures]
    if not rows:
        return b""
    # A pixel of this zoom in degrees: detail finer than that is not drawn. ST_Simplify, not
    # ST_SimplifyPreserveTopology (3 to 5 times slower): ST_AsMVTGeom makes its output valid.
    tolerance = 360 / (2**z * EXTENT) / 2
    data = conn.execute(
        AREAS_SQL,
        {"figures": json.dumps(rows), "tolerance": tolerance, "level": level, "z": z, "x": x,
         "y": y},
    ).scalar()  # fmt: skip
    return bytes(data or b"")


def _figures(
    conn: Connection, settings: Settings, tileset: str, level: str, scope: Scope | None
) -> dict[str, dict[str, Any]]:
    """Each area's figures at ``level`` inside the scope, by code."""
    area = scope.area if scope is not None else ""
    parent = area if CODE_LENGTH[level] > len(area) else area[:-2]
    if tileset == "cases":
        return _case_figures(conn, settings, level, parent, area, scope)
    if scope is None:
        rows = public_rollup(conn, area=parent, level=level)
    else:
        rows = rollup(conn, area=parent, level=level, scope=scope)
    keep = AREA_FIELDS["households"]
    return {r["code"]: {k: r.get(k) for k in keep} for r in rows if r["code"].startswith(area)}


def _case_figures(
    conn: Connection,
    settings: Settings,
    level: str,
    parent: str,
    area: str,
    scope: Scope | None,
) -> dict[str, dict[str, Any]]:
    seen = scope if scope is not None else Scope(role="analyst", pseudonymised=True)
    given = case_queries.CaseFilter(area=parent or None)
    counts = case_queries.case_counts(conn, seen, given, level=level, today=today(clock(settings)))
    counts = counts[counts["code"].str.startswith(area)]
    if scope is None:
        hidden = suppress(counts[["cases", "overdue"]], {}, [(["overdue"], "cases")])
        counts[["cases", "overdue"]] = counts[["cases", "overdue"]].astype(float).mask(hidden)
        counts = counts[~(counts["cases"] < K_PUBLIC)]
    names = dict(
        (code, (th, en))
        for code, th, en in conn.execute(
            text("SELECT code, name_th, name_en FROM admin_unit WHERE code = ANY(:codes)"),
            {"codes": counts["code"].tolist()},
        )
    )
    out = {}
    for row in counts.to_dict("records"):
        th, en = names.get(row["code"], (None, None))
        out[row["code"]] = {
            "code": row["code"],
            "name_th": th,
            "name_en": en,
            "cases": None if pd.isna(row["cases"]) else int(row["cases"]),
            "overdue": None if pd.isna(row["overdue"]) else int(row["overdue"]),
        }
    return out


def _points(
    conn: Connection, settings: Settings, tileset: str, z: int, x: int, y: int, scope: Scope
) -> tuple[bytes, list[str]]:
    envelope = func.ST_Transform(func.ST_TileEnvelope(z, x, y), 4326)
    round_ = latest_round(conn)
    if tileset == "households":
        # Where and who only: a household's problems are a click away (counting them for every
        # point of a tile costs a tile's whole time budget).
        rows = select(
            _mvt_geom(Household.geom, z, x, y), Household.household_id, Household.subdistrict_code
        ).where(
            Household.round == round_,
            Household.geom.op("&&")(envelope),
            scoped.households(scope),
        )
    else:
        day = today(clock(settings))
        rows = (
            select(
                _mvt_geom(Household.geom, z, x, y),
                Case.id,
                Case.household_id,
                Case.state,
                Case.category,
                case_queries.overdue(day).label("overdue"),
            )
            .select_from(Case)
            .join(
                Household,
                and_(Household.household_id == Case.household_id, Household.round == Case.round),
            )
            .where(Household.geom.op("&&")(envelope), scoped.cases(scope))
        )
    layer = rows.subquery("t")
    data, households = conn.execute(
        select(
            func.ST_AsMVT(literal_column("t"), tileset, EXTENT, "geom"),
            func.array_agg(layer.c.household_id),  # the access log keeps each once
        ).select_from(layer)
    ).one()
    return bytes(data or b""), [h for h in (households or []) if h]


def _mvt_geom(geom: Any, z: int, x: int, y: int) -> Any:
    return func.ST_AsMVTGeom(
        func.ST_Transform(geom, 3857), func.ST_TileEnvelope(z, x, y), EXTENT, 16, True
    ).label("geom")


def tilejson(base: str, tileset: str, scope: Scope | None, lang: str = "th") -> dict[str, Any]:
    """The TileJSON 3.0 of ``tileset`` for this caller: its URL template, zooms and layers."""
    if tileset not in TILESETS:
        raise NotFoundError(f"no tileset {tileset!r}: {', '.join(TILESETS)}")
    layers = [
        {"id": "areas", "fields": AREA_FIELDS[tileset], "minzoom": 0, "maxzoom": MAX_ZOOM,
         "description": "provinces to z5, districts to z8, subdistricts beyond"},
    ]  # fmt: skip
    if points_for(scope):
        layers.append(
            {"id": tileset, "fields": POINT_FIELDS[tileset], "minzoom": POINT_ZOOM,
             "maxzoom": MAX_ZOOM}
        )  # fmt: skip
    return {
        "tilejson": "3.0.0",
        "name": tileset,
        "tiles": [f"{base}/tiles/{tileset}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": [97.3, 5.6, 105.7, 20.5],
        "center": [100.5, 13.75, 5],
        "vector_layers": layers,
        "attribution": "OCHA COD-AB Thailand (CC BY-IGO 3.0); survey: SYNTHETIC",
    }
