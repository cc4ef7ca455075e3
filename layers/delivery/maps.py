"""The data behind each map kind, read inside the caller's scope, handed to ``geo.maps.kinds``.

Every function returns the ``folium.Map`` and the households whose records the map shows (for
the access log; empty for aggregate maps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import WindowError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds
from sqlalchemy import Connection, func, select

from geo.access import Scope
from geo.density import cell_centres, h3_resolution
from geo.disclosure import K as K_PUBLIC
from geo.disclosure import suppress, suppress_cells
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError
from geo.maps import kinds, prepare
from geo.maps.page import MapContext
from geo.maps.words import (
    DIMENSION_NAMES,
    LABELS,
    LEVEL_NAMES,
    SOURCES,
    STATE_NAMES,
    STATUS_NAMES,
    WORDS,
)
from geo.vocab import BELOW, MapKind
from layers.analysis import runs as analysis
from layers.analysis import stats, targeting
from layers.analysis.public import FINE_LEVELS, public_rollup
from layers.analysis.stats import outlines_below, resolve_area
from layers.cases import events as case_events
from layers.cases import queries as case_queries
from layers.geography import geosocial
from layers.geography.areas import area_bounds
from layers.store.models import AdminUnit, HotspotRun, ProblemCategory, Raster
from layers.store.partitions import latest_round
from layers.store.settings import Settings

INDICATORS = ("problems_per_1000", "affected_per_1000", "solved_pct", "problems", "households")
#: The water map's vector layers, from the bottom up.
WATER_KINDS = tuple(k for k in kinds.WATER_ORDER if k != "households")
#: Cells on the longer side of a map's raster image: a screen shows no more, and a national map
#: read at a 250 m raster's own cells was 26 million of them (8 s).
RASTER_IMAGE_MAX = 2048
#: The finest hexagons the public gets (about 5 km²).
PUBLIC_H3 = 7


@dataclass(frozen=True)
class MapQuery:
    """What a map shows.

    ``level`` is the level of the areas drawn (area maps); None, the one below the area.
    """

    area: str = ""
    level: str | None = None
    indicator: str = "problems_per_1000"
    scheme: str = "quantiles"
    classes: int = 5
    round: int | None = None
    lang: str = "th"
    dimension: str | None = None
    category: str | None = None
    status: str | None = None
    raster: str | None = None
    run: int | None = None
    state: str | None = None
    escalated: bool | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> MapQuery:
        """The query from a mapping that holds every one of its fields by name.

        The interfaces pass their parameters (``locals()``), named as the fields are: a field
        an interface does not give is a ``KeyError``, not a silent default.
        """
        return cls(**{f.name: values[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Made:
    """A map made, and the households whose fields it shows (for the access log)."""

    map: folium.Map
    households: list[str]


def choropleth(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """Areas by a roll-up indicator; with no scope (the public), counts are suppressed."""
    if query.indicator not in INDICATORS and not query.indicator.startswith("category:"):
        raise InvalidInputError(
            f"indicator: {query.indicator!r} is not one of {', '.join(INDICATORS)} or category:CODE"
        )
    level = _level(conn, query)
    round_ = query.round or latest_round(conn)
    if scope is None:
        rows = public_rollup(
            conn, area=query.area, level=level, round_=round_, dimension=query.dimension
        )
    else:
        rows = stats.rollup(
            conn,
            area=query.area,
            level=level,
            round_=round_,
            dimension=query.dimension,
            scope=scope,
        )
    figures = pd.DataFrame(rows)
    column = query.indicator
    if column.startswith("category:"):
        code = column.split(":", 1)[1]
        if scope is None and level in FINE_LEVELS and _sensitive(conn, code):
            raise ForbiddenError(
                f"{code} is a sensitive category: published no finer than district level"
            )
        # A category absent from an area's figures has no problems there; a hidden one is None.
        counts = figures["by_category"].map(lambda c: (c or {}).get(code, 0))
        households = figures["households"]
        figures[column] = (1000 * counts / households.where(households > 0)).round(1)
    units = _units(conn, query.area, level, figures, query.lang)
    label = _label(conn, column, query.lang)
    context = _context(
        conn,
        settings,
        query,
        title=label,
        round_=round_,
        areas=False,
        level=level,
        filters=_filter_words(conn, query.lang, dimension=query.dimension),
    )
    made = kinds.choropleth(
        units,
        context,
        column=column,
        label=label,
        scheme=query.scheme,
        k=query.classes,
        tooltip=[("households", LABELS[query.lang]["households"])],
        popup=[
            ("problems", LABELS[query.lang]["problems"]),
            ("solved_pct", LABELS[query.lang]["solved_pct"]),
        ],
        area_label=LEVEL_NAMES[query.lang][level],
    )
    return Made(made, [])


def hexbin(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """Problems on H3 hexagons.

    The public (no scope) gets hexagons of 5 km² at the finest, small counts hidden, and no filters.
    """
    round_ = query.round or latest_round(conn)
    resolution = None
    if scope is None:
        # Filtered maps could be subtracted from the whole to expose a sensitive category.
        if query.category or query.dimension or query.status:
            raise ForbiddenError(
                "the public hexagon map takes no category, dimension or status: log in, or "
                "use the choropleth"
            )
        resolution = min(h3_resolution(analysis.area_km2(conn, query.area)), PUBLIC_H3)
    filters = _query_filters(conn, query)
    cells = analysis.hexagons(conn, query.area, round_, _filters(query), resolution, scope)
    if scope is None:
        cells = suppress_cells(cells)
    label = LABELS[query.lang]["problems"]
    context = _context(conn, settings, query, title=label, round_=round_, filters=filters)
    return Made(kinds.hexbin(cells, context, label=label), [])


def heatmap(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """Problems weighted at the centres of fine H3 cells (never one point per household)."""
    round_ = query.round or latest_round(conn)
    filters = _query_filters(conn, query)
    fine = min(h3_resolution(analysis.area_km2(conn, query.area)) + 2, 9)
    households = analysis.households(conn, query.area, round_, _filters(query), scope)
    points = cell_centres(households, fine)
    context = _context(
        conn,
        settings,
        query,
        title=WORDS[query.lang]["heat"],
        round_=round_,
        filters=filters,
    )
    return Made(kinds.heatmap(points, context, bounds=area_bounds(conn, query.area)), [])


def hotspots(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """The Gi* classes of a stored run (``run``, else the area's latest).

    The run's indicator, dimension, level, round and parameters are the map's title and subtitle.
    """
    run_id = query.run or conn.scalar(
        select(func.max(HotspotRun.id)).where(HotspotRun.area == query.area)
    )
    if run_id is None:
        raise NotFoundError(f"no hotspot run for area {query.area or 'Thailand'!r}: run one")
    layer = analysis.hotspot_layer(conn, run_id)
    run = layer.attrs["run"]
    if scope is not None and not scope.covers_area(str(run["area"])):
        raise NotFoundError(f"no hotspot run {run_id}")
    layer["name"] = layer["name_th" if query.lang == "th" else "name_en"]
    parameters = run["parameters"]
    context = _context(
        conn,
        settings,
        MapQuery(area=str(run["area"]), lang=query.lang),
        title=f"{WORDS[query.lang]['hotspots']}: {_label(conn, str(run['indicator']), query.lang)}",
        round_=int(run["round"]),
        areas=False,
        level=str(run["level"]),
        filters=_filter_words(conn, query.lang, dimension=parameters.get("dimension")),
        extra=LABELS[query.lang]["hotspot_run"].format(
            run=run_id,
            permutations=parameters.get("permutations"),
            alpha=parameters.get("alpha"),
        ),
    )
    return Made(kinds.hotspot_map(layer, context), [])


def targeting_map(
    conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None
) -> Made:
    """Areas by their targeting score (the stored ranking, else a new one), with its components."""
    level = _level(conn, query)
    config = targeting.load_config(settings.targeting_file)
    _, ranked = targeting.target_areas(
        conn, config, area=query.area, level=level, round_=query.round
    )
    points = [c for c in ranked.columns if c.endswith("_points")]
    figures = ranked.reset_index(names="code")
    figures[points] = figures[points].astype(float).round(2)
    figures["score"] = figures["score"].astype(float).round(2)
    units = _units(conn, query.area, level, figures, query.lang)
    units = units[units["score"].notna()]
    label = LABELS[query.lang]["score"]
    context = _context(
        conn,
        settings,
        query,
        title=label,
        round_=query.round or latest_round(conn),
        areas=False,
        level=level,
    )
    made = kinds.targeting_map(
        units,
        context,
        components=[(c, c.removesuffix("_points")) for c in points],
        label=label,
        area_label=LEVEL_NAMES[query.lang][level],
    )
    return Made(made, [])


def water(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """The water layers of the area, a raster clipped to the area, and household hexagons.

    The hexagons count households without clean water (aggregates: no household is drawn).
    """
    bounds = area_bounds(conn, query.area)
    layers = {
        kind: _clip(geosocial.features_frame(conn, kind, tuple(bounds)), bounds)
        for kind in WATER_KINDS
    }
    words = LABELS[query.lang]
    names = {kind: words[kind] for kind in WATER_KINDS}
    names["legend"] = words["water"]
    names["households"] = words["water_households"]
    round_ = query.round or latest_round(conn)
    cells = analysis.hexagons(
        conn, query.area, round_, analysis.Filters(category="no_clean_water"), None, scope
    )
    # Only where someone lacks clean water: empty hexagons would only cover the water layers.
    cells = cells[cells["problems"] > 0]
    chosen = _raster_choice(conn, query.raster)
    filters = [] if chosen is None else [f"{words['raster']}: {chosen[1]}"]
    context = _context(conn, settings, query, title=words["water"], round_=round_, filters=filters)
    raster = None
    if chosen is not None:
        outline = context.outline
        clip = None if outline is None else shapely.union_all(outline.geometry.to_numpy())
        image = _raster_image(conn, settings, chosen[0], bounds, clip)
        raster = None if image is None else (*image, chosen[1])
    made = kinds.water_map(
        layers, context, bounds=bounds, names=names, raster=raster, households=cells
    )
    return Made(made, [])


def households(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """Household points in clusters, inside the scope; hexagons above the cap."""
    if scope is None or scope.pseudonymised:
        raise ForbiddenError("household points are not shown to this role: use hexbin")
    round_ = query.round or latest_round(conn)
    filters = _query_filters(conn, query)
    frame = analysis.households(conn, query.area, round_, _filters(query), scope)
    frame = frame[frame["problems"] > 0]
    context = _context(
        conn,
        settings,
        query,
        title=LABELS[query.lang]["households_map"],
        round_=round_,
        filters=filters,
    )
    cap = settings.map_points_max
    if len(frame) > cap:
        cells = analysis.hexagons(conn, query.area, round_, _filters(query), None, scope)
        return Made(kinds.household_map(frame, context, cap=cap, cells=cells), [])
    frame["label"] = [
        f"{household} · {n} {LABELS[query.lang]['problems']}"
        for household, n in zip(frame["household_id"], frame["problems"], strict=True)
    ]
    return Made(kinds.household_map(frame, context, cap=cap), frame["household_id"].tolist())


def cases(conn: Connection, settings: Settings, query: MapQuery, scope: Scope | None) -> Made:
    """Cases by state, overdue ones ringed, with the offices holding them.

    Points (clustered) for roles that may see where households are, else counts per district.
    """
    if scope is None:
        raise ForbiddenError("the cases map needs a login")
    return _cases(conn, settings, query, scope, public=False)


def public_cases(conn: Connection, settings: Settings, query: MapQuery) -> Made:
    """Cases and overdue ones per district of the area, small counts hidden: for the gallery."""
    return _cases(conn, settings, query, Scope(role="analyst", pseudonymised=True), public=True)


def _cases(
    conn: Connection, settings: Settings, query: MapQuery, scope: Scope, *, public: bool
) -> Made:
    if query.state is not None and query.state not in STATE_NAMES[query.lang]:
        raise InvalidInputError(
            f"state: {query.state!r} is not one of {', '.join(STATE_NAMES[query.lang])}"
        )
    day = case_events.today(case_events.clock(settings))
    given = case_queries.CaseFilter(
        state=query.state,
        area=query.area or None,
        category=query.category,
        dimension=query.dimension,
        escalated=query.escalated,
    )
    words = LABELS[query.lang]
    filters = _filter_words(conn, query.lang, dimension=query.dimension, category=query.category)
    if query.state:
        filters.append(f"{words['state']}: {STATE_NAMES[query.lang][query.state]}")
    if query.escalated:
        filters.append(words["escalated"])
    context = _context(
        conn, settings, query, title=words["cases_map"], round_=None, filters=filters
    )
    offices = case_queries.case_offices(conn, scope, given, lang=query.lang, today=day)
    if public:
        # An office's count would give away the small counts the districts hide.
        offices = offices[offices["cases"] >= K_PUBLIC]
    if scope.pseudonymised or public:
        counts = case_queries.case_counts(conn, scope, given, level="district", today=day)
        if public:
            # Small counts hidden (with what would give them away), as in public figures.
            hidden = suppress(counts[["cases", "overdue"]], {}, [(["overdue"], "cases")])
            counts[["cases", "overdue"]] = counts[["cases", "overdue"]].astype(float).mask(hidden)
        units = _units(conn, query.area, "district", counts, query.lang)
        return Made(kinds.case_map(context, counts=units, offices=offices), [])
    points = case_queries.case_points(conn, scope, given, today=day)
    names = STATE_NAMES[query.lang]
    points["label"] = [
        f"#{i} · {h} · {c} · {names[s]} · {o}"
        + (f" · {WORDS[query.lang]['overdue']}" if late else "")
        for i, h, c, s, o, late in zip(
            points["id"], points["household_id"], points["category"], points["state"],
            points["office"], points["overdue"], strict=True,
        )
    ]  # fmt: skip
    made = kinds.case_map(context, points=points, offices=offices)
    return Made(made, sorted(set(points["household_id"])))


BUILDERS: dict[MapKind, Callable[[Connection, Settings, MapQuery, Scope | None], Made]] = {
    "choropleth": choropleth,
    "hexbin": hexbin,
    "heatmap": heatmap,
    "hotspots": hotspots,
    "water": water,
    "targeting": targeting_map,
    "households": households,
    "cases": cases,
}


def _filters(query: MapQuery) -> analysis.Filters:
    return analysis.Filters(query.dimension, query.category, query.status)


def _query_filters(conn: Connection, query: MapQuery) -> list[str]:
    """The query's dimension, category and status, as the map's title names them."""
    return _filter_words(
        conn, query.lang, dimension=query.dimension, category=query.category, status=query.status
    )


def _filter_words(
    conn: Connection,
    lang: str,
    *,
    dimension: str | None = None,
    category: str | None = None,
    status: str | None = None,
) -> list[str]:
    """Each filter in force as "what: which" in the map's language.

    An unknown one is refused (it would draw an empty map under a name nobody asked for).
    """
    words = LABELS[lang]
    shown = []
    if dimension:
        if dimension not in DIMENSION_NAMES[lang]:
            raise InvalidInputError(
                f"dimension: {dimension!r} is not one of {', '.join(DIMENSION_NAMES[lang])}"
            )
        shown.append(f"{words['dimension']}: {DIMENSION_NAMES[lang][dimension]}")
    if category:
        row = conn.execute(
            select(ProblemCategory.name_th, ProblemCategory.name_en).where(
                ProblemCategory.code == category
            )
        ).one_or_none()
        if row is None:
            raise InvalidInputError(f"category: no problem category {category!r}")
        shown.append(f"{words['category']}: {row[0] if lang == 'th' else row[1]}")
    if status:
        if status not in STATUS_NAMES[lang]:
            raise InvalidInputError(
                f"status: {status!r} is not one of {', '.join(STATUS_NAMES[lang])}"
            )
        shown.append(f"{words['status']}: {STATUS_NAMES[lang][status]}")
    return shown


def _level(conn: Connection, query: MapQuery) -> str:
    """The level of the areas an area map draws: the one asked for, else the one below the area.

    A province's districts, a district's subdistricts, the country's provinces.
    """
    if query.level:
        return query.level
    area = resolve_area(conn, query.area)
    if area.level not in BELOW:
        raise InvalidInputError(
            f"area {area.code!r} is a {area.level}: there are no admin areas below it to draw"
        )
    return BELOW[area.level]


def _context(
    conn: Connection,
    settings: Settings,
    query: MapQuery,
    *,
    title: str,
    round_: int | None,
    areas: bool = True,
    level: str | None = None,
    filters: Sequence[str] = (),
    extra: str = "",
) -> MapContext:
    """What the map shows besides its data.

    The title is ``title`` with the ``filters`` in force; the subtitle names the area, the
    ``level`` of the areas drawn (area maps), the round and ``extra``. ``areas``: the areas one
    level down, for maps without a layer of areas of their own to search.
    """
    words = LABELS[query.lang]
    area = resolve_area(conn, query.area)
    name = area.name_th if query.lang == "th" else area.name_en
    parts = [name or area.code]
    if level is not None:
        parts.append(words["by_level"].format(level=LEVEL_NAMES[query.lang][level].lower()))
    if round_ is not None:
        parts.append(f"{words['round']} {round_}")
    if extra:
        parts.append(extra)
    tiles = None if settings.map_tiles == "none" else settings.map_tiles
    return MapContext(
        title=f"{title} ({', '.join(filters)})" if filters else title,
        lang=query.lang,
        subtitle=" · ".join(parts),
        outline=_outline(conn, query.area),
        areas=_children(conn, area.code, area.level, query.lang) if areas else None,
        sources=SOURCES[query.lang],
        tiles=tiles,
        attribution=settings.map_attribution,
    )


def _sensitive(conn: Connection, code: str) -> bool:
    found = conn.scalar(select(ProblemCategory.sensitive).where(ProblemCategory.code == code))
    return bool(found)


def _label(conn: Connection, indicator: str, lang: str) -> str:
    if indicator.startswith("category:"):
        code = indicator.split(":", 1)[1]
        row = conn.execute(
            select(ProblemCategory.name_th, ProblemCategory.name_en).where(
                ProblemCategory.code == code
            )
        ).one_or_none()
        if row is None:
            raise InvalidInputError(f"indicator: no problem category {code!r}")
        per = "ต่อ 1,000 ครัวเรือน" if lang == "th" else "per 1,000 households"
        return f"{row[0] if lang == 'th' else row[1]} {per}"
    return LABELS[lang][indicator]


def _units(
    conn: Connection, area: str, level: str, figures: pd.DataFrame, lang: str
) -> gpd.GeoDataFrame:
    """The outlines of the areas of ``figures``, simplified for the map's extent."""
    outlines = _outlines(conn, area, level, lang)
    drop = [c for c in ("name_th", "name_en", "level", "round") if c in figures.columns]
    joined = outlines.merge(figures.drop(columns=drop), on="code", how="left")
    return gpd.GeoDataFrame(joined, geometry="geom", crs=4326)


def _outlines(conn: Connection, area: str, level: str, lang: str) -> gpd.GeoDataFrame:
    """The units at ``level`` in ``area``, named in the map's language.

    Simplified for the map's extent.
    """
    outlines = outlines_below(conn, area, level)
    extent_km = _extent_km(outlines.total_bounds) if len(outlines) else 0.0
    outlines = prepare.simplify_coverage(outlines, tolerance_m=max(extent_km / 1.5, 20.0))
    outlines["name"] = outlines["name_th" if lang == "th" else "name_en"]
    return outlines


def _children(conn: Connection, code: str, level: str, lang: str) -> gpd.GeoDataFrame | None:
    """The areas one level down, named in the map's language, for context and search."""
    if level not in BELOW:
        return None
    return _outlines(conn, code, BELOW[level], lang)


def _outline(conn: Connection, area: str) -> gpd.GeoDataFrame | None:
    if not area:
        return None
    frame = gpd.read_postgis(
        select(AdminUnit.geom).where(AdminUnit.code == area, AdminUnit.geom.is_not(None)),
        conn,
        geom_col="geom",
    )
    return prepare.simplify_coverage(frame, 50.0) if len(frame) else None


def _extent_km(bounds: Any) -> float:
    west, south, east, north = (float(b) for b in bounds)
    return max(east - west, north - south) * 111.32


def _clip(frame: gpd.GeoDataFrame, bounds: list[float]) -> gpd.GeoDataFrame:
    return frame.clip(bounds) if len(frame) else frame


def _raster_choice(conn: Connection, raster_id: str | None) -> tuple[str, str] | None:
    """The id and registered name of a raster: ``raster_id``, else the first flood frequency one.

    None when there is none.
    """
    if raster_id is None:
        raster_id = conn.scalar(
            select(Raster.id).where(Raster.kind == "flood_frequency").order_by(Raster.id).limit(1)
        )
        if raster_id is None:
            return None
    return raster_id, geosocial.raster_record(conn, raster_id)["name"] or raster_id


def _raster_image(
    conn: Connection,
    settings: Settings,
    raster_id: str,
    bounds: list[float],
    clip: shapely.Geometry | None = None,
) -> tuple[Any, tuple[float, float, float, float]] | None:
    """The registered raster over the area, as an image for the map, and its bounds.

    Only the part of the raster inside the area's bounds is read, at most
    :data:`RASTER_IMAGE_MAX` cells on a side (nearest cells); None when the raster does not
    reach the area. The image is cut to ``clip`` (the area's outline).
    """
    with geosocial.open_raster(conn, settings, raster_id) as dataset:
        box = transform_bounds("EPSG:4326", dataset.crs, *bounds)
        wanted = from_bounds(*box, transform=dataset.transform).round_offsets().round_lengths()
        try:
            window = wanted.intersection(Window(0, 0, dataset.width, dataset.height))
        except WindowError:  # also when it only touches the area's edge
            return None
        step = max(1.0, max(window.width, window.height) / RASTER_IMAGE_MAX)
        shape = (max(1, round(window.height / step)), max(1, round(window.width / step)))
        values = dataset.read(1, window=window, out_shape=shape, resampling=Resampling.nearest)
        transform = dataset.window_transform(window) * Affine.scale(
            window.width / shape[1], window.height / shape[0]
        )
        return prepare.raster_image(values, transform, dataset.crs, dataset.nodata, clip=clip)
