"""Roll-up figures per area from counts: rates, resolution breakdown, % solved.

Counts come in long form, one row per area and key (the shape of the ``rollup`` table):
``households``, ``affected`` and ``affected:<dimension>`` (households with at least one problem),
and ``problems:<category>:<status>``. "% solved" is computed from the resolution breakdown —
problems solved by an agency or by the household over all problems — never from one lumped status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from geo.errors import InvalidInputError

DIMENSIONS = ("health", "living_conditions", "education", "income", "public_services")
#: The resolution breakdown, in the order reports show it.
RESOLUTION = (
    "solved_by_agency",
    "solved_by_household",
    "referred",
    "in_progress",
    "closed_unsolved",
    "open",
)
SOLVED = ("solved_by_agency", "solved_by_household")
PER = 1_000


def summarise(
    counts: Iterable[tuple[str, str, int]],
    dimension_of: Mapping[str, str],
    dimension: str | None = None,
    codes: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Figures per area.

    Parameters
    ----------
    counts : iterable of (code, key, n)
        Counts in long form (see the module docstring).
    dimension_of : mapping
        Problem category code → its TPMAP dimension.
    dimension : str, optional
        Count only problems of this dimension (households with problems too).
    codes : iterable of str
        Areas to report even when ``counts`` has nothing for them (all zeros).

    Returns
    -------
    dict
        Area code → ``households``, ``households_with_problems``, ``problems``, ``solved``,
        ``solved_pct`` (None without problems), ``problems_per_1000`` and ``affected_per_1000``
        (None without households), and the dicts ``resolution`` (problems by status, every
        status present), ``by_dimension`` (every dimension) and ``by_category`` (those found).
    """
    if dimension is not None and dimension not in DIMENSIONS:
        raise InvalidInputError(f"dimension: {dimension!r} is not one of {', '.join(DIMENSIONS)}")
    affected_key = "affected" if dimension is None else f"affected:{dimension}"
    areas: dict[str, dict[str, Any]] = {code: _empty() for code in codes}
    for code, key, n in counts:
        area = areas.get(code) or areas.setdefault(code, _empty())
        if key == "households":
            area["households"] += n
        elif key == affected_key:
            area["households_with_problems"] += n
        elif key.startswith("problems:"):
            _, category, status = key.split(":", 2)
            within = dimension_of.get(category)
            if dimension is not None and within != dimension:
                continue
            area["problems"] += n
            area["resolution"][status] = area["resolution"].get(status, 0) + n
            if within is not None:
                area["by_dimension"][within] += n
            area["by_category"][category] = area["by_category"].get(category, 0) + n
    for area in areas.values():
        area["solved"] = sum(area["resolution"][s] for s in SOLVED)
        area["solved_pct"] = _share(area["solved"], area["problems"], 100)
        area["problems_per_1000"] = _share(area["problems"], area["households"], PER)
        area["affected_per_1000"] = _share(
            area["households_with_problems"], area["households"], PER
        )
        area["by_category"] = dict(sorted(area["by_category"].items()))
    return dict(sorted(areas.items()))


def _empty() -> dict[str, Any]:
    return {
        "households": 0,
        "households_with_problems": 0,
        "problems": 0,
        "resolution": dict.fromkeys(RESOLUTION, 0),
        "by_dimension": dict.fromkeys(DIMENSIONS, 0),
        "by_category": {},
    }


def _share(part: int, whole: int, scale: float) -> float | None:
    """``part / whole * scale`` rounded to 2 decimals; None when ``whole`` is 0."""
    return round(part / whole * scale, 2) if whole else None
