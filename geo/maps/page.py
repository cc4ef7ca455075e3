"""What every map has besides its data: the page's furniture.

Every map has Thai or English labels, a layer control, a scale, a fullscreen button, a search box
over area names, the area's outline for context, a title, a legend and a footer naming the data's
sources and licences. Which assets the page loads is decided later (``geo.maps.assets``): nothing
here names a CDN.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium import plugins
from jinja2 import Template

from geo.crs import require_crs
from geo.maps.vectors import geojson
from geo.maps.words import WORDS


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
        """A word of :data:`~geo.maps.words.WORDS` in the map's language."""
        return WORDS[self.lang][key]


def base_map(context: MapContext, bounds: Sequence[float]) -> folium.Map:
    """An empty map with the context layers: basemap, fullscreen button, the area's outline.

    Parameters
    ----------
    context : MapContext
        The basemap's tiles and the outline (with a CRS) come from here.
    bounds : sequence of float
        What the map is fitted to: west, south, east, north in degrees.

    Returns
    -------
    folium.Map
        The map, to which the kind adds its layers before :func:`finish`.
    """
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
    """The layer control, the search box, the title, the legend and the footer.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`base_map` with its layers.
    context : MapContext
        Title, subtitle, notes, sources, and the areas searched when ``search`` is None.
    search : folium.GeoJson, optional
        The layer whose ``name`` the search box finds; without one, the context's areas are
        drawn as thin lines and searched.
    legend : str
        The legend's HTML (:func:`legend_html`).

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    if search is None and context.areas is not None and not context.areas.empty:
        search = folium.GeoJson(
            geojson(context.areas, ["name"]),
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
    """A legend: a title, then one swatch and label per row, then a note (the data's date).

    Parameters
    ----------
    title : str
        The legend's title.
    rows : sequence of (str, str)
        (CSS colour or gradient, label) of each swatch.
    note : str
        The line under the swatches.

    Returns
    -------
    str
        HTML, every text escaped.
    """
    swatches = "".join(
        f"<div><i style='background:{colour}'></i>{html.escape(label)}</div>"
        for colour, label in rows
    )
    return (
        f"<div class='bmr-legend'><b>{html.escape(title)}</b>{swatches}"
        f"<div class='bmr-note'>{html.escape(note)}</div></div>"
    )


def extent(frame: gpd.GeoDataFrame, context: MapContext) -> Sequence[float]:
    """The bounds of a layer, or of the context's outline (:func:`outline_bounds`) if empty."""
    return [float(b) for b in frame.total_bounds] if len(frame) else outline_bounds(context)


def outline_bounds(context: MapContext) -> Sequence[float]:
    """The bounds of the context's outline, or of Thailand without one."""
    if context.outline is None or context.outline.empty:
        return (97.3, 5.6, 105.7, 20.5)  # Thailand
    return [float(b) for b in context.outline.total_bounds]


class _OnlineTiles(MacroElement):
    """A basemap of tiles added only when the browser is online.

    Offline (a mailed file, a cut-off office) the map keeps its plain background and requests
    nothing.
    """

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
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated
        self._name = "OnlineTiles"
        self.url = url
        self.attribution = attribution


class _Overlay(MacroElement):
    """The title box, the legend and the footer, drawn over the map."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <link rel="icon" href="data:,">
        <style>
        .bmr-title {position: absolute; top: 10px; left: 60px; z-index: 1000; background: #fff;
            padding: 6px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3);
            font: 14px/1.3 Sarabun, sans-serif; max-width: 45%;}
        .bmr-legend {position: absolute; bottom: 34px; right: 10px; z-index: 1000;
            background: #fff; padding: 6px 10px; border-radius: 4px;
            font: 12px/1.5 Sarabun, sans-serif;
            box-shadow: 0 1px 4px rgba(0,0,0,.3);}
        .bmr-legend i {display: inline-block; width: 14px; height: 12px; margin-right: 6px;
            vertical-align: middle; opacity: .85;}
        .bmr-note {color: #555; font-size: 11px;}
        .bmr-office {width: 12px; height: 12px; border: 1px solid #fff;
            box-shadow: 0 0 2px rgba(0,0,0,.6);}
        .leaflet-bottom {margin-bottom: 18px;}
        .bmr-footer {position: absolute; bottom: 0; left: 0; right: 0; z-index: 999;
            background: rgba(255,255,255,.85); font: 11px/1.4 Sarabun, sans-serif;
            padding: 2px 8px;}
        .leaflet-container {font-family: Sarabun, sans-serif;}
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        {{ this.title }}{{ this.legend }}{{ this.footer }}
        {% endmacro %}
        """
    )

    def __init__(self, title: str, legend: str, footer: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated
        self._name = "BamrungOverlay"
        self.title = title
        self.legend = legend
        self.footer = footer


class KeepOrder(MacroElement):
    """Draws ``layers`` in their order again whenever an overlay is switched on.

    Leaflet puts a layer added back on top of the others.
    """

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
        super().__init__()  # type: ignore[no-untyped-call]  # branca: unannotated
        self._name = "KeepOrder"
        self.names = [layer.get_name() for layer in layers]
