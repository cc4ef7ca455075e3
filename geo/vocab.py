"""The words every part of Bamrung shares, each defined once.

Admin levels and the length of their codes, the five TPMAP dimensions, a problem's statuses,
the kinds of Geo-social layer, zone, raster, hotspot indicator, classification scheme and map,
a household's placement precisions and the label languages. The ``Literal`` types serve the
API's parameters and the taxonomy's schema; the tuples serve checks, SQL constraints and loops.
This module imports nothing heavy, so that a command that only lists them starts at once.
"""

from __future__ import annotations

from typing import Literal, get_args

AdminLevel = Literal["province", "district", "subdistrict"]
#: The levels of the administrative tree with polygons, widest first.
ADMIN_LEVELS: tuple[AdminLevel, ...] = get_args(AdminLevel)
UnitLevel = Literal[AdminLevel, "village", "community"]
#: Every level of ``admin_unit``; village and community units come with later data.
UNIT_LEVELS: tuple[UnitLevel, ...] = get_args(UnitLevel)
#: Digits of a code at each level ('' is the country): a code's first digits are its parents'.
CODE_LENGTH: dict[str, int] = {"country": 0, "province": 2, "district": 4, "subdistrict": 6}
#: The level drawn or ranked below an area of each level, by default.
BELOW: dict[str, AdminLevel] = dict(zip(("country", *ADMIN_LEVELS), ADMIN_LEVELS, strict=False))

Dimension = Literal["health", "living_conditions", "education", "income", "public_services"]
#: The TPMAP dimensions of a problem.
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)

Status = Literal[
    "solved_by_agency",
    "solved_by_household",
    "referred",
    "in_progress",
    "closed_unsolved",
    "open",
]
#: A problem's statuses, in the order reports show the resolution breakdown.
STATUSES: tuple[Status, ...] = get_args(Status)
#: The statuses that count as solved ("% solved").
SOLVED: tuple[Status, ...] = ("solved_by_agency", "solved_by_household")
#: The statuses of a problem still waiting for a solution: what referral hands to offices.
UNRESOLVED: tuple[Status, ...] = ("referred", "in_progress", "open")

ZoneKind = Literal["flood_zones", "drought_zones", "land_use"]
#: The Geo-social layers of zones (polygons households can be inside).
ZONE_KINDS: tuple[ZoneKind, ...] = get_args(ZoneKind)
HotspotIndicator = Literal["problems_per_1000", "affected_per_1000", "unsolved_pct"]
#: What hotspots may be computed of.
HOTSPOT_INDICATORS: tuple[HotspotIndicator, ...] = get_args(HotspotIndicator)
#: How a map's values are cut into classes (``mapclassify``).
Scheme = Literal["quantiles", "natural_breaks", "equal_interval"]

#: The kinds of Geo-social vector layer (ผังภูมิสังคม) and of raster.
LAYER_KINDS = ("water_sources", "waterways", "flood_zones", "drought_zones", "land_use")
RASTER_KINDS = (
    "flood_frequency",
    "drought_index",
    "elevation",
    "rainfall",
    "land_cover",
    "problem_density",
    "other",
)

#: Where a household was placed, from the most exact: its GPS point, a repaired one, its
#: village's, its subdistrict's or its district's representative point.
PRECISIONS = ("gps", "gps_corrected", "village", "subdistrict", "district")

Lang = Literal["th", "en"]
#: The languages of labels: Thai first, English by a switch.
LANGS: tuple[Lang, ...] = get_args(Lang)

MapKind = Literal[
    "choropleth", "hexbin", "heatmap", "hotspots", "water", "targeting", "households", "cases"
]
#: The kinds of map Bamrung draws.
MAP_KINDS: tuple[MapKind, ...] = get_args(MapKind)
#: The kinds the public may see without a login (from suppressed figures).
PUBLIC_MAP_KINDS: tuple[MapKind, ...] = ("choropleth", "hexbin")
