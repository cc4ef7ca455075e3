"""Municipal communities: their public progress (the issues raised in their planning meetings,
each one's state and plan item), and, for the community leader and the district team, logging
a meeting with its issues and moving an issue on to the local development plan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.auth import requires
from api.deps import PLAIN_TEXT, AreaQuery, SessionDep, SettingsDep
from geo.citizens import DETAIL_MAX
from geo.communities import ISSUE_STATES, IssueState
from layers.access.users import User
from layers.cases.events import clock
from layers.citizens import communities

router = APIRouter(prefix="/communities", tags=["communities"])
Anyone = Annotated[User | None, Depends(requires("public"))]
Recorder = Annotated[User | None, Depends(requires("communities:write"))]
Code = Annotated[str, Path(max_length=24, pattern=r"^[\w-]+$")]
Year = Annotated[int | None, Query(ge=2400, le=2700, description="plan year, Buddhist Era")]
Short = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PLAIN_TEXT)]


@router.get("", summary="The communities of an area, with their issues counted (public)")
def list_communities(session: SessionDep, _: Anyone, area: AreaQuery = "") -> dict[str, Any]:
    return {"items": communities.listed(session.connection(), area)}


@router.get("/{code}", summary="A community's planning issues and their progress (public)")
def community_progress(
    session: SessionDep, _: Anyone, code: Code, year: Year = None
) -> dict[str, Any]:
    return communities.progress(session.connection(), code, year)


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=PLAIN_TEXT)]
    detail: Annotated[str, StringConstraints(max_length=DETAIL_MAX)]
    votes: int | None = Field(default=None, ge=0, le=100_000)
    priority: int | None = Field(default=None, ge=1, le=5)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class MeetingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: dt.date
    attendance: int = Field(ge=0, le=1_000_000)
    issues: list[IssueRequest] = Field(max_length=500)


@router.post("/{code}/meetings", status_code=201, summary="Log a planning meeting and its issues")
def record_meeting(
    session: SessionDep, settings: SettingsDep, user: Recorder, code: Code, body: MeetingRequest
) -> dict[str, Any]:
    assert user is not None
    made = communities.record_meeting(
        session.connection(), user, code, body.held_on, body.attendance,
        [communities.NewIssue(**i.model_dump()) for i in body.issues], clock(settings),
    )  # fmt: skip
    session.commit()
    return made


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_year: int = Field(ge=2400, le=2700, description="Buddhist Era")
    code: Short
    name_th: Short
    budget_line: Short | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: IssueState = Field(description=f"one of {ISSUE_STATES}")
    plan: PlanRequest | None = None


@router.post("/issues/{issue_id}/state", summary="Move an issue on (adopted into the plan, …)")
def move_issue(
    session: SessionDep,
    settings: SettingsDep,
    user: Recorder,
    issue_id: Annotated[int, Path(ge=1, le=2**62)],
    body: MoveRequest,
) -> dict[str, Any]:
    assert user is not None
    plan = communities.NewPlanItem(**body.plan.model_dump()) if body.plan else None
    moved = communities.move(
        session.connection(), user, issue_id, body.state, clock(settings), plan
    )
    session.commit()
    return moved
