"""Rules for survey rows: normalise values, detect personal data, place households on the map.

Everything here works on whole batches (pandas/NumPy arrays) and is pure: the caller brings the
subdistrict polygons (:class:`AreaIndex`) and the known village positions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from geo.crs import UTM_47N, UTM_48N, WGS84, require_crs, utm_epsg

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_THAI_DIGIT = re.compile("[๐-๙]")
#: Degrees that can be in Thailand, with a margin for the sea and border areas.
LAT_RANGE = (5.0, 21.0)
LON_RANGE = (97.0, 106.0)
#: UTM eastings and northings that cover Thailand in zones 47N and 48N.
EASTING_RANGE = (100_000.0, 900_000.0)
NORTHING_RANGE = (500_000.0, 2_400_000.0)
BE_OFFSET = 543
NAME_PREFIXES = re.compile(
    # Thai titles are written joined to the name (นายสมชาย); English ones are followed by a space.
    r"^\s*(นางสาว|นาง|นาย|น\.ส\.|ด\.ช\.|ด\.ญ\.|เด็กชาย|เด็กหญิง|(mr|mrs|miss|ms)\.?\s)",
    re.IGNORECASE,
)
NAME_HEADERS = re.compile(r"(^|_)(name|first_?name|last_?name|surname|fullname)$|ชื่อ|นามสกุล", re.I)


class Labels:
    """Labels (flags or reasons) of the rows of a batch, kept only for rows that have any."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: dict[int, list[str]] = {}

    def add(self, where: NDArray[np.bool_] | NDArray[np.int64], label: str) -> None:
        """Add ``label`` to the rows of a boolean mask or an array of positions (once each)."""
        positions = np.flatnonzero(where) if where.dtype == bool else where
        for i in positions.tolist():
            labels = self.rows.setdefault(i, [])
            if label not in labels:
                labels.append(label)

    def append(self, i: int, label: str) -> None:
        """Add a label to one row (repeats allowed: messages may repeat)."""
        self.rows.setdefault(i, []).append(label)

    def __getitem__(self, i: int) -> list[str]:
        return self.rows.get(i, [])

    def mask(self) -> NDArray[np.bool_]:
        """Rows with at least one label."""
        out = np.zeros(self.size, dtype=bool)
        out[list(self.rows)] = True
        return out

    def merged(self, other: Labels) -> Labels:
        """Both sets of labels, sorted, per row."""
        out = Labels(self.size)
        for i in self.rows.keys() | other.rows.keys():
            out.rows[i] = sorted(set(self[i]) | set(other[i]))
        return out


def numbers(text: pd.Series) -> pd.Series:
    """Text as float64, NaN where empty or not a number (``pd.to_numeric(errors="coerce")``).

    Clean columns are cast by Arrow, several times faster; a column with a bad value falls back
    to pandas, which marks just that value.
    """
    values = pa.array(text.to_numpy(dtype=object), type=pa.string())
    try:
        cast = pc.cast(pc.if_else(pc.equal(values, ""), None, values), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").astype(float)
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, dtype=float)


def lookup(values: pd.Series, mapping: dict[str, Any]) -> NDArray[np.object_]:
    """``values.map(mapping)`` as an object array (None where absent), each distinct value once."""
    codes, distinct = pd.factorize(values)
    mapped = np.array([mapping.get(v) for v in distinct.tolist()] + [None], dtype=object)
    return mapped[codes]  # code -1 (a missing value) takes the trailing None


def member(values: pd.Series, allowed: Collection[str]) -> NDArray[np.bool_]:
    """``values.isin(allowed)``, each distinct value tested once (Arrow strings' own is slow)."""
    codes, distinct = pd.factorize(values)
    inside = np.array([v in allowed for v in distinct.tolist()] + [False], dtype=bool)
    found: NDArray[np.bool_] = inside[codes]  # code -1 (a missing value) takes the False
    return found


def _may_hold_thai(text: pd.Series) -> bool:
    """Whether any value has a character of the Thai block's second half (digits among them).

    A bytewise search for their UTF-8 lead bytes: columns of codes, numbers and dates almost
    never have one, and then the slower search for digits is skipped.
    """
    values = pa.array(text.to_numpy(dtype=object), type=pa.string()).view(pa.binary())
    return bool(pc.any(pc.match_substring(values, b"\xe0\xb9")).as_py())


def thai_digits_to_arabic(values: pd.Series) -> tuple[pd.Series, NDArray[np.bool_]]:
    """Replace Thai digits (๐-๙) by Arabic ones; returns the values and where any were found."""
    text = values.fillna("").astype(str)
    if not _may_hold_thai(text):
        return text, np.zeros(len(text), dtype=bool)
    found = text.str.contains(_THAI_DIGIT).to_numpy(dtype=bool)
    if found.any():
        text = text.where(~found, text.str.translate(THAI_DIGITS))
    return text, found


def parse_dates(values: pd.Series) -> tuple[pd.Series, NDArray[np.bool_], NDArray[np.bool_]]:
    """Parse ``YYYY-MM-DD`` or ``D/M/YYYY`` dates, Buddhist Era years (≥ 2400) made CE.

    Returns
    -------
    dates : Series of ``datetime64[s]`` (NaT where empty or bad)
    buddhist_era : ndarray of bool
        Where the year was Buddhist Era and was converted.
    bad : ndarray of bool
        Where a value was given but is not a date.
    """
    text = values.fillna("").astype(str).str.strip()
    # Most dates are ISO and CE: parsed in C; the patterns below only see the others.
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    given = (text != "").to_numpy(dtype=bool)
    # Buddhist Era years parse as far-future dates here (and BE leap days not at all).
    rest = given & (dates.isna() | (dates.dt.year >= 2400)).to_numpy(dtype=bool)
    buddhist = np.zeros(len(text), dtype=bool)
    if rest.any():
        other = text[rest]
        iso = other.str.extract(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
        dmy = other.str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
        year = pd.to_numeric(iso[0].fillna(dmy[2]), errors="coerce")
        month = pd.to_numeric(iso[1].fillna(dmy[1]), errors="coerce")
        day = pd.to_numeric(iso[2].fillna(dmy[0]), errors="coerce")
        be = (year >= 2400).to_numpy(dtype=bool)
        year = year.where(~be, year - BE_OFFSET)
        parsed = pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
        ).astype("datetime64[s]")
        dates[rest] = parsed.to_numpy()
        buddhist[rest] = be & parsed.notna().to_numpy(dtype=bool)
    bad = given & dates.isna().to_numpy(dtype=bool)
    return dates, buddhist, bad


def national_id_valid(values: pd.Series) -> NDArray[np.bool_]:
    """Which values are 13-digit Thai national ID numbers with a valid check digit."""
    digits = values.fillna("").astype(str).str.translate(THAI_DIGITS)
    digits = digits.str.replace(r"[\s-]", "", regex=True)
    shaped = digits.str.fullmatch(r"[0-9]{13}").to_numpy(dtype=bool)
    valid = np.zeros(len(values), dtype=bool)
    if shaped.any():
        joined = "".join(digits[shaped].tolist()).encode("ascii")
        matrix = (np.frombuffer(joined, dtype=np.uint8) - ord("0")).reshape(-1, 13).astype(np.int64)
        total = matrix[:, :12] @ np.arange(13, 1, -1)
        valid[shaped] = (11 - total % 11) % 10 == matrix[:, 12]
    return valid


def personal_columns(frame: pd.DataFrame, known: set[str]) -> dict[str, str]:
    """Columns that hold personal data, and how to treat them.

    A column whose filled values are mostly valid national ID numbers is ``"hashed"``; one whose
    header names a person's name, or whose values mostly start with a title (นาย, นาง, Mr…), is
    ``"dropped"``. Columns in ``known`` (the canonical ones) are not examined.
    """
    treated: dict[str, str] = {}
    for column in frame.columns:
        if column in known:
            continue
        values = frame[column].fillna("").astype(str)
        filled = values[values.str.strip() != ""]
        if filled.empty:
            continue
        if national_id_valid(filled).mean() >= 0.5:
            treated[column] = "hashed"
        elif NAME_HEADERS.search(str(column)) or filled.str.match(NAME_PREFIXES).mean() >= 0.3:
            treated[column] = "dropped"
    return treated


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed BLAKE2b-256 of each non-empty value (separators removed), None where empty.

    Without the key the hash cannot be recomputed from a guessed ID number; with it, the same
    person gets the same hash in every file and round.
    """
    # A household's ID is on each of its rows: each distinct value is cleaned and hashed once.
    codes, distinct = pd.factorize(values.fillna("").astype(str))
    cleaned = pd.Series(distinct).str.translate(THAI_DIGITS).str.replace(r"[\s-]", "", regex=True)
    digests = np.array(
        [
            hashlib.blake2b(v.encode(), key=key[:64], digest_size=32).hexdigest() if v else None
            for v in cleaned.tolist()
        ],
        dtype=object,
    )
    return pd.Series(digests[codes], index=values.index, dtype=object)


@dataclass
class AreaIndex:
    """Subdistrict polygons and the administrative tree, ready for point-in-polygon.

    Parameters
    ----------
    subdistricts : GeoDataFrame
        ``code`` and polygon geometry (EPSG:4326) of every subdistrict that has one.
    parents : dict
        Parent code of every known subdistrict (with or without polygon) and district.
    districts : GeoDataFrame
        ``code`` and geometry of the districts, for the representative point of a
        subdistrict that has no polygon.
    """

    subdistricts: gpd.GeoDataFrame
    parents: dict[str, str]
    districts: gpd.GeoDataFrame
    _position: dict[str, int] = field(init=False, repr=False)
    _tree: shapely.STRtree = field(init=False, repr=False)
    _points: dict[str, tuple[float, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        require_crs(self.subdistricts)
        self.codes = self.subdistricts["code"].to_numpy(dtype=object)
        self.geoms = self.subdistricts.geometry.to_numpy()
        shapely.prepare(self.geoms)
        self._position = {code: i for i, code in enumerate(self.codes)}
        self._tree = shapely.STRtree(self.geoms)
        points: dict[str, tuple[float, float]] = {}
        for frame in (self.districts, self.subdistricts):
            reps = frame.geometry.representative_point()
            points.update(zip(frame["code"], zip(reps.x, reps.y, strict=True), strict=True))
        self._points = points

    def known(self, codes: pd.Series) -> NDArray[np.bool_]:
        return member(codes, self.parents)

    def position(self, codes: pd.Series) -> NDArray[np.int64]:
        """Index of each code's polygon, -1 where it has none."""
        found = lookup(codes, self._position)
        return np.where(found == None, -1, found).astype(np.int64)  # noqa: E711 - elementwise

    def inside(
        self, positions: NDArray[np.int64], lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        """Whether each point lies in the polygon at its position (False where there is none)."""
        result = np.zeros(len(positions), dtype=bool)
        has = positions >= 0
        if has.any():
            result[has] = shapely.intersects_xy(self.geoms[positions[has]], lon[has], lat[has])
        return result

    def locate(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.object_]:
        """The subdistrict holding each point (the lowest code where polygons overlap), or None."""
        found = np.full(len(lon), None, dtype=object)
        if len(lon) == 0:
            return found
        points, polygons = self._tree.query(shapely.points(lon, lat), predicate="intersects")
        if len(points):
            pairs = pd.DataFrame({"point": points, "code": self.codes[polygons]})
            first = pairs.groupby("point")["code"].min()
            found[first.index.to_numpy()] = first.to_numpy()
        return found

    def distance_m(
        self, positions: NDArray[np.int64], lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Metres from each point to the polygon at its position, measured in its UTM zone."""
        out = np.full(len(positions), np.nan)
        for epsg in (UTM_47N, UTM_48N):
            zone = np.array([utm_epsg(x) == epsg for x in lon], dtype=bool) & (positions >= 0)
            if not zone.any():
                continue
            polygons = gpd.GeoSeries(self.geoms[positions[zone]], crs=WGS84).to_crs(epsg)
            points = gpd.GeoSeries(shapely.points(lon[zone], lat[zone]), crs=WGS84).to_crs(epsg)
            out[zone] = shapely.distance(polygons.to_numpy(), points.to_numpy())
        return out

    def point_of(self, code: str) -> tuple[float, float] | None:
        """Representative point of a subdistrict or district that has a polygon."""
        return self._points.get(code)

    def chain(self, codes: pd.Series) -> tuple[pd.Series, pd.Series]:
        """District and province codes of subdistrict codes."""
        district = pd.Series(lookup(codes, self.parents), index=codes.index, dtype=object)
        return district, pd.Series(lookup(district, self.parents), index=codes.index, dtype=object)


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
    """
    n = len(declared)
    lat, lon = lat.copy(), lon.copy()
    kind = classify_coordinates(lat, lon)
    flags = Labels(n)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    precision = np.full(n, None, dtype=object)
    position = index.position(declared)
    known = index.known(declared)
    # The polygon a point is checked against: the declared subdistrict, else its district's.
    district_position = index.position(pd.Series(lookup(declared, index.parents)).fillna(""))

    def accept(
        mask: NDArray[np.bool_],
        px: NDArray[np.float64],
        py: NDArray[np.float64],
        level: str | NDArray[np.object_],
        flag: str | NDArray[np.object_] | None,
    ) -> None:
        x[mask], y[mask] = px[mask], py[mask]
        precision[mask] = level[mask] if isinstance(level, np.ndarray) else level
        if flag is None:
            return
        if isinstance(flag, np.ndarray):
            for label in np.unique(flag[mask]):
                flags.add(mask & (flag == label), str(label))
        else:
            flags.add(mask, flag)

    def fits(px: NDArray[np.float64], py: NDArray[np.float64]) -> NDArray[np.bool_]:
        own = index.inside(position, px, py)
        no_polygon = (position < 0) & known
        return own | (no_polygon & index.inside(district_position, px, py))

    lonlat = kind == "lonlat"
    accept(lonlat & fits(lon, lat), lon, lat, "gps", None)
    swapped = (kind == "swapped") & fits(lat, lon)
    accept(swapped, lat, lon, "gps_corrected", "swapped_coordinates")
    # UTM metres: the order and zone that put the point in the declared subdistrict win.
    utm_rows = np.isin(kind, ["utm", "utm_swapped", "utm_either"])
    for name, easting, northing in (("utm", lon, lat), ("utm_swapped", lat, lon)):
        rows = np.isin(kind, [name, "utm_either"]) & np.isnan(x)
        if not rows.any():
            continue
        best = np.full(n, np.nan), np.full(n, np.nan)
        for epsg in (UTM_47N, UTM_48N):
            px, py = _TO_WGS84[epsg].transform(easting, northing)
            px, py = np.asarray(px), np.asarray(py)
            good = rows & fits(px, py) & np.isnan(best[0])
            best[0][good], best[1][good] = px[good], py[good]
        found = rows & ~np.isnan(best[0])
        accept(found, best[0], best[1], "gps_corrected", "utm_coordinates")
    for name, easting, northing in (("utm", lon, lat), ("utm_swapped", lat, lon)):
        # Not in the declared subdistrict in any reading: convert in the declared area's zone
        # (an ambiguous pair is read in the usual order: easting first).
        kinds = [name, "utm_either"] if name == "utm" else [name]
        rest = utm_rows & np.isnan(x) & np.isin(kind, kinds)
        for i in np.flatnonzero(rest):
            code = str(declared.iloc[i])
            point = index.point_of(code) or index.point_of(index.parents.get(code, ""))
            epsg = utm_epsg(point[0]) if point else UTM_47N
            px, py = _TO_WGS84[epsg].transform(easting[i], northing[i])
            lon[i], lat[i] = px, py
            kind[i] = "lonlat_from_utm"
        flags.add(rest, "utm_coordinates")
    # Degrees (given, or converted) that are in Thailand but not in the declared subdistrict.
    elsewhere = np.isnan(x) & np.isin(kind, ["lonlat", "lonlat_from_utm"])
    holder = np.full(n, None, dtype=object)
    if elsewhere.any():
        holder[elsewhere] = index.locate(lon[elsewhere], lat[elsewhere])
    kept = elsewhere & np.array([h is not None for h in holder], dtype=bool)
    level = np.where(kind == "lonlat_from_utm", "gps_corrected", "gps").astype(object)
    # An unknown declared code is resolved from the point instead.
    flag = np.where(known, "outside_declared_subdistrict", "subdistrict_from_point").astype(object)
    accept(kept, lon, lat, level, flag)
    outside_m = np.full(n, np.nan)
    measured = kept & (position >= 0)
    if measured.any():
        outside_m[measured] = index.distance_m(position[measured], lon[measured], lat[measured])
    # Everything else is placed at the subdistrict or district.
    unplaced = np.isnan(x)
    flags.add(unplaced & (kind == "missing"), "missing_coordinates")
    flags.add(unplaced & (kind != "missing"), "coordinates_rejected")
    for i in np.flatnonzero(unplaced):
        code = str(declared.iloc[i])
        if (point := index.point_of(code)) is not None:
            (x[i], y[i]), precision[i] = point, "subdistrict"
        elif (point := index.point_of(index.parents.get(code, ""))) is not None:
            (x[i], y[i]), precision[i] = point, "district"
    subdistrict = np.where(known, declared.to_numpy(dtype=object), holder)
    return Placement(x, y, precision, flags, outside_m, subdistrict, unplaced)
