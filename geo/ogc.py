"""OGC API – Features vocabulary: conformance classes, CRS URIs, bounding boxes, CQL2 text.

Parts 1 (core), 2 (CRS by reference) and 3 (filtering with CQL2 text: basic comparisons and
``S_INTERSECTS``). CQL2 is parsed by ``pygeofilter``; what it may name is checked here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pygeofilter import ast
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from geo.crs import UTM_47N, UTM_48N, WGS84
from geo.errors import InvalidInputError

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
#: Every CRS the features are served in, by URI: CRS84 (lon, lat) first, as Part 1 wants.
CRS_URIS = {
    CRS84: WGS84,
    EPSG_URI.format(code=WGS84): WGS84,
    EPSG_URI.format(code=UTM_47N): UTM_47N,
    EPSG_URI.format(code=UTM_48N): UTM_48N,
}


def crs_of(uri: str | None) -> tuple[int, bool]:
    """The EPSG code of a CRS URI, and whether its axes are (lat, lon) (EPSG:4326 is).

    None is CRS84. An unknown URI is refused, naming the ones served.
    """
    if uri is None or uri == CRS84:
        return WGS84, False
    if uri not in CRS_URIS:
        raise InvalidInputError(f"crs: {uri!r} is not served; use one of {', '.join(CRS_URIS)}")
    epsg = CRS_URIS[uri]
    return epsg, epsg == WGS84


def crs_uri(epsg: int, lat_lon: bool) -> str:
    """The URI of an EPSG code (CRS84 for 4326 in lon, lat order)."""
    return CRS84 if epsg == WGS84 and not lat_lon else EPSG_URI.format(code=epsg)


def parse_bbox(
    text: str | None, bbox_crs: str | None = None
) -> tuple[tuple[float, ...], int] | None:
    """The four numbers of a ``bbox`` parameter as west, south, east, north, and their EPSG.

    In ``bbox_crs`` (default CRS84); EPSG:4326 boxes come as lat, lon and are turned round.
    """
    if text is None:
        return None
    try:
        numbers = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInputError(f"bbox: {text!r} is not four numbers separated by commas") from None
    if len(numbers) == 6:  # with heights: the box's corners only
        numbers = (numbers[0], numbers[1], numbers[3], numbers[4])
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InvalidInputError(f"bbox: {text!r} is not four numbers separated by commas")
    epsg, lat_lon = crs_of(bbox_crs)
    if lat_lon:
        numbers = (numbers[1], numbers[0], numbers[3], numbers[2])
    west, south, east, north = numbers
    if west > east or south > north:
        raise InvalidInputError(f"bbox: {text!r} has its corners the wrong way round")
    if epsg == WGS84 and not (west >= -180 and east <= 180 and south >= -90 and north <= 90):
        raise InvalidInputError(f"bbox: {text!r} is not inside -180,-90,180,90")
    return numbers, epsg


def parse_filter(text: str, lang: str | None, queryables: Iterable[str]) -> ast.Node:
    """A CQL2 text filter, checked to name only ``queryables`` (and the geometry, ``geometry``).

    Raises
    ------
    InvalidInputError
        If the language is not CQL2 text, the text does not parse, or it names an unknown
        property.
    """
    if lang not in (None, "cql2-text"):
        raise InvalidInputError(f"filter-lang: {lang!r} is not served; use cql2-text")
    try:
        node = parse_cql2_text(text)
    except Exception as exc:  # lark raises many kinds; all mean the text is not CQL2
        raise InvalidInputError(f"filter: {text!r} is not CQL2 text ({_first(exc)})") from None
    known = {*queryables, "geometry"}
    unknown = sorted(set(_attributes(node)) - known)
    if unknown:
        raise InvalidInputError(
            f"filter: no queryable {', '.join(unknown)}; queryables: {', '.join(sorted(known))}"
        )
    return node


def _attributes(node: Any) -> Iterable[str]:
    if isinstance(node, ast.Attribute):
        yield node.name
        return
    if isinstance(node, ast.Node):
        for child in node.get_sub_nodes():
            yield from _attributes(child)
    elif isinstance(node, list | tuple):
        for child in node:
            yield from _attributes(child)


def _first(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
