"""Roll-ups per area: read from the trigger-maintained ``rollup`` table, or counted live below it.

Province, district and subdistrict figures come from ``rollup`` (a few thousand rows at most,
whatever the survey's size). Villages (``moo``) and municipal communities are counted from the
raw rows of one area, which is small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, text

from geo.errors import InvalidInputError, NotFoundError
from geo.stats import summarise
from layers.models import AdminUnit, ProblemCategory, Rollup

LEVELS = ("province", "district", "subdistrict", "village", "community")
CODE_LENGTH = {"country": 0, "province": 2, "district": 4, "subdistrict": 6}
#: The widest area each live level may be asked for (it counts raw rows).
LIVE_WITHIN = {
    "village": ("district", "subdistrict"),
    "community": ("province", "district", "subdistrict"),
}

# The counts of the child areas in long form (see ``Rollup``): only the keys a report reads.
ROLLUP = """
SELECT code, key, n FROM rollup
WHERE round = :round AND length(code) = :length AND code LIKE :prefix AND n <> 0
  AND (key IN ('households', :affected) OR key LIKE :status OR key LIKE 'category:%'
       OR key LIKE 'dimension:%')
"""
# The same long form counted from the raw rows of one area, for units below a subdistrict.
# ``{unit}`` is the SQL for the child unit's code, one of ``UNIT_SQL``.
LIVE = """
WITH h AS (
    SELECT household_id, {unit} AS code FROM household
    WHERE round = :round AND subdistrict_code LIKE :prefix AND {unit} IS NOT NULL
), p AS (
    SELECT h.code, q.household_id, q.category, q.status, c.dimension
    FROM h JOIN problem q ON q.household_id = h.household_id AND q.round = :round
    JOIN problem_category c ON c.code = q.category
)
SELECT code, 'households' AS key, count(*) AS n FROM h GROUP BY code
UNION ALL
SELECT code, 'affected' || coalesce(':' || dimension, ''), count(DISTINCT household_id)
FROM p GROUP BY GROUPING SETS ((code, dimension), (code))
UNION ALL
SELECT code,
    CASE WHEN GROUPING(dimension) = 0 AND GROUPING(status) = 0
            THEN 'dimension_status:' || dimension || ':' || status
         WHEN GROUPING(status) = 0 THEN 'status:' || status
         WHEN GROUPING(category) = 0 THEN 'category:' || category
         ELSE 'dimension:' || dimension END,
    count(*)
FROM p
GROUP BY GROUPING SETS ((code, status), (code, category), (code, dimension),
                        (code, dimension, status))
"""
UNIT_SQL = {
    "village": "subdistrict_code || lpad(coalesce(moo, 0)::text, 2, '0')",
    "community": "community",
}


@dataclass(frozen=True)
class Area:
    code: str
    level: str
    name_th: str | None
    name_en: str | None


def resolve_area(conn: Connection, code: str | None) -> Area:
    """The area a roll-up is asked for; None or '' is the whole country."""
    if not code:
        return Area("", "country", "ประเทศไทย", "Thailand")
    if not code.isdigit() or len(code) not in (2, 4, 6):
        raise InvalidInputError(
            f"area: {code!r} is not a province (2 digits), district (4) or subdistrict (6) code"
        )
    row = conn.execute(
        select(AdminUnit.code, AdminUnit.level, AdminUnit.name_th, AdminUnit.name_en).where(
            AdminUnit.code == code
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no area with code {code!r}")
    return Area(*row)


def latest_round(conn: Connection) -> int:
    """The newest survey round that has households."""
    found = conn.scalar(
        select(func.max(Rollup.round)).where(
            Rollup.code == "", Rollup.key == "households", Rollup.n > 0
        )
    )
    if found is None:
        raise NotFoundError("no survey has been imported yet: run `bamrung import` first")
    return int(found)


def rollup(
    conn: Connection,
    *,
    area: str | None,
    level: str,
    round_: int | None = None,
    dimension: str | None = None,
) -> list[dict[str, Any]]:
    """Figures for each child area of ``area`` at ``level``, ordered by code.

    Every unit of the level inside the area is listed, with zeros where nobody was surveyed.
    """
    parent = resolve_area(conn, area)
    if level not in LEVELS:
        raise InvalidInputError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    if level in LIVE_WITHIN:
        if parent.level not in LIVE_WITHIN[level]:
            raise InvalidInputError(
                f"level {level!r} is counted from raw records: ask for it inside a "
                f"{' or '.join(LIVE_WITHIN[level])}, not a {parent.level}"
            )
    elif CODE_LENGTH[level] <= CODE_LENGTH[parent.level]:
        raise InvalidInputError(f"level {level!r} is not below the {parent.level} {parent.code!r}")
    round_ = round_ if round_ is not None else latest_round(conn)
    params = {
        "round": round_,
        "prefix": parent.code + "%",
        "affected": "affected" if dimension is None else f"affected:{dimension}",
        "status": "status:%" if dimension is None else f"dimension_status:{dimension}:%",
    }
    if level in LIVE_WITHIN:
        counts = conn.execute(text(LIVE.format(unit=UNIT_SQL[level])), params).all()
        names = _live_names([c for c, _, _ in counts], level)
    else:
        params["length"] = CODE_LENGTH[level]
        counts = conn.execute(text(ROLLUP), params).all()
        names = {
            code: (th, en)
            for code, th, en in conn.execute(
                select(AdminUnit.code, AdminUnit.name_th, AdminUnit.name_en).where(
                    AdminUnit.level == level, AdminUnit.code.startswith(parent.code)
                )
            )
        }
    dimension_of = dict(conn.execute(select(ProblemCategory.code, ProblemCategory.dimension)).all())
    figures = summarise(counts, dimension_of, dimension, codes=names)
    return [
        {
            "code": code,
            "level": level,
            "round": round_,
            "name_th": names.get(code, (None, None))[0],
            "name_en": names.get(code, (None, None))[1],
            **row,
        }
        for code, row in figures.items()
    ]


def _live_names(codes: list[str], level: str) -> dict[str, tuple[str | None, str | None]]:
    if level == "village":
        names: dict[str, tuple[str | None, str | None]] = {}
        for code in codes:
            moo = int(code[6:])
            names[code] = (f"หมู่ {moo}", f"Moo {moo}") if moo else ("ไม่ทราบหมู่", "Moo unknown")
        return names
    return {code: (code, None) for code in codes}
