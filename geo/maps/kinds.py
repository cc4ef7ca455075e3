"""The kinds of map (``geo.vocab.MAP_KINDS``): GeoDataFrames in, ``folium.Map`` out.

Each kind draws its data on a :func:`~geo.maps.page.base_map` and ends with
:func:`~geo.maps.page.finish`, which adds the page's furniture; colours come from
``geo.maps.style`` and words from ``geo.maps.words``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium import plugins

from geo.crs import require_crs
from geo.errors import InvalidInputError
from geo.maps.page import (
    KeepOrder,
    MapContext,
    base_map,
    extent,
    finish,
    legend_html,
    outline_bounds,
)
from geo.maps.style import (
    CASE_COLOURS,
    GI_COLOURS,
    NO_DATA,
    OFFICE,
    OVERDUE,
    WATER_STYLE,
    classify,
)
from geo.maps.vectors import check_units, field_tips, geojson
from geo.maps.words import GI_LABELS, STATE_NAMES

#: The water map's vector layers from the bottom up (``households``: the hexagons).
WATER_ORDER = ("flood_zones", "drought_zones", "households", "waterways", "water_sources")
#: The pane of the water map's raster, under the overlay pane (400) of the vector layers.
RASTER_PANE = "bmr-raster"


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

    Returns
    -------
    folium.Map
        The map; the areas' layer is the one searched by name.
    """
    check_units(units, [column])
    classes = classify(units[column], scheme, k)
    frame = units.copy()
    frame["_fill"] = [classes.colour_of(c) for c in classes.classes]
    m = base_map(context, extent(frame, context))
    fields = [("name", area_label or context.word("area")), (column, label), *tooltip]
    layer = folium.GeoJson(
        geojson(frame, [*[f for f, _ in [*fields, *popup]], "_fill"]),
        name=name or label,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#555",
            "weight": 0.6,
            "fillOpacity": 0.75,
        },
        highlight_function=lambda _: {"weight": 2.5, "color": "#000"},
        tooltip=field_tips(frame, fields),
        popup=field_tips(frame, [*fields, *popup], folium.GeoJsonPopup),
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
    """H3 cells coloured by ``column`` (counts or rates), in quantile classes.

    Parameters
    ----------
    cells : GeoDataFrame
        Hexagons with a CRS and ``column``; ``h3``, ``households`` and ``problems_per_1000``
        are shown too where present.
    column : str
        The figure that colours the cells.
    label : str, optional
        The figure's name in the tooltip and legend; "problems" in the map's language by default.

    Returns
    -------
    folium.Map
    """
    label = label or context.word("problems")
    m = base_map(context, extent(cells, context))
    layer, rows = _hexagons(
        cells, context, column=column, label=label, name=context.word("hexagons")
    )
    layer.add_to(m)
    return finish(m, context, legend=legend_html(label, rows, context.subtitle))


def heatmap(points: pd.DataFrame, context: MapContext, *, bounds: Sequence[float]) -> folium.Map:
    """A heatmap of weighted points.

    Parameters
    ----------
    points : DataFrame
        ``lat``, ``lon`` and ``weight``: positions already aggregated (cell centres), never one
        point per household.
    bounds : sequence of float
        West, south, east, north in degrees.

    Returns
    -------
    folium.Map
    """
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
    """Gi* classes of a stored run; the run's parameters are in the subtitle.

    Parameters
    ----------
    layer : GeoDataFrame
        Areas with a CRS and ``gi_class`` (a key of ``GI_COLOURS``); ``name``, ``value``,
        ``gi_z``, ``gi_p`` and ``moran_class`` are shown where present.

    Returns
    -------
    folium.Map
    """
    check_units(layer, ["gi_class"])
    labels = GI_LABELS[context.lang]
    frame = layer.copy()
    frame["_fill"] = frame["gi_class"].map(GI_COLOURS).fillna(NO_DATA)
    frame["class_label"] = frame["gi_class"].map(labels)
    m = base_map(context, extent(frame, context))
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
        geojson(frame, [*fields, "_fill"]),
        name=context.word("hotspots"),
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#666",
            "weight": 0.5,
            "fillOpacity": 0.8,
        },
        tooltip=field_tips(frame, [(c, words[c]) for c in fields]),
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
    """Water sources, waterways, flood and drought zones and a raster over household hexagons.

    The hexagons are of the households with water problems.

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

    Returns
    -------
    folium.Map
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
    KeepOrder(drawn).add_to(m)
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
    """Areas coloured by targeting score; the popup lists every component's points.

    Parameters
    ----------
    ranked : GeoDataFrame
        Areas as :func:`choropleth` takes them, with ``score`` and ``rank``.
    components : sequence of (str, str)
        (column, label) of each component's points, shown on click.
    label : str
        The score's name.
    area_label : str, optional
        As in :func:`choropleth`.

    Returns
    -------
    folium.Map
    """
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
    """Household points in clusters; above ``cap`` points, ``cells`` (hexagons) instead.

    When it falls back to ``cells``, the map says so.

    Parameters
    ----------
    points : GeoDataFrame
        Households in EPSG:4326 with ``label`` (the tooltip).
    cap : int
        The most points drawn.
    cells : GeoDataFrame, optional
        Hexagons for :func:`hexbin` when there are more points than ``cap``.

    Returns
    -------
    folium.Map

    Raises
    ------
    InvalidInputError
        If there are more points than ``cap`` and no cells.
    """
    require_crs(points)
    if len(points) > cap:
        if cells is None:
            raise InvalidInputError(f"{len(points):,} households, more than {cap:,}")
        note = context.word("fallback").format(n=len(points), cap=cap)
        return hexbin(cells, replace(context, notes=[*context.notes, note]))
    m = base_map(context, points.total_bounds if len(points) else outline_bounds(context))
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
    check_units(cells, [column])
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
        geojson(frame, [*shown, "_fill"]),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#777",
            "weight": 0.3,
            "fillOpacity": opacity,
        },
        tooltip=field_tips(frame, [(c, words[c]) for c in shown]),
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
        geojson(frame, shown),
        name=name,
        style_function=lambda _: {
            "color": colour,
            "weight": 1.5,
            "fillColor": colour,
            "fillOpacity": 0.3,
        },
        tooltip=field_tips(frame, [(c, c) for c in shown]),
    )


def case_map(
    context: MapContext,
    *,
    points: gpd.GeoDataFrame | None = None,
    counts: gpd.GeoDataFrame | None = None,
    offices: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Cases by state with the overdue ones ringed: as clustered points, or counted by area.

    Parameters
    ----------
    points : GeoDataFrame, optional
        One row per case (EPSG:4326) with ``state``, ``overdue`` and ``label`` (the tooltip),
        for roles that may see where households are.
    counts : GeoDataFrame, optional
        Areas (EPSG:4326) with ``code``, ``name``, ``cases`` and ``overdue`` (None: none, or
        hidden): the others' view.
    offices : GeoDataFrame, optional
        The offices the cases are with (points with ``name`` and ``cases``), as markers.

    Returns
    -------
    folium.Map
    """
    names = STATE_NAMES[context.lang]
    if points is not None:
        require_crs(points)
        m = base_map(context, points.total_bounds if len(points) else outline_bounds(context))
        data = [
            [
                round(p.y, 6),
                round(p.x, 6),
                CASE_COLOURS[state],
                OVERDUE if late else CASE_COLOURS[state],
                html.escape(str(label)),
            ]
            for p, state, late, label in zip(
                points.geometry, points["state"], points["overdue"], points["label"], strict=True
            )
        ]
        plugins.FastMarkerCluster(
            data,
            name=context.word("cases"),
            callback=(
                "function (row) {"
                " var m = L.circleMarker(new L.LatLng(row[0], row[1]),"
                " {radius: 6, fillColor: row[2], color: row[3], weight: row[2] == row[3] ? 1 : 3,"
                " fillOpacity: 0.85});"
                " m.bindTooltip(row[4]); return m; }"
            ),
        ).add_to(m)
        shown = sorted(set(points["state"]), key=list(CASE_COLOURS).index)
        late = int(points["overdue"].sum())
    else:
        assert counts is not None
        check_units(counts, ["cases", "overdue"])
        classes = classify(counts["cases"].astype(float), "quantiles", 5)
        frame = counts.copy()
        frame["_fill"] = [classes.colour_of(c) for c in classes.classes]
        m = base_map(context, extent(frame, context))
        fields = [
            ("name", context.word("area")),
            ("cases", context.word("cases")),
            ("overdue", context.word("overdue")),
        ]
        folium.GeoJson(
            geojson(frame, [*[f for f, _ in fields], "_fill"]),
            name=context.word("cases"),
            style_function=lambda f: {
                "fillColor": f["properties"]["_fill"],
                "color": "#555",
                "weight": 0.6,
                "fillOpacity": 0.75,
            },
            tooltip=field_tips(frame, fields),
        ).add_to(m)
        shown = []
        late = int(counts["overdue"].fillna(0).sum())
    layer = folium.FeatureGroup(name=context.word("offices"))
    if offices is not None:
        require_crs(offices)
        for point, name, n in zip(offices.geometry, offices["name"], offices["cases"], strict=True):
            folium.Marker(
                [point.y, point.x],
                icon=folium.DivIcon(
                    html=f'<div class="bmr-office" style="background:{OFFICE}"></div>',
                    icon_size=(14, 14),
                    icon_anchor=(7, 7),
                ),
                tooltip=html.escape(f"{name} · {n:,} {context.word('cases')}"),
            ).add_to(layer)
    layer.add_to(m)
    rows = [(CASE_COLOURS[s], names[s]) for s in shown]
    rows += [(OVERDUE, f"{context.word('overdue')}: {late:,}"), (OFFICE, context.word("offices"))]
    return finish(m, context, legend=legend_html(context.word("cases"), rows))
