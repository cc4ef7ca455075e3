"""The layers delivered to GIS tools, each read inside the caller's scope with its style.

One registry (:data:`LAYERS`) serves the file exports, the OGC API and the vector tiles: a
layer's name, the permission it needs, whether the public gets it (aggregates only, small counts
hidden), and how it is read, styled and named in Thai and English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, func, select

from geo.access import Scope
from geo.density import h3_resolution
from geo.disclosure import suppress_cells
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from geo.intake.personal import keyed_hash
from geo.maps.qgis import Category, Geometry, LayerStyle
from geo.maps.style import CASE_COLOURS, GI_COLOURS, WATER_STYLE, classify
from geo.maps.words import (
    DIMENSION_NAMES,
    FIELD_NAMES,
    GI_LABELS,
    LABELS,
    LEVEL_NAMES,
    PART_NAMES,
    STATE_NAMES,
    WORDS,
)
from geo.targeting import TargetingConfig
from geo.vocab import BELOW, DIMENSIONS
from layers.analysis import runs as analysis
from layers.analysis import targeting
from layers.analysis.public import public_rollup
from layers.analysis.stats import outlines_below, resolve_area, rollup
from layers.cases import events as case_events
from layers.cases import queries as case_queries
from layers.geography import geosocial
from layers.geography.areas import area_bounds
from layers.store.keys import pii_key
from layers.store.models import AdminUnit, HotspotRun, ProblemCategory
from layers.store.partitions import latest_round
from layers.store.settings import Settings

#: The finest hexagons the public gets (about 5 km², as on the public maps).
PUBLIC_H3 = 7
LICENCE = "Boundaries: OCHA COD-AB Thailand (CC BY-IGO 3.0); survey data: SYNTHETIC"


@dataclass(frozen=True)
class LayerQuery:
    """Which part of a layer is read: area, level of its areas, round and problem filters."""

    area: str = ""
    level: str | None = None
    round: int | None = None
    dimension: str | None = None
    category: str | None = None
    status: str | None = None
    state: str | None = None
    indicator: str = "problems_per_1000"
    lang: str = "th"


@dataclass
class Layer:
    """A layer read for one caller: its features, style, metadata and whose records it holds."""

    name: str
    frame: gpd.GeoDataFrame | pd.DataFrame
    style: LayerStyle
    about: dict[str, str]
    #: The households whose records the layer carries (for the access log); empty: aggregates.
    households: list[str] = field(default_factory=list)

    @property
    def geometry(self) -> Geometry:
        """The layer's kind of shape ('none' for a table without shapes)."""
        return self.style.geometry


Build = Callable[
    [Connection, Settings, LayerQuery, Scope | None], tuple[Any, LayerStyle, list[str]]
]


@dataclass(frozen=True)
class Spec:
    """A deliverable layer: the permission it needs, whether the public gets it, its reader."""

    name: str
    permission: str
    public: bool
    build: Build
    title: dict[str, str]


def _aliases(conn: Connection, columns: list[str], lang: str) -> dict[str, str]:
    """Each column's name for people; per-dimension and per-category counts from the taxonomy."""
    words = FIELD_NAMES[lang]
    parts = PART_NAMES[lang]
    categories = {
        code: th if lang == "th" else en
        for code, th, en in conn.execute(
            select(ProblemCategory.code, ProblemCategory.name_th, ProblemCategory.name_en)
        )
    }
    names: dict[str, str] = {}
    for column in columns:
        base, _, part = column.rpartition("_")
        if column in words:
            names[column] = words[column]
        elif column.startswith("dim_") and column[4:] in DIMENSION_NAMES[lang]:
            names[column] = f"{words['problems']}: {DIMENSION_NAMES[lang][column[4:]]}"
        elif column.startswith("cat_") and column[4:] in categories:
            names[column] = f"{words['problems']}: {categories[column[4:]]}"
        elif part in parts and base in words:
            names[column] = f"{words[base]} ({parts[part]})"
    return names


def _graduated(
    conn: Connection,
    frame: pd.DataFrame,
    column: str,
    query: LayerQuery,
    geometry: Geometry,
    scheme: str = "quantiles",
) -> LayerStyle:
    """The web map's classes of ``column`` (5 classes, YlOrRd) as the layer's style.

    Quantiles, as the web maps; natural breaks for counts per household (mostly 0 or 1).
    """
    if column not in frame.columns:
        raise InvalidInputError(f"indicator: this layer has no field {column!r}")
    return LayerStyle(
        geometry=geometry,
        title=_aliases(conn, [column], query.lang).get(column, column),
        column=column,
        classes=classify(frame[column], scheme, 5),
        label=f"name_{query.lang}" if f"name_{query.lang}" in frame.columns else None,
        aliases=_aliases(conn, list(frame.columns), query.lang),
    )


def _level(conn: Connection, query: LayerQuery) -> str:
    if query.level:
        return query.level
    area = resolve_area(conn, query.area)
    if area.level not in BELOW:
        raise InvalidInputError(f"area {area.code!r} is a {area.level}: give --level")
    return BELOW[area.level]


def _rollup(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    level = _level(conn, query)
    kwargs: dict[str, Any] = {
        "area": query.area,
        "level": level,
        "round_": query.round,
        "dimension": query.dimension,
    }
    rows = public_rollup(conn, **kwargs) if scope is None else rollup(conn, **kwargs, scope=scope)
    figures = pd.DataFrame(rows)
    columns = [
        "code",
        "name_th",
        "name_en",
        "level",
        "round",
        "households",
        "households_with_problems",
        "problems",
        "solved",
        "solved_pct",
        "problems_per_1000",
        "affected_per_1000",
    ]
    table = figures[columns].copy()
    for dim in DIMENSIONS:
        table[f"dim_{dim}"] = [(d or {}).get(dim) for d in figures["by_dimension"]]
    categories = sorted({c for row in figures["by_category"] for c in (row or {})})
    for code in categories:
        # Absent from an area: no problem of it there (a hidden count is None).
        table[f"cat_{code}"] = [
            (c or {}).get(code, 0 if c else None) for c in figures["by_category"]
        ]
    outlines = outlines_below(conn, query.area, level)[["code", "geom"]]
    frame = gpd.GeoDataFrame(
        outlines.merge(table, on="code", how="right"), geometry="geom", crs=4326
    )
    frame = frame[[*table.columns, "geom"]]
    return frame, _graduated(conn, frame, query.indicator, query, "polygon"), []


def _hexagons(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    resolution = None
    if scope is None:
        if query.category or query.dimension or query.status:
            raise ForbiddenError("the public hexagons take no category, dimension or status")
        resolution = min(h3_resolution(analysis.area_km2(conn, query.area)), PUBLIC_H3)
    filters = analysis.Filters(query.dimension, query.category, query.status)
    cells = analysis.hexagons(conn, query.area, query.round, filters, resolution, scope)
    if scope is None:
        cells = suppress_cells(cells)
    cells = cells.rename_geometry("geom")
    indicator = query.indicator if query.indicator in cells.columns else "problems"
    return cells, _graduated(conn, cells, indicator, query, "polygon"), []


def _hotspots(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    run_id = conn.scalar(select(func.max(HotspotRun.id)).where(HotspotRun.area == query.area))
    if run_id is None:
        raise NotFoundError(f"no hotspot run for area {query.area or 'Thailand'!r}: run one")
    layer = analysis.hotspot_layer(conn, run_id)
    keep = [c for c in layer.columns if c not in ("run_id", "parameters")]
    frame = layer[keep]
    names = GI_LABELS[query.lang]
    style = LayerStyle(
        geometry="polygon",
        title=WORDS[query.lang]["hotspots"],
        column="gi_class",
        categories=[Category(c, names[c], colour) for c, colour in GI_COLOURS.items()],
        label=f"name_{query.lang}",
        aliases=_aliases(conn, list(frame.columns), query.lang),
    )
    return frame, style, []


def _targeting(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    config = targeting.load_config(settings.targeting_file)
    level = _level(conn, query)
    if level == "household":
        return _target_households(conn, settings, query, scope, config)
    _, ranked = targeting.target_areas(
        conn, config, area=query.area, level=level, round_=query.round
    )
    frame = targeting.area_layer(conn, ranked, area=query.area, level=level)
    frame = frame.reset_index(names="code")
    first = ["code", "name_th", "name_en", "rank", "score", "households", "problems"]
    frame = frame[[*first, *[c for c in frame.columns if c not in (*first, "geom")], "geom"]]
    style = _graduated(conn, frame, "score", query, "polygon")
    return frame, style, []


def _target_households(
    conn: Connection,
    settings: Settings,
    query: LayerQuery,
    scope: Scope | None,
    config: TargetingConfig,
) -> tuple[Any, LayerStyle, list[str]]:
    if scope is None or not scope.allows("households:read"):
        raise ForbiddenError("households are ranked only for roles that may see households")
    ranked = targeting.target_households(conn, config, area=query.area, round_=query.round)
    frame = ranked.reset_index(names="household_id")
    ids = frame["household_id"].tolist()
    if scope.pseudonymised:
        refs = keyed_hash(frame["household_id"], pii_key(settings))
        frame = pd.DataFrame(frame.drop(columns=["household_id", "geometry"])).assign(
            household_ref=refs
        )
        geometry: Geometry = "none"
    else:
        frame = frame.rename_geometry("geom")
        geometry = "point"
    style = _graduated(conn, frame, "score", query, geometry, "natural_breaks")
    return frame, style, ids


def _case_filter(query: LayerQuery) -> case_queries.CaseFilter:
    if query.state is not None and query.state not in STATE_NAMES["en"]:
        raise InvalidInputError(
            f"state: {query.state!r} is not one of {', '.join(STATE_NAMES['en'])}"
        )
    return case_queries.CaseFilter(
        state=query.state,
        area=query.area or None,
        category=query.category,
        dimension=query.dimension,
    )


CASE_FIELDS = (
    "id",
    "household_id",
    "category",
    "dimension",
    "subdistrict_code",
    "state",
    "office",
    "office_th",
    "agency",
    "escalated",
    "overdue",
    "opened_on",
    "resolve_by",
    "resolved_on",
)


def _cases(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    assert scope is not None
    today = case_events.today(case_events.clock(settings))
    given = _case_filter(query)
    if scope.pseudonymised:
        # Where a household lives is not shown to this role: cases per district.
        counts = case_queries.case_counts(conn, scope, given, level="district", today=today)
        outlines = outlines_below(conn, query.area, "district")[
            ["code", "name_th", "name_en", "geom"]
        ]
        frame = gpd.GeoDataFrame(
            outlines.merge(counts, on="code", how="inner"), geometry="geom", crs=4326
        )
        return frame, _graduated(conn, frame, "cases", query, "polygon"), []
    points = case_queries.case_points(conn, scope, given, today=today)
    frame = points[[*CASE_FIELDS, "geom"]]
    names = STATE_NAMES[query.lang]
    style = LayerStyle(
        geometry="point",
        title=LABELS[query.lang]["cases_map"],
        column="state",
        categories=[Category(s, names[s], colour) for s, colour in CASE_COLOURS.items()],
        aliases=_aliases(conn, list(frame.columns), query.lang),
    )
    return frame, style, sorted(set(frame["household_id"]))


def _households(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    assert scope is not None
    filters = analysis.Filters(query.dimension, query.category, query.status)
    frame = analysis.households(conn, query.area, query.round, filters, scope)
    ids = frame["household_id"].tolist()
    geometry: Geometry = "point"
    if scope.pseudonymised:
        # No position for this role (as in the API): a table of pseudonyms and counts.
        refs = keyed_hash(frame["household_id"], pii_key(settings))
        frame = pd.DataFrame(frame.drop(columns=["household_id", "geom"]))
        frame.insert(0, "household_ref", refs)
        geometry = "none"
    style = _graduated(conn, frame, "problems", query, geometry, "natural_breaks")
    return frame, style, ids


def _water(kind: str) -> Build:
    def build(
        conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
    ) -> tuple[Any, LayerStyle, list[str]]:
        bounds = area_bounds(conn, query.area)
        frame = geosocial.features_frame(conn, kind, tuple(bounds)).set_crs(
            4326, allow_override=True
        )
        frame = frame[["id", "name", "status", "properties", "geom"]]
        shapes = set(frame.geom_type.dropna()) if len(frame) else set()
        geometry: Geometry = (
            "point" if shapes <= {"Point", "MultiPoint"} and shapes
            else "line" if shapes and shapes <= {"LineString", "MultiLineString"}
            else "polygon"
        )  # fmt: skip
        style = LayerStyle(
            geometry=geometry,
            title=LABELS[query.lang][kind],
            colour=WATER_STYLE[kind],
            label="name",
            aliases=_aliases(conn, list(frame.columns), query.lang),
        )
        return frame, style, []

    return build


def _outline(
    conn: Connection, settings: Settings, query: LayerQuery, scope: Scope | None
) -> tuple[Any, LayerStyle, list[str]]:
    chosen = AdminUnit.code == query.area if query.area else AdminUnit.level == "province"
    frame = gpd.read_postgis(
        select(
            AdminUnit.code, AdminUnit.name_th, AdminUnit.name_en, AdminUnit.level, AdminUnit.geom
        )
        .where(chosen, AdminUnit.geom.is_not(None))
        .order_by(AdminUnit.code),
        conn,
        geom_col="geom",
    )
    style = LayerStyle(
        geometry="polygon",
        title=WORDS[query.lang]["boundary"],
        colour="#252525",
        hollow=True,
        aliases=_aliases(conn, list(frame.columns), query.lang),
    )
    return frame, style, []


def _titles(key: str, source: dict[str, dict[str, str]]) -> dict[str, str]:
    return {lang: source[lang][key] for lang in ("th", "en")}


LAYERS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec("rollup", "analysis:read", True, _rollup, _titles("problems_per_1000", LABELS)),
        Spec("hexagons", "analysis:read", True, _hexagons, _titles("hexagons", WORDS)),
        Spec("hotspots", "analysis:area", False, _hotspots, _titles("hotspots", WORDS)),
        Spec("targeting", "analysis:area", False, _targeting, _titles("score", LABELS)),
        Spec("cases", "cases:read", False, _cases, _titles("cases_map", LABELS)),
        Spec("households", "households:read", False, _households, _titles("households", WORDS)),
        *(
            Spec(kind, "analysis:read", False, _water(kind), _titles(kind, LABELS))
            for kind in ("flood_zones", "drought_zones", "waterways", "water_sources")
        ),
        Spec("outline", "public", True, _outline, _titles("boundary", WORDS)),
    )
}


def readable(scope: Scope | None) -> list[Spec]:
    """The layers a caller may read: the public ones for a visitor (``scope`` None)."""
    if scope is None:
        return [s for s in LAYERS.values() if s.public]
    return [s for s in LAYERS.values() if scope.allows(s.permission)]


def spec_for(name: str, scope: Scope | None) -> Spec:
    """The layer ``name`` if the caller may read it; not found (unknown) or forbidden otherwise."""
    spec = LAYERS.get(name)
    if spec is None:
        raise NotFoundError(f"no layer {name!r}: choose from {', '.join(LAYERS)}")
    if scope is None and not spec.public:
        raise UnauthorizedError(f"the layer {name!r} needs a login")
    if scope is not None and not scope.allows(spec.permission):
        raise ForbiddenError(f"the role {scope.role} may not read the layer {name!r}")
    return spec


def read_layer(
    conn: Connection, settings: Settings, name: str, query: LayerQuery, scope: Scope | None
) -> Layer:
    """The layer ``name`` as ``scope`` may see it (None: the public), styled, with metadata.

    An area outside the scope is not found; one wider than the scope is narrowed to it.
    """
    spec = spec_for(name, scope)
    if query.lang not in FIELD_NAMES:
        raise InvalidInputError(f"lang: {query.lang!r} is not th or en")
    if scope is not None:
        area = scope.overlap(query.area)
        if area is None:
            raise NotFoundError(f"no area with code {query.area!r}")
        query = LayerQuery(**{**query.__dict__, "area": area})
    frame, style, households = spec.build(conn, settings, query, scope)
    unit = resolve_area(conn, query.area)
    round_ = query.round or latest_round(conn)
    about = {
        "layer": name,
        "title": spec.title[query.lang],
        "area": unit.code or "TH",
        "area_name": (unit.name_th if query.lang == "th" else unit.name_en) or "ประเทศไทย",
        "level": LEVEL_NAMES["en"].get(query.level or "", query.level or ""),
        "round": str(round_),
        "scope": "public (small counts hidden)"
        if scope is None
        else f"{scope.role} {scope.area or 'TH'}",
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "Bamrung",
        "licence": LICENCE,
    }
    return Layer(name, frame, style, about, households)
