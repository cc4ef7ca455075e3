"""Household records for the roles that may see them: lists of households and of problems with
filters and paging, and one household with every round and problem. The page asks for the
purpose first; every view is access-logged, with that purpose, exactly as the API logs it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import requires
from api.deps import AreaQuery, CodeQuery, Offset, RoundQuery, SessionDep, SettingsDep, audit
from api.web.render import page, pages_router, words
from geo.vocab import STATUSES
from layers.access import records
from layers.access.users import User
from layers.store.keys import pii_key
from layers.survey.taxonomy import categories

router = pages_router("/app")
Reader = Annotated[User | None, Depends(requires("households:read"))]
ProblemReader = Annotated[User | None, Depends(requires("problems:read"))]
#: Why a record is opened: the word shown → what the access log keeps.
PURPOSES = {
    "purpose_case": "case follow-up",
    "purpose_visit": "home visit",
    "purpose_check": "data check",
    "purpose_request": "data subject request",
}
Purpose = Annotated[str, Query(max_length=40)]
PAGE = 50


@router.get("/households", response_class=HTMLResponse)
def households(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    area: AreaQuery = "",
    round: RoundQuery = None,
    offset: Offset = 0,
    purpose: Purpose = "",
) -> HTMLResponse:
    assert user is not None
    t = words(request)
    if purpose not in PURPOSES.values():
        return _ask(request, user, t("households"))
    found = records.list_households(
        session.connection(),
        user.scope,
        pii_key(settings),
        area=area or None,
        round_=round,
        limit=PAGE,
        offset=offset,
    )
    return _listed(
        request, session, user, "households.html", t("households"), found, offset,
        area=area, round=round, purpose=purpose,
    )  # fmt: skip


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    household_id: Annotated[str, Path(max_length=64)],
    purpose: Purpose = "",
) -> HTMLResponse:
    assert user is not None
    t = words(request)
    if purpose not in PURPOSES.values():
        return _ask(request, user, t("household"))
    conn = session.connection()
    found = records.get_household(conn, user.scope, pii_key(settings), household_id)
    taxonomy = {c["code"]: c for c in categories(conn)}
    audit(request, session, user, [household_id], [*sorted(found["rounds"][0]), "problems"])
    return page(
        request,
        "household.html",
        user,
        title=f"{t('household')} {found.get('household_id') or found.get('household_ref')}",
        found=found,
        purpose=purpose,
        names_of=taxonomy,
    )


@router.get("/problems", response_class=HTMLResponse)
def problems(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ProblemReader,
    area: AreaQuery = "",
    category: CodeQuery = None,
    status: CodeQuery = None,
    round: RoundQuery = None,
    offset: Offset = 0,
    purpose: Purpose = "",
) -> HTMLResponse:
    assert user is not None
    t = words(request)
    if purpose not in PURPOSES.values():
        return _ask(request, user, t("problems"))
    conn = session.connection()
    found = records.list_problems(
        conn,
        user.scope,
        pii_key(settings),
        area=area or None,
        category=category or None,
        status=status or None,
        round_=round,
        limit=PAGE,
        offset=offset,
    )
    return _listed(
        request, session, user, "problems.html", t("problems"), found, offset,
        area=area, category=category or "", status_chosen=status or "", round=round,
        purpose=purpose, categories=categories(conn), statuses=STATUSES,
    )  # fmt: skip


def _listed(
    request: Request,
    session: SessionDep,
    user: User,
    template: str,
    title: str,
    found: tuple[list[dict[str, Any]], int, list[str]],
    offset: int,
    **context: Any,
) -> HTMLResponse:
    """A page of records, logged (the access log's row commits the session: the last query)."""
    items, total, ids = found
    audit(request, session, user, ids, sorted({k for i in items for k in i}))
    return page(
        request, template, user, title=title, items=items, total=total, limit=PAGE,
        offset=offset, **context,
    )  # fmt: skip


def _ask(request: Request, user: User, title: str) -> HTMLResponse:
    """The purpose form: the same address again, with the purpose added."""
    kept = {k: v for k, v in request.query_params.items() if k != "purpose"}
    return page(request, "purpose.html", user, title=title, purposes=PURPOSES, kept=kept)
