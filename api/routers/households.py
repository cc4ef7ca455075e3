"""Household records, scoped to the caller; every response with personal fields is logged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api.auth import requires
from api.deps import PageDep, RoundQuery, SessionDep, SettingsDep, audit
from layers.access import records
from layers.access.users import User
from layers.store.keys import pii_key

router = APIRouter(tags=["records"])

Reader = Annotated[User | None, Depends(requires("households:read"))]
ProblemReader = Annotated[User | None, Depends(requires("problems:read"))]
Exporter = Annotated[User | None, Depends(requires("households:export"))]
AreaFilter = Annotated[
    str | None, Query(pattern=r"^\d{2}(\d{2}(\d{2})?)?$", description="area code")
]


@router.get("/households", summary="Households in an area, inside the caller's scope")
def list_households(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    paging: PageDep,
    area: AreaFilter = None,
    round: RoundQuery = None,
) -> dict[str, Any]:
    assert user is not None
    items, total, ids = records.list_households(
        session.connection(),
        user.scope,
        pii_key(settings),
        area=area,
        round_=round,
        limit=paging.limit,
        offset=paging.offset,
    )
    audit(request, session, user, ids, _fields(items))
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/households/{household_id}", summary="One household: its rounds and problems")
def get_household(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    household_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    assert user is not None
    found = records.get_household(session.connection(), user.scope, pii_key(settings), household_id)
    audit(request, session, user, [household_id], [*_fields(found["rounds"]), "problems"])
    return found


@router.get(
    "/households/{household_id}/export",
    summary="Everything held about one household (data-subject request)",
)
def export_household(
    request: Request,
    session: SessionDep,
    user: Exporter,
    household_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    assert user is not None
    found = records.export_household(session.connection(), user.scope, household_id)
    audit(request, session, user, [household_id], ["*"])
    return found


@router.get(
    "/problems",
    summary="Problems of a round by area, category and status, inside the scope",
    description="Each problem with its place (subdistrict, district and province codes and "
    "names) and the agency it goes to; the latest round unless `round` is given.",
)
def list_problems(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ProblemReader,
    paging: PageDep,
    area: AreaFilter = None,
    category: Annotated[str | None, Query(max_length=48, pattern=r"^[a-z0-9_]+$")] = None,
    status: Annotated[str | None, Query(max_length=24, pattern=r"^[a-z_]+$")] = None,
    round: RoundQuery = None,
) -> dict[str, Any]:
    assert user is not None
    items, total, ids = records.list_problems(
        session.connection(),
        user.scope,
        pii_key(settings),
        area=area,
        category=category,
        status=status,
        round_=round,
        limit=paging.limit,
        offset=paging.offset,
    )
    audit(request, session, user, ids, _fields(items))
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


def _fields(items: list[dict[str, Any]]) -> list[str]:
    return sorted({k for item in items for k in item})
