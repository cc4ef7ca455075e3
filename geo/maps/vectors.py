"""What of a vector layer reaches the page: the columns shown, escaped, and tooltips over them."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from geo.crs import require_crs
from geo.errors import InvalidInputError


def check_units(frame: gpd.GeoDataFrame, columns: list[str]) -> None:
    """Refuse a layer without a CRS or without one of ``columns``.

    Raises
    ------
    InvalidInputError
        If a column is missing (``require_crs`` raises for the CRS).
    """
    require_crs(frame)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"the layer has no column {', '.join(missing)}")


def geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """The columns a map shows, as GeoJSON: nothing else of the frame goes into the page.

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    columns : list of str
        The columns shown (those the frame lacks are left out), in order, each once.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection whose text values are HTML-escaped.
    """
    keep = [c for c in dict.fromkeys(columns) if c in frame.columns]
    shown = frame[[*keep, frame.geometry.name]].copy()
    # Leaflet puts tooltip and popup text into the page as HTML: names from imported files must
    # not carry markup.
    for column in keep:
        if shown[column].dtype == object or pd.api.types.is_string_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: html.escape(v) if isinstance(v, str) else v)
    collection: dict[str, Any] = shown.__geo_interface__
    return collection


def field_tips(
    frame: gpd.GeoDataFrame,
    fields: Sequence[tuple[str, str]],
    kind: type[folium.GeoJsonTooltip] | type[folium.GeoJsonPopup] = folium.GeoJsonTooltip,
) -> Any:
    """A tooltip (or popup) of (column, label) pairs.

    Returns
    -------
    GeoJsonTooltip or GeoJsonPopup or None
        None for an empty layer or no fields, which folium refuses.
    """
    if frame.empty or not fields:
        return None
    return kind(fields=[f for f, _ in fields], aliases=[a for _, a in fields], localize=True)
