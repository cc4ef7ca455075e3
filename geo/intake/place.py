"""Households placed on the map from their coordinates, repairing what can be repaired.

The caller brings the subdistrict polygons (:class:`~geo.intake.areas.AreaIndex`) and the known
village positions; everything here works on whole batches and is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import Transformer

from geo.crs import THAILAND_BOUNDS, UTM_47N, UTM_48N, WGS84, utm_epsg
from geo.intake.areas import AreaIndex
from geo.intake.labels import Labels
from geo.intake.normalise import lookup

#: Degrees that can be in Thailand (``geo.crs.THAILAND_BOUNDS``).
LAT_RANGE = (THAILAND_BOUNDS[1], THAILAND_BOUNDS[3])
LON_RANGE = (THAILAND_BOUNDS[0], THAILAND_BOUNDS[2])
#: UTM eastings and northings that cover Thailand in zones 47N and 48N.
EASTING_RANGE = (100_000.0, 900_000.0)
NORTHING_RANGE = (500_000.0, 2_400_000.0)


def classify_coordinates(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.object_]:
    """What each (lat, lon) pair looks like: degrees, swapped degrees, UTM metres, or neither."""

    def between(values: NDArray[np.float64], bounds: tuple[float, float]) -> NDArray[np.bool_]:
        return (values >= bounds[0]) & (values <= bounds[1])

    kind = np.full(len(lat), "invalid", dtype=object)
    kind[np.isnan(lat) & np.isnan(lon)] = "missing"
    kind[between(lat, LAT_RANGE) & between(lon, LON_RANGE)] = "lonlat"
    kind[between(lon, LAT_RANGE) & between(lat, LON_RANGE)] = "swapped"
    utm = between(lon, EASTING_RANGE) & between(lat, NORTHING_RANGE)
    utm_swapped = between(lat, EASTING_RANGE) & between(lon, NORTHING_RANGE)
    kind[utm] = "utm"
    kind[utm_swapped] = "utm_swapped"
    # South of about 8°N a northing is also a plausible easting: either order may be meant.
    kind[utm & utm_swapped] = "utm_either"
    return kind


_TO_WGS84 = {epsg: Transformer.from_crs(epsg, WGS84, always_xy=True) for epsg in (UTM_47N, UTM_48N)}


@dataclass
class Placement:
    """Where each row's household is, how precisely, and what was repaired on the way."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    precision: NDArray[np.object_]
    flags: Labels
    outside_m: NDArray[np.float64]
    subdistrict: NDArray[np.object_]
    """The resolved subdistrict: the declared one when known, else the one holding the point."""
    fallback: NDArray[np.bool_]
    """Rows without usable coordinates, placed at their subdistrict or district."""

    def with_villages(
        self,
        declared: pd.Series,
        moo: NDArray[np.float64],
        villages: dict[tuple[str, int], tuple[float, float]],
    ) -> Placement:
        """Move fallback rows to their village where its position is known (``village``)."""
        x, y, precision = self.lon.copy(), self.lat.copy(), self.precision.copy()
        for i in np.flatnonzero(self.fallback & ~np.isnan(moo)):
            village = villages.get((str(declared.iloc[i]), int(moo[i])))
            if village is not None:
                (x[i], y[i]), precision[i] = village, "village"
        return Placement(
            x, y, precision, self.flags, self.outside_m, self.subdistrict, self.fallback
        )


def place(
    index: AreaIndex,
    declared: pd.Series,
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
) -> Placement:
    """Place households from their coordinates, repairing what can be repaired.

    Rules, in order: degrees inside the declared subdistrict are ``gps``; swapped lat/lon are
    swapped back when that lands inside the declared subdistrict (``gps_corrected``); UTM
    eastings/northings are converted in the zone that puts them in the declared subdistrict (or
    the declared subdistrict's zone) (``gps_corrected``); a point elsewhere in Thailand is kept,
    flagged ``outside_declared_subdistrict`` with its distance in metres. Rows without usable
    coordinates go to the declared subdistrict's representative point, else its district's, and
    the precision says which (:meth:`Placement.with_villages` then moves them to their village
    where it is known).

    Parameters
    ----------
    declared : Series of str
        Declared subdistrict codes (known to ``index`` or not).
    lat, lon : ndarray
        Coordinates as given (NaN where missing).

    Returns
    -------
    Placement
        Every row's position, precision and flags, its distance outside the declared
        subdistrict, and the resolved subdistrict.
    """
    lat, lon = lat.copy(), lon.copy()
    kind = classify_coordinates(lat, lon)
    rows = _Placing.start(index, declared)
    _accept_degrees(rows, kind, lat, lon)
    _accept_utm(rows, kind, lat, lon)
    _convert_utm_in_declared_zone(rows, kind, lat, lon)
    holder, outside_m = _accept_elsewhere(rows, kind, lat, lon)
    fallback = _place_at_areas(rows, kind)
    subdistrict = np.where(rows.known, declared.to_numpy(dtype=object), holder)
    return Placement(rows.x, rows.y, rows.precision, rows.flags, outside_m, subdistrict, fallback)


@dataclass
class _Placing:
    """A batch being placed: where each row is so far, and what its point is checked against."""

    index: AreaIndex
    declared: pd.Series
    position: NDArray[np.int64]
    """The declared subdistrict's polygon, -1 where it has none."""
    district_position: NDArray[np.int64]
    """The polygon of the declared subdistrict's district."""
    known: NDArray[np.bool_]
    """Whether the declared code is a known subdistrict (with or without polygon)."""
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    precision: NDArray[np.object_]
    flags: Labels

    @classmethod
    def start(cls, index: AreaIndex, declared: pd.Series) -> _Placing:
        n = len(declared)
        return cls(
            index=index,
            declared=declared,
            position=index.position(declared),
            district_position=index.position(pd.Series(lookup(declared, index.parents)).fillna("")),
            known=index.known(declared),
            x=np.full(n, np.nan),
            y=np.full(n, np.nan),
            precision=np.full(n, None, dtype=object),
            flags=Labels(n),
        )

    @property
    def unplaced(self) -> NDArray[np.bool_]:
        return np.isnan(self.x)

    def fits(self, px: NDArray[np.float64], py: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each point is in the declared subdistrict, or in its district.

        The district when the subdistrict is known but has no polygon.
        """
        own = self.index.inside(self.position, px, py)
        no_polygon = (self.position < 0) & self.known
        return own | (no_polygon & self.index.inside(self.district_position, px, py))

    def accept(
        self,
        mask: NDArray[np.bool_],
        px: NDArray[np.float64],
        py: NDArray[np.float64],
        level: str | NDArray[np.object_],
        flag: str | NDArray[np.object_] | None,
    ) -> None:
        """Place the rows of ``mask`` at (px, py) with a precision and a flag (one, or per row)."""
        self.x[mask], self.y[mask] = px[mask], py[mask]
        self.precision[mask] = level[mask] if isinstance(level, np.ndarray) else level
        if flag is None:
            return
        if isinstance(flag, np.ndarray):
            for label in np.unique(flag[mask]):
                self.flags.add(mask & (flag == label), str(label))
        else:
            self.flags.add(mask, flag)

    def declared_zone(self, i: int) -> int:
        """The UTM zone of row ``i``'s declared subdistrict (or district).

        47N if neither is known.
        """
        code = str(self.declared.iloc[i])
        point = self.index.point_of(code) or self.index.point_of(self.index.parents.get(code, ""))
        return utm_epsg(point[0]) if point else UTM_47N


def _readings(
    lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> tuple[tuple[str, NDArray[np.float64], NDArray[np.float64]], ...]:
    """The two readings of UTM metres: (kind, easting, northing)."""
    return (("utm", lon, lat), ("utm_swapped", lat, lon))


def _accept_degrees(
    rows: _Placing, kind: NDArray[np.object_], lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> None:
    """Degrees inside the declared subdistrict, and swapped ones swapped back.

    The first placed as ``gps``, the swapped as ``gps_corrected``.
    """
    lonlat = kind == "lonlat"
    rows.accept(lonlat & rows.fits(lon, lat), lon, lat, "gps", None)
    swapped = (kind == "swapped") & rows.fits(lat, lon)
    rows.accept(swapped, lat, lon, "gps_corrected", "swapped_coordinates")


def _accept_utm(
    rows: _Placing, kind: NDArray[np.object_], lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> None:
    """UTM metres in the order and zone that put the point in the declared subdistrict."""
    n = len(kind)
    for name, easting, northing in _readings(lat, lon):
        candidates = np.isin(kind, [name, "utm_either"]) & rows.unplaced
        if not candidates.any():
            continue
        best = np.full(n, np.nan), np.full(n, np.nan)
        for epsg in (UTM_47N, UTM_48N):
            px, py = _TO_WGS84[epsg].transform(easting, northing)
            px, py = np.asarray(px), np.asarray(py)
            good = candidates & rows.fits(px, py) & np.isnan(best[0])
            best[0][good], best[1][good] = px[good], py[good]
        found = candidates & ~np.isnan(best[0])
        rows.accept(found, best[0], best[1], "gps_corrected", "utm_coordinates")


def _convert_utm_in_declared_zone(
    rows: _Placing, kind: NDArray[np.object_], lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> None:
    """Convert UTM metres that no reading puts inside the declared subdistrict.

    They are converted in the declared area's zone: ``lat``, ``lon`` and ``kind``
    (``lonlat_from_utm``) are changed in place.
    """
    utm_rows = np.isin(kind, ["utm", "utm_swapped", "utm_either"])
    for name, easting, northing in _readings(lat, lon):
        # An ambiguous pair is read in the usual order: easting first.
        kinds = [name, "utm_either"] if name == "utm" else [name]
        rest = utm_rows & rows.unplaced & np.isin(kind, kinds)
        for i in np.flatnonzero(rest):
            px, py = _TO_WGS84[rows.declared_zone(int(i))].transform(easting[i], northing[i])
            lon[i], lat[i] = px, py
            kind[i] = "lonlat_from_utm"
        rows.flags.add(rest, "utm_coordinates")


def _accept_elsewhere(
    rows: _Placing, kind: NDArray[np.object_], lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> tuple[NDArray[np.object_], NDArray[np.float64]]:
    """Degrees (given, or converted) in Thailand but not in the declared subdistrict.

    Kept and flagged; returns the subdistrict holding each point and the metres outside the declared
    one.
    """
    n = len(kind)
    elsewhere = rows.unplaced & np.isin(kind, ["lonlat", "lonlat_from_utm"])
    holder = np.full(n, None, dtype=object)
    if elsewhere.any():
        holder[elsewhere] = rows.index.locate(lon[elsewhere], lat[elsewhere])
    kept = elsewhere & np.array([h is not None for h in holder], dtype=bool)
    level = np.where(kind == "lonlat_from_utm", "gps_corrected", "gps").astype(object)
    # An unknown declared code is resolved from the point instead.
    flag = np.where(rows.known, "outside_declared_subdistrict", "subdistrict_from_point")
    rows.accept(kept, lon, lat, level, flag.astype(object))
    outside_m = np.full(n, np.nan)
    measured = kept & (rows.position >= 0)
    if measured.any():
        position = rows.position[measured]
        outside_m[measured] = rows.index.distance_m(position, lon[measured], lat[measured])
    return holder, outside_m


def _place_at_areas(rows: _Placing, kind: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Every row still unplaced at its subdistrict's representative point, else its district's.

    Returns those rows.
    """
    unplaced = rows.unplaced
    rows.flags.add(unplaced & (kind == "missing"), "missing_coordinates")
    rows.flags.add(unplaced & (kind != "missing"), "coordinates_rejected")
    index = rows.index
    for i in np.flatnonzero(unplaced):
        code = str(rows.declared.iloc[i])
        if (point := index.point_of(code)) is not None:
            (rows.x[i], rows.y[i]), rows.precision[i] = point, "subdistrict"
        elif (point := index.point_of(index.parents.get(code, ""))) is not None:
            (rows.x[i], rows.y[i]), rows.precision[i] = point, "district"
    return unplaced
