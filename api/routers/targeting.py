"""Targeting: areas ranked for action, each score with its components."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import in_scope, requires
from api.deps import AdminLevel, AreaQuery, RoundQuery, SessionDep
from layers import targeting
from layers.overlay import records
from layers.settings import PROJECT_ROOT
from layers.users import User

router = APIRouter(prefix="/targeting", tags=["analysis"])
CONFIG = PROJECT_ROOT / "data" / "targeting.yaml"


@router.get("", summary="Rank the child areas of an area; stored as a targeting run")
def rank(
    session: SessionDep,
    user: Annotated[User | None, Depends(requires("analysis:area"))],
    level: Annotated[AdminLevel, Query(description="level of the areas ranked")],
    area: AreaQuery = "",
    round: RoundQuery = None,
    top: Annotated[int, Query(ge=1, le=10_000, description="rows returned")] = 20,
) -> dict[str, Any]:
    config = targeting.load_config(CONFIG)
    run_id, ranked = targeting.target_areas(
        session.connection(), config, area=in_scope(user, area), level=level, round_=round
    )
    session.commit()
    return {
        "run": run_id,
        "weights": config.weights,
        "areas": records(ranked.head(top).reset_index(names="code")),
    }
