"""Roll-up figures per area from counts: rates, resolution breakdown, % solved.

"% solved" is computed from the resolution breakdown (problems solved by an agency or by the
household, over all problems), never from one lumped status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from geo.errors import InvalidInputError
from geo.vocab import DIMENSIONS, SOLVED, STATUSES

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
        Counts in the roll-up's long form: ``households``, ``affected`` and
        ``affected:<dimension>`` (households with at least one problem), ``status:<s>``,
        ``category:<c>``, ``dimension:<d>`` and ``dimension_status:<d>:<s>`` (problems).
    dimension_of : mapping
        Problem category → its TPMAP dimension.
    dimension : str, optional
        Count only problems (and households with problems) of this dimension.
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
    status_prefix = "status:" if dimension is None else f"dimension_status:{dimension}:"
    gathered: dict[str, dict[str, Any]] = {
        code: {"status": {}, "category": {}, "dimension": {}} for code in codes
    }
    for code, key, n in counts:
        area = gathered.get(code) or gathered.setdefault(
            code, {"status": {}, "category": {}, "dimension": {}}
        )
        if key == "households":
            area["households"] = n
        elif key == affected_key:
            area["affected"] = n
        elif key.startswith(status_prefix):
            area["status"][key[len(status_prefix) :]] = n
        elif key.startswith("category:"):
            category = key[9:]
            if dimension is None or dimension_of.get(category) == dimension:
                area["category"][category] = n
        elif key.startswith("dimension:") and dimension in (None, key[10:]):
            area["dimension"][key[10:]] = n
    figures = {
        code: _figures(
            area.get("households", 0),
            area.get("affected", 0),
            area["status"],
            area["category"],
            area["dimension"],
        )
        for code, area in gathered.items()
    }
    return dict(sorted(figures.items()))


def _figures(
    households: int,
    affected: int,
    by_status: dict[str, int] | None,
    by_category: dict[str, int] | None,
    by_dimension: dict[str, int] | None,
) -> dict[str, Any]:
    resolution = dict.fromkeys(STATUSES, 0) | (by_status or {})
    problems = sum(resolution.values())
    solved = sum(resolution[s] for s in SOLVED)
    return {
        "households": households,
        "households_with_problems": affected,
        "problems": problems,
        "resolution": resolution,
        "by_dimension": dict.fromkeys(DIMENSIONS, 0) | (by_dimension or {}),
        "by_category": dict(sorted((by_category or {}).items())),
        "solved": solved,
        "solved_pct": _share(solved, problems, 100),
        "problems_per_1000": _share(problems, households, PER),
        "affected_per_1000": _share(affected, households, PER),
    }


def _share(part: int, whole: int, scale: float) -> float | None:
    """``part / whole * scale`` rounded to 2 decimals; None when ``whole`` is 0."""
    return round(part / whole * scale, 2) if whole else None


def combine(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of several areas (``summarise``'s values) as one area's.

    Counts add up (a household belongs to one area); the rates are computed again.

    Parameters
    ----------
    rows : iterable of mapping
        Figures of disjoint areas, with ``households``, ``households_with_problems``,
        ``resolution``, ``by_category`` and ``by_dimension``.

    Returns
    -------
    dict
        The same keys as ``summarise`` gives one area.
    """
    households = affected = 0
    status: dict[str, int] = {}
    category: dict[str, int] = {}
    dimension: dict[str, int] = {}
    for row in rows:
        households += row["households"]
        affected += row["households_with_problems"]
        for total, part in (
            (status, row["resolution"]),
            (category, row["by_category"]),
            (dimension, row["by_dimension"]),
        ):
            for key, n in part.items():
                total[key] = total.get(key, 0) + n
    return _figures(households, affected, status, category, dimension)
