"""Roll-ups per area: households, problems, the resolution breakdown and rates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import in_scope, requires
from api.deps import SessionDep
from geo.vocab import Dimension, UnitLevel
from layers.access.users import User
from layers.analysis import stats
from layers.analysis.public import public_rollup

router = APIRouter(prefix="/stats", tags=["analysis"])
Reader = Annotated[User | None, Depends(requires("analysis:read", anonymous=True))]


class AreaFigures(BaseModel):
    """Counts are None where the public answer hides them (see ``suppressed``)."""

    code: str
    level: str
    round: int
    name_th: str | None
    name_en: str | None
    households: int | None
    households_with_problems: int | None
    problems: int | None
    solved: int | None
    solved_pct: float | None
    problems_per_1000: float | None
    affected_per_1000: float | None
    resolution: dict[str, int | None]
    by_dimension: dict[str, int | None]
    by_category: dict[str, int | None]
    suppressed: list[str] | None = None


class StatsQuery(BaseModel):
    area: str
    level: UnitLevel
    round: int | None
    dimension: Dimension | None


def stats_query(
    level: Annotated[UnitLevel, Query(description="the level of the areas listed")],
    area: Annotated[
        str, Query(description="province, district or subdistrict code; empty = Thailand")
    ] = "",
    round: Annotated[int | None, Query(description="survey round (BE); default latest")] = None,
    dimension: Annotated[Dimension | None, Query(description="only this dimension")] = None,
) -> StatsQuery:
    return StatsQuery(area=area, level=level, round=round, dimension=dimension)


@router.get("", response_model=list[AreaFigures])
def get_stats(
    session: SessionDep, user: Reader, query: Annotated[StatsQuery, Depends(stats_query)]
) -> list[dict[str, object]]:
    """One object per child area of ``area`` at ``level``; "% solved" from the breakdown.

    Without a login the answer is public: counts below 5 (10 for sensitive categories) are
    hidden with enough others that none can be recovered by subtraction, and sensitive
    categories are not shown below district level.
    """
    if user is None:
        return public_rollup(
            session.connection(),
            area=query.area,
            level=query.level,
            round_=query.round,
            dimension=query.dimension,
        )
    return stats.rollup(
        session.connection(),
        area=in_scope(user, query.area),
        level=query.level,
        round_=query.round,
        dimension=query.dimension,
        scope=user.scope,
    )
