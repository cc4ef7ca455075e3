"""Subdistrict polygons and the administrative tree, ready for point-in-polygon."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.crs import UTM_47N, UTM_48N, WGS84, require_crs, utm_epsg
from geo.intake.normalise import lookup, member


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
        """Whether each code is a known subdistrict or district (with or without polygon)."""
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
