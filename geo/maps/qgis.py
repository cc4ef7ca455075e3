"""Styles and projects for QGIS and other GIS tools: QML, SLD and a QGIS project (.qgs).

Built from the same classes and colours as the web maps (``geo.maps.style``), so a layer opens
in QGIS looking as it does in the browser. Pure XML building: no QGIS is needed to write them.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyproj

from geo.maps.style import Classes

Geometry = Literal["polygon", "line", "point", "none"]
#: The QGIS geometry type of each geometry kind (``layerGeometryType``).
QGIS_GEOMETRY = {"point": "0", "line": "1", "polygon": "2", "none": "4"}
SYMBOL_TYPES = {"point": "marker", "line": "line", "polygon": "fill"}
OUTLINE = "#636363"
FONT = "Sarabun"
QGIS_VERSION = "3.22.16-Białowieża"


@dataclass(frozen=True)
class Category:
    """One value of a categorised style, its legend label and its colour."""

    value: str
    label: str
    colour: str


@dataclass(frozen=True)
class LayerStyle:
    """How one layer is drawn: by classes of a number, by categories of a value, or one colour.

    ``aliases``: each field's name shown to people (Thai or English). ``label``: the field whose
    value is written on the map (None: no labels).
    """

    geometry: Geometry
    title: str
    column: str | None = None
    classes: Classes | None = None
    categories: Sequence[Category] = ()
    colour: str = "#3182bd"
    label: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    #: A polygon drawn as outline only (the area's boundary).
    hollow: bool = False


def _rgba(colour: str, alpha: int = 255) -> str:
    colour = colour.lstrip("#")
    red, green, blue = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{alpha}"


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", name=name, type="QString", value=value)


def _symbol(parent: ET.Element, name: str, style: LayerStyle, colour: str) -> None:
    kind = SYMBOL_TYPES[style.geometry]
    symbol = ET.SubElement(
        parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    layer_class = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[kind]
    layer = ET.SubElement(
        symbol, "layer", {"class": layer_class, "enabled": "1", "locked": "0", "pass": "0"}
    )
    options = ET.SubElement(layer, "Option", type="Map")
    if kind == "fill":
        _option(options, "color", _rgba(colour, 0 if style.hollow else 255))
        _option(options, "style", "no" if style.hollow else "solid")
        _option(options, "outline_color", _rgba(colour if style.hollow else OUTLINE))
        _option(options, "outline_width", "0.8" if style.hollow else "0.2")
        _option(options, "outline_width_unit", "MM")
    elif kind == "line":
        _option(options, "line_color", _rgba(colour))
        _option(options, "line_width", "0.5")
        _option(options, "line_width_unit", "MM")
    else:
        _option(options, "name", "circle")
        _option(options, "color", _rgba(colour))
        _option(options, "outline_color", _rgba(OUTLINE))
        _option(options, "outline_width", "0.1")
        _option(options, "size", "2")
        _option(options, "size_unit", "MM")


def _renderer(style: LayerStyle) -> ET.Element:
    """The ``renderer-v2`` element of the style."""
    if style.classes is not None and style.classes.upper and style.column:
        renderer = ET.Element(
            "renderer-v2",
            type="graduatedSymbol",
            attr=style.column,
            graduatedMethod="GraduatedColor",
            symbollevels="0",
            forceraster="0",
            enableorderby="0",
        )
        ranges = ET.SubElement(renderer, "ranges")
        symbols = ET.SubElement(renderer, "symbols")
        lows = [style.classes.minimum, *style.classes.upper[:-1]]
        labels = style.classes.labels()
        for i, (low, high) in enumerate(zip(lows, style.classes.upper, strict=True)):
            ET.SubElement(
                ranges,
                "range",
                lower=repr(float(low)),
                upper=repr(float(high)),
                symbol=str(i),
                label=labels[i],
                render="true",
            )
            _symbol(symbols, str(i), style, style.classes.colours[i])
        return renderer
    if style.categories and style.column:
        renderer = ET.Element(
            "renderer-v2",
            type="categorizedSymbol",
            attr=style.column,
            symbollevels="0",
            forceraster="0",
            enableorderby="0",
        )
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, category in enumerate(style.categories):
            ET.SubElement(
                categories,
                "category",
                value=category.value,
                symbol=str(i),
                label=category.label,
                render="true",
            )
            _symbol(symbols, str(i), style, category.colour)
        return renderer
    renderer = ET.Element(
        "renderer-v2", type="singleSymbol", symbollevels="0", forceraster="0", enableorderby="0"
    )
    _symbol(ET.SubElement(renderer, "symbols"), "0", style, style.colour)
    return renderer


def _labeling(style: LayerStyle) -> ET.Element | None:
    if style.label is None:
        return None
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    ET.SubElement(
        settings,
        "text-style",
        fieldName=style.label,
        isExpression="0",
        fontFamily=FONT,
        fontSize="9",
        fontSizeUnit="Point",
        textColor="50,50,50,255",
        namedStyle="Regular",
    )
    ET.SubElement(
        settings, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferColor="255,255,255,255"
    )
    placement = "1" if style.geometry == "polygon" else "0"  # over the centroid / around a point
    ET.SubElement(settings, "placement", placement=placement, centroidWhole="1")
    ET.SubElement(settings, "rendering", obstacle="0", scaleVisibility="0")
    return labeling


def _layer_parts(style: LayerStyle, fields: Sequence[str]) -> list[ET.Element]:
    """What a style puts in a ``<qgis>`` style document and a project's ``<maplayer>`` alike."""
    parts: list[ET.Element] = []
    if style.geometry != "none":
        parts.append(_renderer(style))
        labeling = _labeling(style)
        if labeling is not None:
            parts.append(labeling)
    aliases = ET.Element("aliases")
    for index, name in enumerate(fields):
        if name in style.aliases:
            ET.SubElement(aliases, "alias", field=name, index=str(index), name=style.aliases[name])
    parts.append(aliases)
    geometry_type = ET.Element("layerGeometryType")
    geometry_type.text = QGIS_GEOMETRY[style.geometry]
    parts.append(geometry_type)
    return parts


def qml(style: LayerStyle, fields: Sequence[str]) -> str:
    """The style as a QGIS style document (QML): symbols, labels and field aliases.

    Parameters
    ----------
    style : LayerStyle
        How the layer is drawn and what its fields are called.
    fields : sequence of str
        The layer's fields in order (the aliases are given by position too).

    Returns
    -------
    str
        The QML text, as QGIS 3.22 writes it (``<!DOCTYPE qgis ...>``).
    """
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="AllStyleCategories",
        labelsEnabled="1" if style.label else "0",
    )
    root.extend(_layer_parts(style, fields))
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


SLD = "http://www.opengis.net/sld"
SE = "http://www.opengis.net/se"
OGC = "http://www.opengis.net/ogc"


def sld(style: LayerStyle, layer: str) -> str:
    """The style as OGC Styled Layer Descriptor 1.1 (for tools other than QGIS)."""
    ET.register_namespace("", SLD)
    ET.register_namespace("se", SE)
    ET.register_namespace("ogc", OGC)
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", version="1.1.0", attrib={})
    named = ET.SubElement(root, f"{{{SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{SE}}}Name").text = layer
    user_style = ET.SubElement(named, f"{{{SLD}}}UserStyle")
    ET.SubElement(user_style, f"{{{SE}}}Name").text = layer
    feature_style = ET.SubElement(user_style, f"{{{SE}}}FeatureTypeStyle")
    for label, colour, condition in _rules(style):
        rule = ET.SubElement(feature_style, f"{{{SE}}}Rule")
        ET.SubElement(rule, f"{{{SE}}}Name").text = label
        description = ET.SubElement(rule, f"{{{SE}}}Description")
        ET.SubElement(description, f"{{{SE}}}Title").text = label
        if condition is not None:
            rule.append(condition)
        _sld_symbolizer(rule, style, colour)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _rules(style: LayerStyle) -> Sequence[tuple[str, str, ET.Element | None]]:
    """(label, colour, filter) of each rule of the style."""
    if style.classes is not None and style.classes.upper and style.column:
        lows = [style.classes.minimum, *style.classes.upper[:-1]]
        rules = []
        for i, (low, high) in enumerate(zip(lows, style.classes.upper, strict=True)):
            condition = ET.Element(f"{{{OGC}}}Filter")
            both = ET.SubElement(condition, f"{{{OGC}}}And")
            lower = "PropertyIsGreaterThanOrEqualTo" if i == 0 else "PropertyIsGreaterThan"
            for operator, value in ((lower, low), ("PropertyIsLessThanOrEqualTo", high)):
                comparison = ET.SubElement(both, f"{{{OGC}}}{operator}")
                ET.SubElement(comparison, f"{{{OGC}}}PropertyName").text = style.column
                ET.SubElement(comparison, f"{{{OGC}}}Literal").text = repr(float(value))
            rules.append((style.classes.labels()[i], style.classes.colours[i], condition))
        return rules
    if style.categories and style.column:
        rules = []
        for category in style.categories:
            condition = ET.Element(f"{{{OGC}}}Filter")
            equal = ET.SubElement(condition, f"{{{OGC}}}PropertyIsEqualTo")
            ET.SubElement(equal, f"{{{OGC}}}PropertyName").text = style.column
            ET.SubElement(equal, f"{{{OGC}}}Literal").text = category.value
            rules.append((category.label, category.colour, condition))
        return rules
    return [(style.title, style.colour, None)]


def _sld_symbolizer(rule: ET.Element, style: LayerStyle, colour: str) -> None:
    def parameter(parent: ET.Element, name: str, value: str) -> None:
        ET.SubElement(parent, f"{{{SE}}}SvgParameter", name=name).text = value

    if style.geometry == "polygon":
        symbolizer = ET.SubElement(rule, f"{{{SE}}}PolygonSymbolizer")
        if not style.hollow:
            parameter(ET.SubElement(symbolizer, f"{{{SE}}}Fill"), "fill", colour)
        stroke = ET.SubElement(symbolizer, f"{{{SE}}}Stroke")
        parameter(stroke, "stroke", colour if style.hollow else OUTLINE)
        parameter(stroke, "stroke-width", "2" if style.hollow else "0.5")
    elif style.geometry == "line":
        stroke = ET.SubElement(ET.SubElement(rule, f"{{{SE}}}LineSymbolizer"), f"{{{SE}}}Stroke")
        parameter(stroke, "stroke", colour)
        parameter(stroke, "stroke-width", "1.5")
    elif style.geometry == "point":
        graphic = ET.SubElement(ET.SubElement(rule, f"{{{SE}}}PointSymbolizer"), f"{{{SE}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{SE}}}Mark")
        ET.SubElement(mark, f"{{{SE}}}WellKnownName").text = "circle"
        parameter(ET.SubElement(mark, f"{{{SE}}}Fill"), "fill", colour)
        ET.SubElement(graphic, f"{{{SE}}}Size").text = "7"


@dataclass(frozen=True)
class ProjectLayer:
    """One layer of a project: its source, name, style, fields, EPSG code and geometry type."""

    source: str
    name: str
    style: LayerStyle
    fields: Sequence[str]
    epsg: int
    wkb_type: str
    provider: str = "ogr"


def project(title: str, layers: Sequence[ProjectLayer], epsg: int, extent: Sequence[float]) -> str:
    """A QGIS project (.qgs text) that opens ``layers``, first on top, styled and labelled.

    Parameters
    ----------
    title : str
        The project's title.
    layers : sequence of ProjectLayer
        The layers, top first; their sources are written as given (relative to the project's
        file, or as QGIS resolves them inside a GeoPackage).
    epsg : int
        The project's CRS.
    extent : sequence of float
        West, south, east, north in ``epsg``: where the map opens.
    """
    ids = [
        f"{_slug(layer.name)}_{uuid.uuid5(uuid.NAMESPACE_URL, layer.source).hex}"
        for layer in layers
    ]
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "title").text = title
    _spatialrefsys(ET.SubElement(root, "projectCrs"), epsg)
    tree = ET.SubElement(root, "layer-tree-group")
    for layer, layer_id in zip(layers, ids, strict=True):
        ET.SubElement(
            tree,
            "layer-tree-layer",
            id=layer_id,
            name=layer.name,
            source=layer.source,
            providerKey=layer.provider,
            checked="Qt::Checked",
            expanded="1",
        )
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas")
    ET.SubElement(canvas, "units").text = "degrees" if epsg == 4326 else "meters"
    box = ET.SubElement(canvas, "extent")
    for name, value in zip(("xmin", "ymin", "xmax", "ymax"), extent, strict=True):
        ET.SubElement(box, name).text = repr(float(value))
    _spatialrefsys(ET.SubElement(canvas, "destinationsrs"), epsg)
    map_layers = ET.SubElement(root, "projectlayers")
    for layer, layer_id in zip(layers, ids, strict=True):
        element = ET.SubElement(
            map_layers,
            "maplayer",
            type="vector",
            geometry=layer.style.geometry.capitalize()
            if layer.style.geometry != "none"
            else "No geometry",
            wkbType=layer.wkb_type,
            styleCategories="AllStyleCategories",
            labelsEnabled="1" if layer.style.label else "0",
        )
        ET.SubElement(element, "id").text = layer_id
        ET.SubElement(element, "datasource").text = layer.source
        ET.SubElement(element, "layername").text = layer.name
        _spatialrefsys(ET.SubElement(element, "srs"), layer.epsg)
        ET.SubElement(element, "provider", encoding="UTF-8").text = layer.provider
        element.extend(_layer_parts(layer.style, layer.fields))
    order = ET.SubElement(tree, "custom-order", enabled="0")
    for layer_id in ids:
        ET.SubElement(order, "item").text = layer_id
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


def _spatialrefsys(parent: ET.Element, epsg: int) -> None:
    """A CRS as QGIS reads it: by WKT (an ``authid`` alone leaves QGIS 3.22 with no CRS)."""
    crs = pyproj.CRS.from_epsg(epsg)
    system = ET.SubElement(parent, "spatialrefsys")
    ET.SubElement(system, "wkt").text = crs.to_wkt()
    ET.SubElement(system, "authid").text = f"EPSG:{epsg}"
    ET.SubElement(system, "description").text = crs.name
    ET.SubElement(system, "geographicflag").text = "true" if crs.is_geographic else "false"


def _slug(name: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name) or "layer"
