"""Enrolment: a district team issues a household a one-time code; a citizen redeems it for an
account (a name and a password of their own). Every issue, redemption and failure is in the
sign-in audit log; failed codes are throttled per address like failed logins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from api.auth import client_address, enrol, requires
from api.deps import PLAIN_TEXT, SessionDep, SettingsDep, audit
from layers.access import sessions
from layers.access.users import User
from layers.cases.events import clock
from layers.citizens import enrolment

router = APIRouter(prefix="/enrolment", tags=["citizens"])
Enroller = Annotated[User | None, Depends(requires("citizens:enrol"))]
Anyone = Annotated[User | None, Depends(requires("public"))]
Name = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[\w.@-]+$")]


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PLAIN_TEXT)]


class Issued(BaseModel):
    code: str
    household_id: str
    subdistrict_code: str
    expires_at: dt.datetime


@router.post("/codes", summary="A one-time enrolment code for a household (shown once)")
def issue_code(
    request: Request, session: SessionDep, settings: SettingsDep, user: Enroller, body: CodeRequest
) -> Issued:
    assert user is not None
    conn = session.connection()
    issued = enrolment.issue(
        conn, user.name, user.scope, body.household_id, clock(settings), settings.enrolment_days
    )
    sessions.record(conn, "code_issued", user.name, client_address(request), "api")
    session.commit()
    audit(request, session, user, [issued.household_id], ["enrolment_code"])
    return Issued(**issued.__dict__)


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(max_length=32)]
    username: Name
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)]


@router.post("", summary="Make a citizen account with an enrolment code")
def enrol_citizen(
    request: Request, session: SessionDep, settings: SettingsDep, _: Anyone, body: EnrolRequest
) -> dict[str, Any]:
    user = enrol(request, session, settings, body.code, body.username, body.password, "api")
    audit(request, session, user, [str(user.scope.household)], ["household_id"])
    return {"username": user.name, "role": user.role, "household_id": user.scope.household}
