"""What the cases' JSON routes and their pages share: the queue's filters, who acts, and one
case read through the scope filter with its access-log row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import StringConstraints
from sqlalchemy.orm import Session

from api.deps import audit
from geo.cases.workflow import State
from geo.vocab import Dimension
from layers.access.users import User
from layers.cases import queries
from layers.cases.events import Actor, clock, today
from layers.cases.queries import CaseFilter
from layers.store.keys import pii_key
from layers.store.settings import Settings

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,48}$")]
AreaCode = Annotated[str, StringConstraints(pattern=r"^(\d{2}|\d{4}|\d{6})?$")]


def case_filter(
    office: Annotated[Code | None, Query(description="an office code")] = None,
    state: Annotated[State | None, Query(description="a case state")] = None,
    overdue: Annotated[bool | None, Query(description="past the deadline it waits on")] = None,
    area: Annotated[AreaCode | None, Query(description="area code")] = None,
    category: Annotated[Code | None, Query(description="a category code")] = None,
    dimension: Annotated[Dimension | None, Query()] = None,
    escalated: Annotated[
        bool | None, Query(description="outside the mandate, or up the ladder")
    ] = None,
    escalation_level: Annotated[
        int | None,
        Query(ge=0, le=3, description="at least this far up the ladder (1 district, 3 national)"),
    ] = None,
) -> CaseFilter:
    return CaseFilter(
        office, state, overdue, area or None, category, dimension, escalated, escalation_level
    )


FilterDep = Annotated[CaseFilter, Depends(case_filter)]


def actor(request: Request, user: User | None) -> Actor:
    """The user of this request as the actor of a change (with the request's id)."""
    assert user is not None
    return Actor(user.name, user.role, user.scope, request.state.request_id)


def read_case(
    request: Request,
    session: Session,
    settings: Settings,
    user: User,
    case_id: int,
    also: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One case the user may see, with its history, as the user may see it (pseudonymised for
    an analyst); logged, with the fields ``also`` shown beside it. The access log's row commits
    the session."""
    found = queries.get_case(
        session.connection(), user.scope, case_id, today=today(clock(settings))
    )
    fields = ["case", "household_id", "history", *also]
    audit(request, session, user, [found["household_id"]], fields)
    return queries.view([found], user.scope.pseudonymised, pii_key(settings))[0]
