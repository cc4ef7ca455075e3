"""Roll-ups per area: households, problems, the resolution breakdown and rates."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import in_scope, requires
from api.deps import SessionDep
from layers import stats
from layers.users import User

router = APIRouter(prefix="/stats", tags=["analysis"])
Reader = Annotated[User | None, Depends(requires("analysis:read"))]

Level = Literal["province", "district", "subdistrict", "village", "community"]
Dimension = Literal["health", "living_conditions", "education", "income", "public_services"]


class AreaFigures(BaseModel):
    code: str
    level: str
    round: int
    name_th: str | None
    name_en: str | None
    households: int
    households_with_problems: int
    problems: int
    solved: int
    solved_pct: float | None
    problems_per_1000: float | None
    affected_per_1000: float | None
    resolution: dict[str, int]
    by_dimension: dict[str, int]
    by_category: dict[str, int]


class StatsQuery(BaseModel):
    area: str
    level: Level
    round: int | None
    dimension: Dimension | None


def stats_query(
    level: Annotated[Level, Query(description="the level of the areas listed")],
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
    """One object per child area of ``area`` at ``level``; "% solved" from the breakdown."""
    return stats.rollup(
        session.connection(),
        area=in_scope(user, query.area),
        level=query.level,
        round_=query.round,
        dimension=query.dimension,
    )
