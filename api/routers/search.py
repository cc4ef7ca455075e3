"""Thai full-text search (``GET /search?q=``) of citizens' reports and cases' updates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.auth import requires
from api.deps import PLAIN_TEXT, SessionDep, audit
from layers.access.users import User
from layers.citizens.search import find

router = APIRouter(prefix="/search", tags=["citizens"])
Reader = Annotated[User | None, Depends(requires("reports:read"))]


@router.get("", summary="Search reports and case updates by words, Thai without spaces too")
def search(
    request: Request,
    session: SessionDep,
    user: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200, pattern=PLAIN_TEXT)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    assert user is not None
    found = find(session.connection(), user.scope, q, limit)
    households = [
        r["household_id"] for r in found["reports"] + found["updates"] + found["problems"]
    ]
    audit(request, session, user, households, ["detail", "note"])
    return found
