"""Roll-ups per area: read from the trigger-maintained ``rollup`` table, or counted live below it.

Province, district and subdistrict figures come from ``rollup`` (a few thousand rows at most,
whatever the survey's size). Villages (``moo``) and municipal communities are counted from the
raw rows of one area, which is small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from sqlalchemy import (
    ColumnElement,
    Connection,
    SQLColumnExpression,
    String,
    func,
    literal,
    select,
    text,
    union_all,
)

from geo.access import Scope
from geo.errors import InvalidInputError, NotFoundError
from geo.stats import combine, summarise
from geo.vocab import ADMIN_LEVELS, CODE_LENGTH, UNIT_LEVELS
from layers.access import scope as scoped
from layers.store.codes import within
from layers.store.models import AdminUnit, Household, Problem, ProblemCategory, Rollup
from layers.store.partitions import latest_round

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


@dataclass(frozen=True)
class Area:
    """An area a roll-up is asked for: its code ('' the country), level and names."""

    code: str
    level: str
    name_th: str | None
    name_en: str | None


def resolve_area(conn: Connection, code: str | None) -> Area:
    """The area a roll-up is asked for; None or '' is the whole country."""
    if not code:
        return Area("", "country", "ประเทศไทย", "Thailand")
    if not code.isdigit() or len(code) not in {CODE_LENGTH[level] for level in ADMIN_LEVELS}:
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


def area_above(conn: Connection, area: str, level: str) -> Area:
    """The area ``area``, checked to lie above ``level`` (province, district or subdistrict)."""
    parent = resolve_area(conn, area)
    if level not in CODE_LENGTH or CODE_LENGTH[level] <= CODE_LENGTH[parent.level]:
        raise InvalidInputError(f"level {level!r} is not an admin level below {parent.level}")
    return parent


def outlines_below(conn: Connection, area: str, level: str) -> gpd.GeoDataFrame:
    """The units at ``level`` in ``area`` that have an outline, by code.

    Columns ``code``, ``name_th``, ``name_en`` and the outline (``geom``).
    """
    parent = area_above(conn, area, level)
    return gpd.read_postgis(
        select(AdminUnit.code, AdminUnit.name_th, AdminUnit.name_en, AdminUnit.geom)
        .where(
            AdminUnit.level == level,
            AdminUnit.code.startswith(parent.code),
            AdminUnit.geom.is_not(None),
        )
        .order_by(AdminUnit.code),
        conn,
        geom_col="geom",
    )


def rollup(
    conn: Connection,
    *,
    area: str | None,
    level: str,
    round_: int | None = None,
    dimension: str | None = None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Figures for each child area of ``area`` at ``level``, ordered by code.

    Every unit of the level inside the area is listed, with zeros where nobody was surveyed.
    A ``scope`` narrower than an area (categories, a community) is counted live from the rows it
    may see; ``households`` stays the denominator (``layers.access.scope.denominator``).
    """
    parent = resolve_area(conn, area)
    if level not in UNIT_LEVELS:
        raise InvalidInputError(f"level: {level!r} is not one of {', '.join(UNIT_LEVELS)}")
    if level in LIVE_WITHIN:
        if parent.level not in LIVE_WITHIN[level]:
            raise InvalidInputError(
                f"level {level!r} is counted from raw records: ask for it inside a "
                f"{' or '.join(LIVE_WITHIN[level])}, not a {parent.level}"
            )
    elif CODE_LENGTH[level] <= CODE_LENGTH[parent.level]:
        raise InvalidInputError(f"level {level!r} is not below the {parent.level} {parent.code!r}")
    round_ = round_ if round_ is not None else latest_round(conn)
    if level in LIVE_WITHIN or (scope is not None and scope.narrow):
        counts = _live_counts(conn, level, parent.code, round_, scope)
    else:
        params = {
            "round": round_,
            "length": CODE_LENGTH[level],
            "prefix": parent.code + "%",
            "affected": "affected" if dimension is None else f"affected:{dimension}",
            "status": "status:%" if dimension is None else f"dimension_status:{dimension}:%",
        }
        counts = [(c, k, int(n)) for c, k, n in conn.execute(text(ROLLUP), params)]
    if level in LIVE_WITHIN:
        names = _live_names([c for c, _, _ in counts], level)
    else:
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


#: The level an area's own figures are added up from.
CHILD_LEVEL = {
    "country": "province",
    "province": "district",
    "district": "subdistrict",
    "subdistrict": "village",
}


def served_live(scope: Scope | None, area: str) -> bool:
    """Whether a page may show the figures of ``area`` as ``scope`` counts them.

    A scope narrower than its area is counted live from the records; over the whole country
    that takes seconds (a reviewer's 2.8 million escalated problems of 20 million households:
    7.6 s), so a page shows those figures from a province down, and the JSON API answers the
    rest.
    """
    return scope is None or not scope.narrow or bool(area)


def area_figures(
    conn: Connection, *, area: str, round_: int | None = None, scope: Scope | None = None
) -> dict[str, Any]:
    """The figures of one area ('' Thailand) as ``scope`` may count them.

    With its child areas' figures as ``children`` (the rows of ``rollup``).
    """
    parent = resolve_area(conn, area)
    children = rollup(conn, area=area, level=CHILD_LEVEL[parent.level], round_=round_, scope=scope)
    round_ = children[0]["round"] if children else round_ or latest_round(conn)
    return {
        "code": parent.code,
        "level": parent.level,
        "name_th": parent.name_th,
        "name_en": parent.name_en,
        "round": round_,
        **combine(children),
        "children": children,
    }


def _unit(level: str) -> SQLColumnExpression[Any]:
    """The code of the unit at ``level`` a household belongs to."""
    if level == "village":
        moo = func.lpad(func.coalesce(Household.moo, 0).cast(String), 2, "0")
        return Household.subdistrict_code.concat(moo)
    if level == "community":
        return Household.community
    if level == "subdistrict":
        return Household.subdistrict_code
    return func.left(Household.subdistrict_code, CODE_LENGTH[level])


def _live_counts(
    conn: Connection, level: str, prefix: str, round_: int, scope: Scope | None
) -> list[tuple[str, str, int]]:
    """The long form of ``rollup`` (code, key, n) counted from the raw rows ``scope`` may see."""
    if (
        level in CODE_LENGTH
        and scope is not None
        and scope.community is None
        and scope.household is None
    ):
        return _category_counts(conn, level, prefix, round_, scope)
    unit: ColumnElement[Any] = _unit(level).label("code")
    seen = select(Household.household_id, unit).where(
        Household.round == round_,
        within(Household.subdistrict_code, prefix),
        unit.is_not(None),
    )
    if scope is not None:
        seen = seen.where(scoped.denominator(scope))
    h = seen.cte("h")
    picked = (
        select(h.c.code, Problem.household_id, Problem.category, Problem.status)
        .add_columns(ProblemCategory.dimension)
        .join_from(h, Problem, Problem.household_id == h.c.household_id)
        .join(ProblemCategory, ProblemCategory.code == Problem.category)
        .where(Problem.round == round_)
    )
    if scope is not None:
        picked = picked.where(scoped.problems(scope))
    households = select(h.c.code, _key("households"), func.count().label("n")).group_by(h.c.code)
    counted = conn.execute(union_all(households, *_problem_keys(picked.cte("p"))))
    return [(code, key, int(n)) for code, key, n in counted]


def _category_counts(
    conn: Connection, level: str, prefix: str, round_: int, scope: Scope
) -> list[tuple[str, str, int]]:
    """``_live_counts`` for a scope narrowed only by categories, at an admin level.

    Every household stays the denominator, so that comes from ``rollup``; problems are counted from
    the problem rows alone (they carry their subdistrict), without the household table.
    """
    inside = scope.overlap(prefix)
    if inside is None:
        return []
    prefix = inside
    length = CODE_LENGTH[level]
    households = [
        (code, key, int(n))
        for code, key, n in conn.execute(
            select(Rollup.code, Rollup.key, Rollup.n).where(
                Rollup.round == round_,
                func.length(Rollup.code) == length,
                Rollup.code.startswith(prefix, autoescape=True),
                Rollup.key == "households",
                Rollup.n != 0,
            )
        )
    ]
    unit = Problem.subdistrict_code if length == 6 else func.left(Problem.subdistrict_code, length)
    picked = (
        select(unit.label("code"), Problem.household_id, Problem.category, Problem.status)
        .add_columns(ProblemCategory.dimension)
        .join(ProblemCategory, ProblemCategory.code == Problem.category)
        .where(
            Problem.round == round_,
            within(Problem.subdistrict_code, prefix),
            scoped.problems(scope),
        )
    )
    counted = conn.execute(union_all(*_problem_keys(picked.cte("p"))))
    return households + [(code, key, int(n)) for code, key, n in counted]


def _key(*parts: Any) -> ColumnElement[str]:
    """A ``rollup`` key built in SQL: literal text and columns, concatenated."""
    joined: ColumnElement[str] = literal(parts[0], String)
    for part in parts[1:]:
        joined = joined.concat(part)
    return joined.label("key")


def _problem_keys(p: Any) -> list[Any]:
    """The problem keys of ``rollup`` counted over ``p``.

    ``p`` has the columns code, household_id, category, status and dimension.
    """
    households = func.count(p.c.household_id.distinct()).label("n")
    problems = func.count().label("n")
    return [
        select(p.c.code, _key("affected"), households).group_by(p.c.code),
        select(p.c.code, _key("affected:", p.c.dimension), households).group_by(
            p.c.code, p.c.dimension
        ),
        select(p.c.code, _key("status:", p.c.status), problems).group_by(p.c.code, p.c.status),
        select(p.c.code, _key("category:", p.c.category), problems).group_by(
            p.c.code, p.c.category
        ),
        select(p.c.code, _key("dimension:", p.c.dimension), problems).group_by(
            p.c.code, p.c.dimension
        ),
        select(
            p.c.code, _key("dimension_status:", p.c.dimension, ":", p.c.status), problems
        ).group_by(p.c.code, p.c.dimension, p.c.status),
    ]


def _live_names(codes: list[str], level: str) -> dict[str, tuple[str | None, str | None]]:
    if level == "village":
        names: dict[str, tuple[str | None, str | None]] = {}
        for code in codes:
            moo = int(code[6:])
            names[code] = (f"หมู่ {moo}", f"Moo {moo}") if moo else ("ไม่ทราบหมู่", "Moo unknown")
        return names
    return {code: (code, None) for code in codes}
