"""The collections of the OGC API – Features, read inside the caller's scope.

Two kinds. **Tables** (households, cases, water layers, boundaries) are paged by PostgreSQL,
which also writes each page's GeoJSON, so a page of 1,000 points costs one query and no Python
per feature. **Layers** of the export registry (roll-ups, targeting, hotspots) are computed as
for a file, kept in a :class:`FeatureCache` per (collection, scope, data version), and paged
from memory.

``numberMatched``: exact for layers (they are in memory) and for tables whose planner estimate
is at most ``BAMRUNG_OGC_EXACT_COUNT_MAX`` rows; above that, the planner's estimate. Either is
cached per (collection, scope, filters, data version), so paging does not count again.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pygeofilter import ast
from pygeofilter.backends.geopandas.evaluate import to_filter as frame_filter
from pygeofilter.backends.sqlalchemy import to_filter as sql_filter
from sqlalchemy import (
    JSON,
    Connection,
    Text,
    and_,
    cast,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import LABEL_STYLE_TABLENAME_PLUS_COL, ColumnElement, FromClause
from sqlalchemy.sql.util import ClauseAdapter

from geo.access import Scope
from geo.crs import WGS84
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from geo.ogc import parse_filter
from layers.access import scope as scoped
from layers.cases.events import clock, today
from layers.delivery import catalog
from layers.store.models import AdminUnit, Case, HotspotRun, Household, LayerFeature
from layers.store.partitions import latest_round
from layers.store.settings import Settings

#: JSON Schema types of the queryables.
STRING, INTEGER, NUMBER, BOOLEAN, DATE = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "string", "format": "date"},
)


#: A column of a model, or any SQL expression.
Expression = Any


@dataclass(frozen=True)
class Table:
    """A collection read from a table: id, shape, properties (name → SQL), scope and rows."""

    source: FromClause
    id: Expression
    geom: Expression
    properties: dict[str, tuple[Expression, dict[str, str]]]
    where: Callable[[Scope | None, dt.date], list[Expression]]
    #: The household of each row, for the access log (None: no household data).
    household: Expression | None = None
    #: The columns pages are sorted by (an index's, so a page is not a sort of the table);
    #: None: the id.
    order: tuple[Expression, ...] | None = None
    #: The conditions that find the row of a feature id, on indexed columns; None: the id.
    find: Callable[[str], list[Expression]] | None = None

    def sort(self) -> tuple[Expression, ...]:
        """What pages are sorted by."""
        return self.order if self.order is not None else (self.id,)

    def where_id(self, feature: str) -> list[Expression]:
        """The conditions that find the row whose id is ``feature``."""
        if self.find is not None:
            return self.find(feature)
        return [cast(self.id, Text) == feature]


def _integer_id(column: Expression) -> Callable[[str], list[Expression]]:
    """An id that is an integer column: compared as one (a text cast would scan the table)."""

    def find(feature: str) -> list[Expression]:
        if not feature.isascii() or not feature.isdigit() or int(feature) > 2**63 - 1:
            return [false()]
        return [column == int(feature)]

    return find


@dataclass(frozen=True)
class Collection:
    """One collection: a table, or a layer of the export registry at one level."""

    id: str
    title: dict[str, str]
    permission: str
    public: bool
    geometry: str
    table: Callable[[Connection], Table] | None = None
    layer: str | None = None
    level: str | None = None
    #: Points of households: only for roles that may see where households are.
    points: bool = False

    def readable(self, scope: Scope | None) -> bool:
        """Whether ``scope`` (None: the public) may read it at all."""
        if scope is None:
            return self.public
        if self.points and scope.pseudonymised:
            return False
        if not scope.allows(self.permission):
            return False
        if self.level is not None:
            # Areas of a level below the scope's own area only (a governor's districts).
            return LEVEL_LENGTH[self.level] > len(scope.area)
        return True


LEVEL_LENGTH = {"province": 2, "district": 4, "subdistrict": 6}


def _households(conn: Connection) -> Table:
    round_ = latest_round(conn)
    h = Household
    problems = (
        select(func.count())
        .select_from(Case)
        .where(Case.household_id == h.household_id, Case.round == h.round)
        .scalar_subquery()
    )

    def find(feature: str) -> list[Expression]:
        household, _, round_text = feature.rpartition(".")
        if not (household and round_text.isascii() and round_text.isdigit()):
            return [false()]
        if int(round_text) > 2**31 - 1:
            return [false()]
        return [h.household_id == household, h.round == int(round_text)]

    return Table(
        source=h.__table__,
        id=h.household_id + literal(".") + cast(h.round, Text),
        order=(h.household_id, h.round),
        find=find,
        geom=h.geom,
        properties={
            "household_id": (h.household_id, STRING),
            "round": (h.round, INTEGER),
            "subdistrict_code": (h.subdistrict_code, STRING),
            "members": (h.members, INTEGER),
            "urban": (h.urban, BOOLEAN),
            "surveyed_on": (h.surveyed_on, DATE),
            "cases": (problems, INTEGER),
        },
        where=lambda scope, _: [
            h.round == round_,
            h.geom.is_not(None),
            scoped.households(scope) if scope is not None else true(),
        ],
        household=h.household_id,
    )


def _cases(conn: Connection) -> Table:
    c, h = Case, Household
    joined = c.__table__.join(
        h.__table__, and_(h.household_id == c.household_id, h.round == c.round)
    )
    return Table(
        source=joined,
        id=c.id,
        find=_integer_id(c.id),
        geom=h.geom,
        properties={
            "id": (c.id, INTEGER),
            "household_id": (c.household_id, STRING),
            "category": (c.category, STRING),
            "subdistrict_code": (c.subdistrict_code, STRING),
            "state": (c.state, STRING),
            "office": (c.office, STRING),
            "escalated": (c.escalated, BOOLEAN),
            "opened_on": (c.opened_on, DATE),
            "resolve_by": (c.resolve_by, DATE),
            "resolved_on": (c.resolved_on, DATE),
        },
        where=lambda scope, day: [scoped.cases(scope) if scope is not None else true()],
        household=c.household_id,
    )


def _water(kind: str) -> Callable[[Connection], Table]:
    def table(conn: Connection) -> Table:
        f = LayerFeature
        return Table(
            source=f.__table__,
            id=f.id,
            find=_integer_id(f.id),
            geom=f.geom,
            properties={
                "id": (f.id, INTEGER),
                "name": (f.name, STRING),
                "status": (f.status, STRING),
            },
            where=lambda scope, _: [f.kind == kind],
        )

    return table


def _boundaries(level: str) -> Callable[[Connection], Table]:
    def table(conn: Connection) -> Table:
        u = AdminUnit
        return Table(
            source=u.__table__,
            id=u.code,
            geom=u.geom,
            properties={
                "code": (u.code, STRING),
                "name_th": (u.name_th, STRING),
                "name_en": (u.name_en, STRING),
            },
            where=lambda scope, _: [u.level == level, u.geom.is_not(None)],
        )

    return table


def _titles(layer: str, th: str, en: str) -> dict[str, str]:
    base = catalog.LAYERS[layer].title
    return {"th": f"{base['th']} ({th})", "en": f"{base['en']} ({en})"}


LEVELS = {
    "province": ("จังหวัด", "provinces"),
    "district": ("อำเภอ", "districts"),
    "subdistrict": ("ตำบล", "subdistricts"),
}
COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        *(
            Collection(
                f"rollup_{level}",
                _titles("rollup", *LEVELS[level]),
                "analysis:read",
                True,
                "polygon",
                layer="rollup",
                level=level,
            )
            for level in LEVELS
        ),
        *(
            Collection(
                f"targeting_{level}",
                _titles("targeting", *LEVELS[level]),
                "analysis:area",
                False,
                "polygon",
                layer="targeting",
                level=level,
            )
            for level in ("district", "subdistrict")
        ),
        Collection(
            "hotspots",
            catalog.LAYERS["hotspots"].title,
            "analysis:area",
            False,
            "polygon",
            layer="hotspots",
        ),
        Collection(
            "households",
            catalog.LAYERS["households"].title,
            "households:read",
            False,
            "point",
            table=_households,
            points=True,
        ),
        Collection(
            "cases",
            catalog.LAYERS["cases"].title,
            "cases:read",
            False,
            "point",
            table=_cases,
            points=True,
        ),
        *(
            Collection(
                kind, catalog.LAYERS[kind].title, "analysis:read", False, "any", table=_water(kind)
            )
            for kind in ("flood_zones", "drought_zones", "waterways", "water_sources")
        ),
        *(
            Collection(
                f"boundaries_{level}",
                _titles("outline", *LEVELS[level]),
                "public",
                True,
                "polygon",
                table=_boundaries(level),
            )
            for level in LEVELS
        ),
    )
}


def collections(conn: Connection, scope: Scope | None) -> list[Collection]:
    """The collections ``scope`` may read (the public aggregates and boundaries for None).

    The hotspots only once a run of the scope's area is stored.
    """
    area = scope.area if scope else ""
    has_run = conn.scalar(select(func.count()).where(HotspotRun.area == area)) or 0
    return [
        c for c in COLLECTIONS.values() if c.readable(scope) and (c.id != "hotspots" or has_run)
    ]


def collection(name: str, scope: Scope | None) -> Collection:
    """The collection ``name`` if ``scope`` may read it.

    Unknown: not found. Known but not for this caller: a login needed, or forbidden (the names
    are the same for everyone; what they hold is what the scope guards).
    """
    found = COLLECTIONS.get(name)
    if found is None:
        raise NotFoundError(f"no collection {name!r}")
    if scope is None and not found.public:
        raise UnauthorizedError(f"the collection {name!r} needs a login")
    if not found.readable(scope):
        raise ForbiddenError(f"the collection {name!r} is not for this role or area")
    return found


@dataclass(frozen=True)
class ItemsQuery:
    """One page asked for: paging, box, output CRS, properties, equality and CQL2 filters."""

    limit: int = 10
    offset: int = 0
    bbox: tuple[tuple[float, ...], int] | None = None
    crs: int = WGS84
    lat_lon: bool = False
    properties: tuple[str, ...] | None = None
    equals: tuple[tuple[str, str], ...] = ()
    #: CQL2 text, checked against the collection's queryables when the page is read.
    filter: str | None = None
    filter_lang: str | None = None
    feature: str | None = None


@dataclass
class Page:
    """A page of features as GeoJSON text, how many match in all, and whose records it holds."""

    features: str
    returned: int
    matched: int | None
    households: list[str] = field(default_factory=list)
    estimated: bool = False


class FeatureCache:
    """Computed layers and counts, per data version: a small LRU shared by the app's requests."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._making: dict[Any, threading.Lock] = {}

    def peek(self, key: Any) -> Any:
        """The value kept under ``key``, or None."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` under ``key`` (the oldest dropped)."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        """The value kept under ``key``, else ``make()``'s (kept; the oldest dropped).

        Requests that want the same missing value wait for the one making it.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = make()
            self.put(key, value)
            with self._lock:
                self._making.pop(key, None)
        return value


def data_version(conn: Connection) -> str:
    """What changes whenever a collection's data may have: imports, runs, cases, layers.

    Each part is the newest id of a table (an index lookup), so the check is cheap.
    """
    row = conn.exec_driver_sql(
        "SELECT (SELECT max(id) FROM import_job), (SELECT max(id) FROM target_run), "
        "(SELECT max(id) FROM hotspot_run), (SELECT max(id) FROM case_event), "
        "(SELECT max(id) FROM layer), (SELECT max(id) FROM boundary_version)"
    ).one()
    return ".".join(str(v or 0) for v in row)


def queryables(
    conn: Connection,
    found: Collection,
    scope: Scope | None,
    settings: Settings,
    cache: FeatureCache,
) -> dict[str, dict[str, str]]:
    """Each property a filter may name, with its JSON Schema type."""
    if found.table is not None:
        return _queryables(found.table(conn), None)
    return _queryables(None, _layer(conn, found, scope, settings, cache, data_version(conn)).frame)


def _queryables(table: Table | None, frame: Any) -> dict[str, dict[str, str]]:
    """The queryables of a table, or of a computed layer's frame."""
    if table is not None:
        return {name: kind for name, (_, kind) in table.properties.items()}
    return {str(c): _json_type(frame[c]) for c in frame.columns if c != frame.geometry.name}


def _json_type(values: pd.Series) -> dict[str, str]:
    if pd.api.types.is_bool_dtype(values):
        return BOOLEAN
    if pd.api.types.is_integer_dtype(values):
        return INTEGER
    if pd.api.types.is_numeric_dtype(values):
        return NUMBER
    return STRING


def items(
    conn: Connection,
    settings: Settings,
    cache: FeatureCache,
    found: Collection,
    scope: Scope | None,
    query: ItemsQuery,
) -> Page:
    """A page of ``found`` as ``scope`` may see it."""
    version = data_version(conn)  # once a page: the cache keys of the layer and of the count
    table = found.table(conn) if found.table is not None else None
    frame = None
    if table is None:
        frame = _layer(conn, found, scope, settings, cache, version).frame
    cql = None
    if query.properties is not None or query.equals or query.filter is not None:
        known = _queryables(table, frame)
        asked = [*(query.properties or ()), *(name for name, _ in query.equals)]
        unknown = sorted(set(asked) - set(known))
        if unknown:
            raise InvalidInputError(
                f"no property {', '.join(unknown)} in {found.id}; properties: {', '.join(known)}"
            )
        if query.filter is not None:
            cql = parse_filter(query.filter, query.filter_lang, known)
    if table is not None:
        return _table_page(conn, settings, cache, found, table, scope, query, cql, version)
    return _layer_page(frame, query, cql, found)


def _layer(
    conn: Connection,
    found: Collection,
    scope: Scope | None,
    settings: Settings,
    cache: FeatureCache,
    version: str,
) -> catalog.Layer:
    assert found.layer is not None
    key = ("layer", found.id, scope, version)
    query = catalog.LayerQuery(area=scope.area if scope else "", level=found.level)
    layer: catalog.Layer = cache.get(
        key, lambda: catalog.read_layer(conn, settings, found.layer or "", query, scope)
    )
    return layer


def _layer_page(frame: Any, query: ItemsQuery, cql: ast.Node | None, found: Collection) -> Page:
    assert isinstance(frame, gpd.GeoDataFrame)
    id_column = frame.columns[0]  # the layers' first column is their key (code, h3)
    chosen = pd.Series(True, index=frame.index)
    if query.feature is not None:
        chosen &= frame[id_column].astype(str) == query.feature
    if query.bbox is not None:
        box = _box_4326(*query.bbox)
        chosen &= frame.geometry.intersects(box)
    for name, value in query.equals:
        chosen &= frame[name].astype(str) == value
    if cql is not None:
        mapped = {c: c for c in frame.columns}
        mapped["geometry"] = frame.geometry.name
        try:
            chosen &= frame_filter(frame, cql, mapped, {}).reindex(frame.index, fill_value=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"filter: cannot apply it to {found.id} ({exc})") from None
    matched = frame[chosen.to_numpy()]
    page = matched.iloc[query.offset : query.offset + query.limit]
    if query.properties is not None:
        page = page[
            [id_column, *[p for p in query.properties if p != id_column], page.geometry.name]
        ]
    shapes = page.geometry.to_crs(query.crs) if query.crs != WGS84 else page.geometry
    if query.lat_lon:
        shapes = shapes.map(lambda g: shapely.transform(g, lambda xy: xy[:, ::-1]) if g else g)
    page = page.set_geometry(shapes.to_numpy())
    document = json.loads(page.to_json(na="null", show_bbox=False, to_wgs84=False))
    for feature, key in zip(document["features"], page[id_column], strict=True):
        feature["id"] = str(key)
    text = json.dumps(document["features"], ensure_ascii=False)[1:-1]
    return Page(text, len(page), len(matched))


def _box_4326(bounds: tuple[float, ...], epsg: int) -> shapely.Polygon:
    box = shapely.box(*bounds)
    if epsg == WGS84:
        return box
    return gpd.GeoSeries([box], crs=epsg).to_crs(WGS84).iloc[0]


def _table_page(
    conn: Connection,
    settings: Settings,
    cache: FeatureCache,
    found: Collection,
    table: Table,
    scope: Scope | None,
    query: ItemsQuery,
    cql: ast.Node | None,
    version: str,
) -> Page:
    day = today(clock(settings))
    conditions = list(table.where(scope, day))
    if query.feature is not None:
        conditions += table.where_id(query.feature)
    if query.bbox is not None:
        bounds, epsg = query.bbox
        box = func.ST_MakeEnvelope(*bounds, epsg)
        if epsg != WGS84:
            box = func.ST_Transform(box, WGS84)
        conditions += [table.geom.op("&&")(box), func.ST_Intersects(table.geom, box)]
    columns = {name: column for name, (column, _) in table.properties.items()}
    for name, value in query.equals:
        column, kind = table.properties[name]
        conditions.append(column == _typed(name, value, kind))
    if cql is not None:
        try:
            conditions.append(sql_filter(cql, {**columns, "geometry": table.geom}))
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError(f"filter: cannot apply it to {found.id} ({exc})") from None
    shown = query.properties if query.properties is not None else tuple(columns)
    shape = table.geom if query.crs == WGS84 else func.ST_Transform(table.geom, query.crs)
    if query.lat_lon:
        shape = func.ST_FlipCoordinates(shape)
    digits = 7 if query.crs == WGS84 else 2
    feature = func.json_build_object(
        "type",
        "Feature",
        "id",
        table.id,
        "geometry",
        cast(func.ST_AsGeoJSON(shape, digits), JSON),
        "properties",
        func.json_build_object(*[v for n in shown for v in (n, columns[n])]),
    )
    # How many match: kept from an earlier page of the same request, else counted by this
    # page's query when the planner expects few enough rows (they are read for the sort
    # anyway), else the planner's estimate.
    key = ("count", found.id, scope, (query.bbox, query.equals, query.filter, query.feature),
           version)  # fmt: skip
    kept: tuple[int, bool] | None = cache.peek(key)
    estimate = _estimate(conn, table, conditions) if kept is None else 0
    count_here = kept is None and estimate <= settings.ogc_exact_count_max
    # The page's rows are found first, and only they are made features: PostgreSQL would
    # otherwise build the feature of every row an offset skips (a QGIS walk got slower with
    # each page). The feature's SQL is moved onto the page's columns.
    rows = (
        select(table.source, *([func.count().over().label("matched")] if count_here else []))
        .select_from(table.source)
        .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
        .where(*conditions)
        .order_by(*table.sort())
        .limit(query.limit)
        .offset(query.offset)
        .subquery("rows")
    )
    on_rows = ClauseAdapter(rows).traverse
    household = table.household if table.household is not None else literal(None)
    keys = [column.label(f"k{i}") for i, column in enumerate(table.sort())]
    page = select(
        *[on_rows(c) for c in (feature.label("f"), household.label("h"), *keys)],
        rows.c.matched if count_here else literal(None).label("matched"),
    ).subquery()
    in_order = aggregate_order_by(literal(","), *[page.c[k.name] for k in keys])
    text, returned, households, counted = conn.execute(
        select(
            func.coalesce(func.string_agg(cast(page.c.f, Text), in_order), ""),
            func.count(),
            func.array_remove(func.array_agg(page.c.h), None),
            func.max(page.c.matched),
        )
    ).one()
    if kept is not None:
        matched, estimated = kept
    elif not count_here:
        matched, estimated = estimate, True
    elif counted is not None:
        matched, estimated = int(counted), False
    else:  # a page past the last row counts nothing
        every = select(func.count()).select_from(table.source).where(*conditions)
        matched, estimated = int(conn.scalar(every) or 0), False
    cache.put(key, (matched, estimated))
    return Page(text, int(returned), matched, list(households or []), estimated)


def _estimate(conn: Connection, table: Table, conditions: list[ColumnElement[bool]]) -> int:
    """The planner's estimate of the rows that match."""
    rows = (
        select(literal(1))
        .select_from(table.source)
        .where(*conditions)
        .compile(conn, compile_kwargs={"render_postcompile": True})
    )
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {rows}", rows.params).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def _typed(name: str, value: str, kind: dict[str, str]) -> Any:
    try:
        if kind is INTEGER:
            return int(value)
        if kind is NUMBER:
            return float(value)
        if kind is BOOLEAN:
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        if kind is DATE:
            return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{name}: {value!r} is not a {kind['type']}") from None
    return value
