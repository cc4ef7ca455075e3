"""Targeting: areas (or households) ranked for action, each score with its components."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import in_scope, requires
from api.deps import AreaQuery, RoundQuery, SessionDep, SettingsDep, audit
from geo.errors import ForbiddenError
from geo.intake.personal import keyed_hash
from geo.tables import json_rows
from geo.vocab import AdminLevel
from layers.access.users import User
from layers.analysis import targeting
from layers.store.keys import pii_key

router = APIRouter(prefix="/targeting", tags=["analysis"])
Level = Literal[AdminLevel, "household"]


class TargetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field("", pattern=r"^(\d{2}|\d{4}|\d{6})?$")
    level: AdminLevel
    round: int | None = Field(None, ge=2500, le=2700)
    top: int = Field(20, ge=1, le=10_000)


@router.get(
    "",
    summary="Rank the child areas (or the households) of an area",
    description="Nothing is stored: the stored run computed from the same data and weights is "
    "answered when there is one (`run`), else the ranking is computed for this answer "
    "(`run` null). `level=household` ranks the households with problems of a district or "
    "subdistrict (personal data: logged; pseudonymised for analysts).",
)
def rank(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:area"))],
    level: Annotated[Level, Query(description="level of the areas ranked, or household")],
    area: AreaQuery = "",
    round: RoundQuery = None,
    top: Annotated[int, Query(ge=1, le=10_000, description="rows returned")] = 20,
) -> dict[str, Any]:
    config = targeting.load_config(settings.targeting_file)
    conn = session.connection()
    area = in_scope(user, area)
    if level == "household":
        assert user is not None
        if not user.scope.allows("households:read"):
            raise ForbiddenError(f"the role {user.role} may not rank households")
        ranked = targeting.target_households(conn, config, area=area, round_=round)
        shown = ranked.drop(columns="geometry").head(top).reset_index(names="household_id")
        ids = shown["household_id"].tolist()
        if user.scope.pseudonymised:
            refs = keyed_hash(shown["household_id"], pii_key(settings))
            shown = shown.drop(columns="household_id").assign(household_ref=refs)
        audit(request, session, user, ids, sorted(shown.columns))
        return {"run": None, "weights": config.weights, "households": json_rows(shown)}
    run_id, ranked = targeting.target_areas(conn, config, area=area, level=level, round_=round)
    return {
        "run": run_id,
        "weights": config.weights,
        "areas": json_rows(ranked.head(top).reset_index(names="code")),
    }


@router.post("", summary="Rank the child areas of an area and store the ranking as a run")
def run(
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("analysis:run"))],
    body: TargetRequest,
) -> dict[str, Any]:
    config = targeting.load_config(settings.targeting_file)
    run_id, ranked = targeting.target_areas(
        session.connection(),
        config,
        area=in_scope(user, body.area),
        level=body.level,
        round_=body.round,
        store=True,
    )
    session.commit()
    return {
        "run": run_id,
        "weights": config.weights,
        "areas": json_rows(ranked.head(body.top).reset_index(names="code")),
    }
