"""Folium maps of the analysis: GeoDataFrames in, ``folium.Map`` out.

Every map has Thai or English labels, tooltips, a layer control, a scale, a fullscreen button, a
search box over area names, the area's outline for context and a footer naming the data's sources
and licences. Which assets the page loads is decided later (``geo.maps.assets``): nothing here
names a CDN.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.transform
import shapely
from branca.element import MacroElement, Template
from branca.utilities import color_brewer
from folium import plugins
from matplotlib import colormaps
from rasterio.features import geometry_mask
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from geo.crs import require_crs
from geo.errors import InvalidInputError

SCHEMES = {
    "quantiles": "Quantiles",
    "natural_breaks": "FisherJenks",  # Jenks' optimal breaks: the same every time
    "equal_interval": "EqualInterval",
}
#: Shown on every map: words in Thai and English.
WORDS: dict[str, dict[str, str]] = {
    "th": {
        "boundary": "ขอบเขตพื้นที่",
        "no_data": "ไม่มีข้อมูล / ปกปิด",
        "area": "พื้นที่",
        "search": "ค้นหาพื้นที่",
        "areas": "พื้นที่ย่อย",
        "low": "น้อย",
        "high": "มาก",
        "households": "ครัวเรือน",
        "problems": "ปัญหา",
        "score": "คะแนน",
        "rank": "ลำดับ",
        "fallback": "จุดมากเกินไป ({n:,} > {cap:,}): แสดงเป็นรูปหกเหลี่ยมแทน",
        "hexagons": "รูปหกเหลี่ยม H3",
        "heat": "ความหนาแน่นของปัญหา",
        "hotspots": "จุดร้อน/จุดเย็น (Gi*)",
        "raster": "แรสเตอร์",
        "class": "ประเภท",
        "per_1000": "ต่อ 1,000 ครัวเรือน",
        "value": "ค่า",
    },
    "en": {
        "boundary": "Area boundary",
        "no_data": "No data / hidden",
        "area": "Area",
        "search": "Find an area",
        "areas": "Areas within",
        "low": "low",
        "high": "high",
        "households": "Households",
        "problems": "Problems",
        "score": "Score",
        "rank": "Rank",
        "fallback": "Too many points ({n:,} > {cap:,}): shown as hexagons instead",
        "hexagons": "H3 hexagons",
        "heat": "Problem density",
        "hotspots": "Hot and cold spots (Gi*)",
        "raster": "Raster",
        "class": "Class",
        "per_1000": "per 1,000 households",
        "value": "Value",
    },
}
GI_COLOURS = {
    "hot_99": "#b2182b",
    "hot_95": "#ef8a62",
    "hot_90": "#fddbc7",
    "not_significant": "#f0f0f0",
    "cold_90": "#d1e5f0",
    "cold_95": "#67a9cf",
    "cold_99": "#2166ac",
}
GI_LABELS = {
    "th": {
        "hot_99": "จุดร้อน 99 %",
        "hot_95": "จุดร้อน 95 %",
        "hot_90": "จุดร้อน 90 %",
        "not_significant": "ไม่มีนัยสำคัญ",
        "cold_90": "จุดเย็น 90 %",
        "cold_95": "จุดเย็น 95 %",
        "cold_99": "จุดเย็น 99 %",
    },
    "en": {
        "hot_99": "Hot spot 99 %",
        "hot_95": "Hot spot 95 %",
        "hot_90": "Hot spot 90 %",
        "not_significant": "Not significant",
        "cold_90": "Cold spot 90 %",
        "cold_95": "Cold spot 95 %",
        "cold_99": "Cold spot 99 %",
    },
}
WATER_STYLE = {
    "flood_zones": "#4393c3",
    "drought_zones": "#d6604d",
    "waterways": "#2166ac",
    "water_sources": "#053061",
}
NO_DATA = "#d9d9d9"
#: The water map's vector layers from the bottom up (``households``: the hexagons).
WATER_ORDER = ("flood_zones", "drought_zones", "households", "waterways", "water_sources")
#: The pane of the water map's raster, under the overlay pane (400) of the vector layers.
RASTER_PANE = "bmr-raster"


@dataclass(frozen=True)
class MapContext:
    """What every map shows besides its data.

    ``title`` and ``subtitle`` are already in the map's language; ``outline`` is the area's
    boundary (EPSG:4326); ``areas`` are the areas one level down (``name``), drawn as thin lines
    and searched by name on maps that have no layer of areas of their own; ``sources`` are
    footer lines (source and licence); ``tiles`` is a Leaflet tile URL or folium's name of one,
    None for a plain basemap (offline).
    """

    title: str
    lang: str = "th"
    subtitle: str = ""
    outline: gpd.GeoDataFrame | None = None
    areas: gpd.GeoDataFrame | None = None
    sources: Sequence[str] = ()
    tiles: str | None = "OpenStreetMap"
    attribution: str | None = None
    notes: list[str] = field(default_factory=list)

    def word(self, key: str) -> str:
        return WORDS[self.lang][key]


@dataclass(frozen=True)
class Classes:
    """Class breaks of a numeric indicator, and each value's class (-1: no data)."""

    scheme: str
    upper: list[float]
    minimum: float
    classes: np.ndarray
    colours: list[str]

    def labels(self) -> list[str]:
        if not self.upper:
            return []
        lows = [self.minimum, *self.upper[:-1]]
        return [f"{_num(lo)} – {_num(hi)}" for lo, hi in zip(lows, self.upper, strict=True)]

    def colour_of(self, value_class: int) -> str:
        return NO_DATA if value_class < 0 else self.colours[value_class]


def classify(values: pd.Series, scheme: str = "quantiles", k: int = 5) -> Classes:
    """Classes of ``values`` by ``mapclassify`` (quantiles, natural breaks or equal interval).

    Missing values (no data, or hidden by disclosure control) get class -1.
    """
    if scheme not in SCHEMES:
        raise InvalidInputError(f"scheme: {scheme!r} is not one of {', '.join(SCHEMES)}")
    if not 3 <= k <= 9:
        raise InvalidInputError(f"classes: {k} is not between 3 and 9")
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    known = numbers.dropna().to_numpy()
    classes = np.full(len(numbers), -1, dtype=int)
    if not len(known):
        return Classes(scheme, [], 0.0, classes, [])
    distinct = len(np.unique(known))
    k = min(k, distinct) if distinct > 1 else 1
    if k == 1:
        upper, minimum = [float(known.max())], float(known.min())
        classes[numbers.notna().to_numpy()] = 0
    else:
        import mapclassify  # here, not above: it imports matplotlib, a second's start-up

        fitted = getattr(mapclassify, SCHEMES[scheme])(known, k=k)
        upper = [float(b) for b in fitted.bins]
        minimum = float(known.min())
        classes[numbers.notna().to_numpy()] = np.asarray(fitted.yb, dtype=int)
    colours = color_brewer("YlOrRd", n=max(len(upper), 3))[-len(upper) :]
    return Classes(scheme, upper, minimum, classes, list(colours))


def simplify_coverage(frame: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """Polygons that tile an area, simplified together so shared borders stay shared.

    The tolerance is in metres (taken as degrees at the equator: close enough for a zoom level);
    coordinates are then rounded to 1e-5 degrees (about a metre), vertex by vertex.
    """
    require_crs(frame)
    if frame.empty or tolerance_m <= 0:
        return frame
    geoms = frame.geometry.to_numpy()
    simplified = shapely.coverage_simplify(geoms, tolerance_m / 111_320.0)
    rounded = shapely.set_precision(simplified, 1e-5, mode="pointwise")
    out = frame.copy()
    # Rounding may collapse a sliver to a line; only the polygons are kept.
    out[frame.geometry.name] = shapely.make_valid(rounded, method="structure", keep_collapsed=False)
    return out


def raster_image(
    values: np.ndarray,
    transform: Any,
    crs: Any,
    nodata: float | None,
    cmap: str = "Blues",
    clip: shapely.Geometry | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A raster band as an RGBA image in Web Mercator (what Leaflet draws), and its bounds in
    degrees (west, south, east, north).

    Nodata and zero cells are transparent, and so is every cell whose centre lies outside
    ``clip`` (a polygon in EPSG:4326: the area's outline) when one is given.
    """
    rows, cols = values.shape
    west, south, east, north = rasterio.transform.array_bounds(rows, cols, transform)
    target, width, height = calculate_default_transform(
        crs, "EPSG:3857", cols, rows, west, south, east, north
    )
    mercator = np.full((height, width), np.nan, dtype="float32")
    source = values.astype("float32")
    if nodata is not None:
        source[values == nodata] = np.nan
    reproject(
        source,
        mercator,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=target,
        dst_crs="EPSG:3857",
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    shown = np.isfinite(mercator) & (mercator != 0)
    if clip is not None:
        # Edges straight in degrees are curves in Web Mercator: densified first.
        dense = shapely.segmentize(clip, 0.005)
        outline = gpd.GeoSeries([dense], crs=4326).to_crs(3857)
        shown &= geometry_mask(outline, out_shape=(height, width), transform=target, invert=True)
    top = float(np.nanmax(mercator[shown])) if shown.any() else 1.0
    rgba = (colormaps[cmap](np.clip(np.nan_to_num(mercator) / (top or 1.0), 0, 1)) * 255).astype(
        "uint8"
    )
    rgba[..., 3] = np.where(shown, 200, 0)
    left, bottom, right, top_ = rasterio.transform.array_bounds(height, width, target)
    box = transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top_)
    return rgba, (box[0], box[1], box[2], box[3])


def base_map(context: MapContext, bounds: Sequence[float]) -> folium.Map:
    """An empty map fitted to ``bounds`` (west, south, east, north), with the context layers."""
    west, south, east, north = (float(b) for b in bounds)
    # Without a tile layer the map itself must know its zoom range (clusters ask it).
    zoom: dict[str, Any] = {"maxZoom": 18}
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, **zoom)
    if context.tiles is not None:
        tiles = folium.TileLayer(context.tiles, attr=context.attribution)
        _OnlineTiles(tiles.tiles, str(tiles.options["attribution"])).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    plugins.Fullscreen(position="topleft").add_to(m)
    if context.outline is not None and not context.outline.empty:
        require_crs(context.outline)
        folium.GeoJson(
            context.outline[[context.outline.geometry.name]].to_crs(4326),
            name=context.word("boundary"),
            style_function=lambda _: {"color": "#333", "weight": 2, "fill": False},
            interactive=False,
        ).add_to(m)
    return m


def finish(
    m: folium.Map,
    context: MapContext,
    *,
    search: folium.GeoJson | None = None,
    legend: str = "",
) -> folium.Map:
    """The layer control, the search box, the title, the legend and the footer."""
    if search is None and context.areas is not None and not context.areas.empty:
        search = folium.GeoJson(
            _geojson(context.areas, ["name"]),
            name=context.word("areas"),
            style_function=lambda _: {"color": "#888", "weight": 0.7, "fill": False},
            interactive=False,
        )
        search.add_to(m)
    if search is not None:
        plugins.Search(
            layer=search,
            search_label="name",
            placeholder=context.word("search"),
            collapsed=False,
            position="topright",
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    notes = "".join(f"<div class='bmr-note'>{html.escape(n)}</div>" for n in context.notes)
    title = (
        f"<div class='bmr-title'><b>{html.escape(context.title)}</b>"
        f"<div>{html.escape(context.subtitle)}</div>{notes}</div>"
    )
    footer = " · ".join(html.escape(s) for s in context.sources)
    _Overlay(title, legend, f"<div class='bmr-footer'>{footer}</div>").add_to(m)
    return m


def legend_html(title: str, rows: Sequence[tuple[str, str]], note: str = "") -> str:
    """A legend: a title, then one swatch and label per row, then a note (the data's date)."""
    swatches = "".join(
        f"<div><i style='background:{colour}'></i>{html.escape(label)}</div>"
        for colour, label in rows
    )
    return (
        f"<div class='bmr-legend'><b>{html.escape(title)}</b>{swatches}"
        f"<div class='bmr-note'>{html.escape(note)}</div></div>"
    )


def choropleth(
    units: gpd.GeoDataFrame,
    context: MapContext,
    *,
    column: str,
    label: str,
    scheme: str = "quantiles",
    k: int = 5,
    tooltip: Sequence[tuple[str, str]] = (),
    popup: Sequence[tuple[str, str]] = (),
    name: str | None = None,
    area_label: str | None = None,
) -> folium.Map:
    """Areas coloured by ``column`` in classes, with a legend that states them.

    Parameters
    ----------
    units : GeoDataFrame
        One row per area in EPSG:4326 with ``code``, ``name`` (in the map's language) and
        ``column`` (None where there is no figure, or it is hidden).
    tooltip, popup
        (column, label) pairs shown on hover and on click.
    area_label : str, optional
        What the areas' names are labelled in the tooltip (the level's name, as "อำเภอ");
        "พื้นที่" / "Area" by default.
    """
    _check_units(units, [column])
    classes = classify(units[column], scheme, k)
    frame = units.copy()
    frame["_fill"] = [classes.colour_of(c) for c in classes.classes]
    m = base_map(context, _extent(frame, context))
    fields = [("name", area_label or context.word("area")), (column, label), *tooltip]
    layer = folium.GeoJson(
        _geojson(frame, [*[f for f, _ in [*fields, *popup]], "_fill"]),
        name=name or label,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#555",
            "weight": 0.6,
            "fillOpacity": 0.75,
        },
        highlight_function=lambda _: {"weight": 2.5, "color": "#000"},
        tooltip=_tooltip(frame, fields),
        popup=_tooltip(frame, [*fields, *popup], folium.GeoJsonPopup),
    )
    layer.add_to(m)
    rows = list(zip(classes.colours, classes.labels(), strict=True))
    if (classes.classes < 0).any():
        rows.append((NO_DATA, context.word("no_data")))
    scheme_name = scheme.replace("_", " ")
    legend = legend_html(label, rows, f"{scheme_name} · {context.subtitle}")
    return finish(m, context, search=layer, legend=legend)


def hexbin(
    cells: gpd.GeoDataFrame,
    context: MapContext,
    *,
    column: str = "problems",
    label: str | None = None,
) -> folium.Map:
    """H3 cells coloured by ``column`` (counts or rates), in quantile classes."""
    label = label or context.word("problems")
    m = base_map(context, _extent(cells, context))
    layer, rows = _hexagons(
        cells, context, column=column, label=label, name=context.word("hexagons")
    )
    layer.add_to(m)
    return finish(m, context, legend=legend_html(label, rows, context.subtitle))


def heatmap(points: pd.DataFrame, context: MapContext, *, bounds: Sequence[float]) -> folium.Map:
    """A heatmap of weighted points (``lat``, ``lon``, ``weight``): positions already
    aggregated (cell centres), never one point per household."""
    m = base_map(context, bounds)
    data = points[["lat", "lon", "weight"]].astype(float).round(5).to_numpy().tolist()
    plugins.HeatMap(data, name=context.word("heat"), radius=14, blur=18, max_zoom=12).add_to(m)
    legend = legend_html(
        context.word("heat"),
        [
            ("#0000ff", context.word("low")),
            ("#00ff00", ""),
            ("#ffff00", ""),
            ("#ff0000", context.word("high")),
        ],
        context.subtitle,
    )
    return finish(m, context, legend=legend)


def hotspot_map(layer: gpd.GeoDataFrame, context: MapContext) -> folium.Map:
    """Gi* classes of a stored run; the run's parameters are in the subtitle."""
    _check_units(layer, ["gi_class"])
    labels = GI_LABELS[context.lang]
    frame = layer.copy()
    frame["_fill"] = frame["gi_class"].map(GI_COLOURS).fillna(NO_DATA)
    frame["class_label"] = frame["gi_class"].map(labels)
    m = base_map(context, _extent(frame, context))
    words = {
        "name": context.word("area"),
        "class_label": f"Gi* {context.word('class')}",
        "value": context.word("value"),
        "gi_z": "Gi* z",
        "gi_p": "p",
        "moran_class": "Local Moran",
    }
    fields = [c for c in words if c in frame]
    layer_ = folium.GeoJson(
        _geojson(frame, [*fields, "_fill"]),
        name=context.word("hotspots"),
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#666",
            "weight": 0.5,
            "fillOpacity": 0.8,
        },
        tooltip=_tooltip(frame, [(c, words[c]) for c in fields]),
    )
    layer_.add_to(m)
    rows = [(GI_COLOURS[c], labels[c]) for c in GI_COLOURS]
    return finish(
        m,
        context,
        search=layer_,
        legend=legend_html(context.word("hotspots"), rows, context.subtitle),
    )


def water_map(
    layers: dict[str, gpd.GeoDataFrame],
    context: MapContext,
    *,
    bounds: Sequence[float],
    names: dict[str, str],
    raster: tuple[np.ndarray, Sequence[float], str] | None = None,
    households: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Water sources, waterways, flood and drought zones and a raster over hexagons of
    households with water problems.

    From the bottom up: the raster, the flood and drought zones, the hexagons (half
    transparent, and only where they have households), the waterways and the water sources,
    all shown. The hexagons are the map's question and the sources and waterways what to look
    for near them, so both must be seen at once: points and lines above every polygon are
    never covered and always answer the pointer; the hexagons, the data, answer it before the
    zones, which show through them. The order holds when a layer is switched off and on again.

    Parameters
    ----------
    layers : dict
        Kind (``WATER_STYLE``) → features in EPSG:4326 (``name``, ``status`` shown).
    names : dict
        Kind → layer name, and ``legend`` (the legend's title) and ``households`` (the hexagons').
    raster : tuple, optional
        An RGBA image (rows × cols × 4, uint8) in Web Mercator, its bounds (west, south, east,
        north in degrees) and its name.
    households : GeoDataFrame, optional
        Hexagons of households with water problems (``problems`` counts).
    """
    m = base_map(context, bounds)
    if raster is not None:
        # Under the overlay pane, whose one canvas draws every vector layer: the image never
        # covers them, even when switched off and on.
        folium.map.CustomPane(RASTER_PANE, z_index=350).add_to(m)
        image, (west, south, east, north), raster_name = raster
        folium.raster_layers.ImageOverlay(
            image,
            bounds=[[south, west], [north, east]],
            name=raster_name,
            opacity=0.6,
            mercator_project=False,
            pane=RASTER_PANE,
        ).add_to(m)
    drawn: list[folium.map.Layer] = []
    cell_rows: list[tuple[str, str]] = []
    for kind in WATER_ORDER:
        if kind == "households":
            if households is None or households.empty:
                continue
            label = names.get("households") or context.word("problems")
            cells, cell_rows = _hexagons(
                households, context, column="problems", label=label, name=label, opacity=0.5
            )
            drawn.append(cells)
            continue
        frame = layers.get(kind)
        if frame is None or frame.empty:
            continue
        require_crs(frame)
        drawn.append(_water_layer(kind, frame, names[kind]))
    for layer in drawn:
        layer.add_to(m)
    _KeepOrder(drawn).add_to(m)
    rows = [(WATER_STYLE[k], names[k]) for k in WATER_STYLE if k in layers]
    if raster is not None:
        rows.append(("linear-gradient(90deg, #f7fbff, #08306b)", f"{raster[2]} (0 → max)"))
    if cell_rows:
        rows += [(colour, f"{names.get('households', '')}: {text}") for colour, text in cell_rows]
    return finish(m, context, legend=legend_html(names.get("legend", ""), rows, context.subtitle))


def targeting_map(
    ranked: gpd.GeoDataFrame,
    context: MapContext,
    *,
    components: Sequence[tuple[str, str]],
    label: str,
    area_label: str | None = None,
) -> folium.Map:
    """Areas coloured by targeting score; the popup lists every component's points."""
    return choropleth(
        ranked,
        context,
        column="score",
        label=label,
        scheme="quantiles",
        tooltip=[("rank", context.word("rank"))],
        popup=list(components),
        area_label=area_label,
    )


def household_map(
    points: gpd.GeoDataFrame,
    context: MapContext,
    *,
    cap: int,
    cells: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Household points in clusters; above ``cap`` points, ``cells`` (hexagons) instead, and the
    map says so."""
    require_crs(points)
    if len(points) > cap:
        if cells is None:
            raise InvalidInputError(f"{len(points):,} households, more than {cap:,}")
        note = context.word("fallback").format(n=len(points), cap=cap)
        return hexbin(cells, replace(context, notes=[*context.notes, note]))
    m = base_map(context, points.total_bounds if len(points) else _bounds(context))
    data = [
        [round(p.y, 6), round(p.x, 6), html.escape(str(label))]
        for p, label in zip(points.geometry, points["label"], strict=True)
    ]
    plugins.FastMarkerCluster(
        data,
        name=context.word("households"),
        callback=(
            "function (row) {"
            " var m = L.circleMarker(new L.LatLng(row[0], row[1]),"
            " {radius: 5, color: '#b2182b', weight: 1, fillOpacity: 0.8});"
            " m.bindTooltip(row[2]); return m; }"
        ),
    ).add_to(m)
    legend = legend_html(context.word("households"), [("#b2182b", f"{len(points):,}")])
    return finish(m, context, legend=legend)


def _hexagons(
    cells: gpd.GeoDataFrame,
    context: MapContext,
    *,
    column: str,
    label: str,
    name: str,
    opacity: float = 0.7,
) -> tuple[folium.GeoJson, list[tuple[str, str]]]:
    """H3 cells coloured by ``column`` in quantile classes, and the legend's rows of them."""
    _check_units(cells, [column])
    classes = classify(cells[column], "quantiles", 5)
    frame = cells.copy()
    frame["_fill"] = [classes.colour_of(c) for c in classes.classes]
    words = {
        "h3": "H3",
        "households": context.word("households"),
        column: label,
        "problems_per_1000": f"{context.word('problems')} {context.word('per_1000')}",
    }
    shown = [c for c in words if c in frame]
    layer = folium.GeoJson(
        _geojson(frame, [*shown, "_fill"]),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#777",
            "weight": 0.3,
            "fillOpacity": opacity,
        },
        tooltip=_tooltip(frame, [(c, words[c]) for c in shown]),
    )
    rows = list(zip(classes.colours, classes.labels(), strict=True))
    if (classes.classes < 0).any():
        rows.append((NO_DATA, context.word("no_data")))
    return layer, rows


def _water_layer(kind: str, frame: gpd.GeoDataFrame, name: str) -> folium.map.Layer:
    """One water layer: the sources as circles, the others as lines or areas."""
    colour = WATER_STYLE[kind]
    shown = [c for c in ("name", "status") if c in frame]
    if kind == "water_sources":
        group = folium.FeatureGroup(name=name)
        tips = frame[shown].astype(str).map(html.escape).agg(" · ".join, axis=1) if shown else None
        for i, point in enumerate(frame.geometry):
            folium.CircleMarker(
                [point.y, point.x],
                radius=4,
                color=colour,
                fill=True,
                fill_opacity=0.9,
                tooltip=None if tips is None else tips.iloc[i],
            ).add_to(group)
        return group
    return folium.GeoJson(
        _geojson(frame, shown),
        name=name,
        style_function=lambda _: {
            "color": colour,
            "weight": 1.5,
            "fillColor": colour,
            "fillOpacity": 0.3,
        },
        tooltip=_tooltip(frame, [(c, c) for c in shown]),
    )


def _tooltip(
    frame: gpd.GeoDataFrame,
    fields: Sequence[tuple[str, str]],
    kind: type[folium.GeoJsonTooltip] | type[folium.GeoJsonPopup] = folium.GeoJsonTooltip,
) -> Any:
    """A tooltip (or popup) of (column, label) pairs; None for an empty layer or no fields,
    which folium refuses."""
    if frame.empty or not fields:
        return None
    return kind(fields=[f for f, _ in fields], aliases=[a for _, a in fields], localize=True)


def _extent(frame: gpd.GeoDataFrame, context: MapContext) -> Sequence[float]:
    return [float(b) for b in frame.total_bounds] if len(frame) else _bounds(context)


def _bounds(context: MapContext) -> Sequence[float]:
    if context.outline is None or context.outline.empty:
        return (97.3, 5.6, 105.7, 20.5)  # Thailand
    return [float(b) for b in context.outline.total_bounds]


def _check_units(frame: gpd.GeoDataFrame, columns: list[str]) -> None:
    require_crs(frame)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"the layer has no column {', '.join(missing)}")


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """The columns a map shows, as GeoJSON: nothing else of the frame goes into the page."""
    keep = [c for c in dict.fromkeys(columns) if c in frame.columns]
    shown = frame[[*keep, frame.geometry.name]].copy()
    # Leaflet puts tooltip and popup text into the page as HTML: names from imported files must
    # not carry markup.
    for column in keep:
        if shown[column].dtype == object or pd.api.types.is_string_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: html.escape(v) if isinstance(v, str) else v)
    return shown.__geo_interface__


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


class _OnlineTiles(MacroElement):
    """A basemap of tiles added only when the browser is online: offline (a mailed file, a
    cut-off office) the map keeps its plain background and requests nothing."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (navigator.onLine) {
            L.tileLayer({{ this.url|tojson }}, {
                attribution: {{ this.attribution|tojson }}, maxZoom: 18
            }).addTo({{ this._parent.get_name() }});
        }
        {% endmacro %}
        """
    )

    def __init__(self, url: str, attribution: str) -> None:
        super().__init__()
        self._name = "OnlineTiles"
        self.url = url
        self.attribution = attribution


class _Overlay(MacroElement):
    """The title box, the legend and the footer, drawn over the map."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .bmr-title {position: absolute; top: 10px; left: 60px; z-index: 1000; background: #fff;
            padding: 6px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3);
            font: 14px/1.3 sans-serif; max-width: 45%;}
        .bmr-legend {position: absolute; bottom: 34px; right: 10px; z-index: 1000;
            background: #fff; padding: 6px 10px; border-radius: 4px; font: 12px/1.5 sans-serif;
            box-shadow: 0 1px 4px rgba(0,0,0,.3);}
        .bmr-legend i {display: inline-block; width: 14px; height: 12px; margin-right: 6px;
            vertical-align: middle; opacity: .85;}
        .bmr-note {color: #555; font-size: 11px;}
        .leaflet-bottom {margin-bottom: 18px;}
        .bmr-footer {position: absolute; bottom: 0; left: 0; right: 0; z-index: 999;
            background: rgba(255,255,255,.85); font: 11px/1.4 sans-serif; padding: 2px 8px;}
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        {{ this.title }}{{ this.legend }}{{ this.footer }}
        {% endmacro %}
        """
    )

    def __init__(self, title: str, legend: str, footer: str) -> None:
        super().__init__()
        self._name = "BamrungOverlay"
        self.title = title
        self.legend = legend
        self.footer = footer


class _KeepOrder(MacroElement):
    """Draws ``layers`` in their order again whenever an overlay is switched on: Leaflet puts
    a layer added back on top of the others."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, layers) {
            map.on("overlayadd", function () {
                layers.forEach(function (layer) {
                    if (map.hasLayer(layer)) { layer.bringToFront(); }
                });
            });
        })({{ this._parent.get_name() }}, [{{ this.names|join(", ") }}]);
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[folium.map.Layer]) -> None:
        super().__init__()
        self._name = "KeepOrder"
        self.names = [layer.get_name() for layer in layers]
