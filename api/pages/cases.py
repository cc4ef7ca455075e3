"""Cases in the browser: queues with filters, a case with its history and the actions the role
may take (each sending the version it read), bulk referral from a targeting ranking, and the
reviewers' escalated cases by location."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import requires
from api.casework import FilterDep, actor, read_case
from api.deps import Offset, SessionDep, SettingsDep, audit
from api.web.render import language, page, pages_router, words
from geo.cases.workflow import REJECTION_REASONS, STATES, allowed
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError, StaleVersionError
from geo.vocab import DIMENSIONS
from layers.access.users import User
from layers.cases import actions, queries, referral
from layers.cases.events import clock, today
from layers.cases.queries import CaseFilter
from layers.store.keys import pii_key
from layers.survey.taxonomy import categories

router = pages_router("/app")
Reader = Annotated[User | None, Depends(requires("cases:read"))]
Worker = Annotated[User | None, Depends(requires("cases:act"))]
Referrer = Annotated[User | None, Depends(requires("cases:refer"))]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
FormCode = Annotated[str | None, Form(max_length=48, pattern=r"^[a-z0-9_-]*$")]
PAGE = 50
#: The actions a page offers (escalation is the platform's own).
OFFERED = (
    "acknowledge", "progress", "resolve", "reject", "verify", "reopen", "close", "route", "comment",
)  # fmt: skip
#: The categories reviewers look at first: land, schooling, reading (``education`` dimension).
REVIEWED = ("no_land_title", "child_out_of_school", "illiteracy")


@router.get("/cases", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    given: FilterDep,
    offset: Offset = 0,
) -> HTMLResponse:
    assert user is not None
    return _queue(request, session, settings, user, given, offset, "cases.html", "cases")


@router.get("/review", response_class=HTMLResponse)
def review(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    given: FilterDep,
    offset: Offset = 0,
    age: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> HTMLResponse:
    """Escalated cases by location: the reviewer's first page."""
    assert user is not None
    day = today(clock(settings))
    given = replace(
        given,
        escalated=True,
        opened_before=None if age is None else day - dt.timedelta(days=age),
    )
    return _queue(
        request, session, settings, user, given, offset, "review.html", "escalated_title", age=age
    )


def _queue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: User,
    given: CaseFilter,
    offset: int,
    template: str,
    title: str,
    age: int | None = None,
) -> HTMLResponse:
    day = today(clock(settings))
    conn = session.connection()
    items, total = queries.list_cases(conn, user.scope, given, today=day, limit=PAGE, offset=offset)
    ids = [i["household_id"] for i in items]
    items = queries.view(items, user.scope.pseudonymised, pii_key(settings))
    by_agency = (
        queries.kpis(conn, user.scope, by="agency", today=day, given=given)
        if template == "review.html"
        else []
    )
    taxonomy = categories(conn)
    agencies = queries.names(conn, "agency", [row["key"] for row in by_agency])
    # The map of the same cases; the area kept when empty ('' is Thailand, not the maps' 34).
    shown = {"category": given.category, "dimension": given.dimension, "state": given.state}
    map_src = "/maps/cases?" + urlencode(
        {"area": given.area or user.scope.area, "escalated": "true", "lang": language(request)}
        | {k: v for k, v in shown.items() if v}
    )
    # Last: the access log's row commits the session.
    audit(request, session, user, ids, sorted({k for i in items for k in i}))
    return page(
        request,
        template,
        user,
        title=words(request)(title),
        items=items,
        total=total,
        limit=PAGE,
        offset=offset,
        given=given,
        age=age,
        states=STATES,
        dimensions=DIMENSIONS,
        categories=taxonomy,
        reviewed=REVIEWED,
        show_age=template == "review.html",
        map_src=map_src,
        by_agency=by_agency,
        agencies=agencies,
        today=day,
    )


@router.post("/cases/refer", response_class=HTMLResponse)
def refer(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Referrer,
    run: Annotated[int, Form(ge=1, le=2**31 - 1)],
    top: Annotated[int, Form(ge=1, le=100)] = 5,
) -> HTMLResponse:
    """Refer the open problems of the top areas of a targeting run (as ``POST /cases/refer``)."""
    assert user is not None
    areas = referral.top_areas(session.connection(), run, top)  # refer() keeps to the scope
    done = referral.refer(
        session.get_bind(),  # type: ignore[arg-type]
        actor(request, user),
        areas=areas,
        now=clock(settings),
    ) if areas else None  # fmt: skip
    text = words(request)("referred_n", n=done.cases if done else 0)
    return HTMLResponse(f"<span role='status'>{text}</span>")


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: Reader, case_id: CaseId
) -> HTMLResponse:
    assert user is not None
    return _case(request, session, settings, user, case_id)


def _case(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: User,
    case_id: int,
    *,
    message: str | None = None,
    stale: bool = False,
    refused: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    shown = read_case(request, session, settings, user, case_id)
    offered = [a for a in allowed(shown["state"], user.role) if a in OFFERED]
    if not user.scope.allows("cases:act"):
        offered = []
    return page(
        request,
        "case.html",
        user,
        http_status=status,
        title=f"{words(request)('case')} {case_id}",
        case=shown,
        offered=offered,
        reasons=REJECTION_REASONS,
        categories=categories(session.connection()),
        message=message,
        stale=stale,
        refused=refused,
    )


@router.post("/cases/{case_id}", response_class=HTMLResponse)
def act(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    case_id: CaseId,
    action: Annotated[str, Form(pattern=r"^[a-z]{1,16}$")],
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    note: Annotated[str | None, Form(max_length=2000)] = None,
    resolution: FormCode = None,
    expected_on: Annotated[dt.date | None, Form()] = None,
    reason: FormCode = None,
    office: FormCode = None,
) -> HTMLResponse:
    """One action, with the version the page was read at: a stale page is told so and shown
    the case as it is now, nothing is lost or overwritten."""
    assert user is not None
    t = words(request)
    fields: dict[str, Any] = {
        "note": note or None,
        "resolution": resolution or None,
        "expected_on": expected_on,
        "reason": reason or None,
        "office": office or None,
    }
    try:
        actions.act(
            session.connection(), actor(request, user), case_id, action, version=version,
            now=clock(settings), **fields,
        )  # fmt: skip
    except StaleVersionError:
        session.rollback()
        return _case(request, session, settings, user, case_id, stale=True, status=412)
    except (ForbiddenError, InvalidInputError) as exc:
        # Said above the case, whose page stays as it is.
        session.rollback()
        status = 403 if isinstance(exc, ForbiddenError) else 422
        return _case(request, session, settings, user, case_id, refused=str(exc), status=status)
    session.commit()
    try:
        return _case(request, session, settings, user, case_id, message=t("done"))
    except NotFoundError:
        return page(request, "error.html", user, title=t("handed_on"), detail=t("handed_on"),
                    status_code=200, next_url="")  # fmt: skip
