"""Roll-up figures per area from counts: rates, resolution breakdown, % solved.

"% solved" is computed from the resolution breakdown (problems solved by an agency or by the
household, over all problems), never from one lumped status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    counts: Iterable[
        tuple[str, int, int, dict[str, int] | None, dict[str, int] | None, dict[str, int] | None]
    ],
    codes: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Figures per area.

    Parameters
    ----------
    counts : iterable of (code, households, households_with_problems, by_status, by_category,
        by_dimension)
        Counts per area; the three breakdowns count problems (None for none).
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
    areas = {code: _figures(0, 0, None, None, None) for code in codes}
    for code, households, affected, by_status, by_category, by_dimension in counts:
        areas[code] = _figures(households, affected, by_status, by_category, by_dimension)
    return dict(sorted(areas.items()))


def _figures(
    households: int,
    affected: int,
    by_status: dict[str, int] | None,
    by_category: dict[str, int] | None,
    by_dimension: dict[str, int] | None,
) -> dict[str, Any]:
    resolution = dict.fromkeys(RESOLUTION, 0) | (by_status or {})
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
