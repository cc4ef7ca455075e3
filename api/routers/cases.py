"""Cases: queues, one case with its history, actions with If-Match, referral, figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from api.auth import requires
from api.casework import AreaCode, Code, FilterDep, actor, read_case
from api.deps import GEOJSON_OK, PLAIN_TEXT, PageDep, SessionDep, SettingsDep, audit, geojson
from geo.cases.workflow import ACTIONS, RejectionReason, Resolution
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError
from geo.vocab import Dimension
from layers.access.users import User
from layers.cases import actions, attachments, delivery, queries, referral
from layers.cases.events import clock, today
from layers.cases.queries import KPI_GROUPS
from layers.store.keys import pii_key
from layers.store.settings import Settings

router = APIRouter(prefix="/cases", tags=["cases"])

Reader = Annotated[User | None, Depends(requires("cases:read"))]
Worker = Annotated[User | None, Depends(requires("cases:act"))]
Referrer = Annotated[User | None, Depends(requires("cases:refer"))]
Admin = Annotated[User | None, Depends(requires("cases:admin"))]
Text = Annotated[str, StringConstraints(max_length=2_000, pattern=PLAIN_TEXT)]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
#: What a change may answer besides the domain errors.
VERSIONED: dict[int | str, dict[str, Any]] = {
    412: {"description": "the case changed since it was read: the body holds its current state"},
    428: {"description": "If-Match is missing: send the ETag the case was read with"},
}
CaseAction = Literal[
    "acknowledge",
    "progress",
    "resolve",
    "verify",
    "reject",
    "reopen",
    "close",
    "route",
    "recategorise",
    "comment",
]


#: The queue answers JSON, or GeoJSON with ``f=geojson``.
QUEUE_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a page of cases (JSON), or their points (GeoJSON, EPSG:4326)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            **GEOJSON_OK[200]["content"],
        },
    }
}


@router.get(
    "",
    summary="A queue of cases inside the caller's scope, overdue first",
    responses=QUEUE_OK,
)
def list_cases(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    paging: PageDep,
    given: FilterDep,
    f: Annotated[Literal["json", "geojson"], Query(description="json, or geojson")] = "json",
) -> Any:
    assert user is not None
    day = today(clock(settings))
    conn = session.connection()
    if f == "geojson":
        if user.scope.pseudonymised:
            raise ForbiddenError("cases' positions are not for the analyst role: ask for json")
        frame = queries.case_points(
            conn, user.scope, given, today=day, limit=paging.limit, offset=paging.offset
        )
        audit(request, session, user, frame["household_id"].tolist(), sorted(frame.columns))
        return geojson(frame, limit=settings.export_max_features)
    items, total = queries.list_cases(
        conn, user.scope, given, today=day, limit=paging.limit, offset=paging.offset
    )
    ids = [i["household_id"] for i in items]
    items = queries.view(items, user.scope.pseudonymised, pii_key(settings))
    audit(request, session, user, ids, sorted({k for i in items for k in i}))
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get(
    "/kpis",
    summary="Figures of the cases by office, agency or area",
    description="Received; acknowledged, and on time (%); median working days to acknowledge "
    "and to resolve; overdue now; rejected; re-routed; solved by the agency and by the "
    "household.",
)
def case_kpis(
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    given: FilterDep,
    by: Annotated[Literal["office", "agency", "area"], Query()] = "office",
    level: Annotated[Literal["province", "district", "subdistrict"], Query()] = "province",
) -> dict[str, Any]:
    assert user is not None and by in KPI_GROUPS
    found = queries.kpis(
        session.connection(),
        user.scope,
        by=by,
        level=level,
        today=today(clock(settings)),
        given=given,
    )
    return {"by": by, "level": level if by == "area" else None, "items": found}


class ReferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    areas: list[AreaCode] = Field(default_factory=list, max_length=1_000)
    targeting_run: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="refer the top areas of this run"
    )
    top: int = Field(default=10, ge=1, le=1_000, description="with targeting_run: how many")
    categories: list[Code] | None = None
    dimension: Dimension | None = None
    household: Annotated[str, StringConstraints(max_length=64, pattern=PLAIN_TEXT)] | None = None
    round: int | None = Field(default=None, ge=2500, le=2700)
    dry_run: bool = False


@router.post("/refer", summary="Refer every matching open problem to its routed office")
def refer_cases(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Referrer,
    body: ReferRequest,
) -> dict[str, Any]:
    areas = list(body.areas)
    if body.targeting_run is not None:
        areas += referral.top_areas(session.connection(), body.targeting_run, body.top)
    if not areas:
        raise InvalidInputError("areas: give areas, or a targeting_run")
    done = referral.refer(
        session.get_bind(),  # type: ignore[arg-type]
        actor(request, user),
        areas=areas,
        now=clock(settings),
        categories=body.categories,
        dimension=body.dimension,
        household=body.household,
        round_=body.round,
        dry_run=body.dry_run,
    )
    return {
        "round": done.round,
        "dry_run": done.dry_run,
        "cases": done.cases,
        "offices": dict(sorted(done.offices.items())),
        "unrouted": done.unrouted,
        "batches": done.batches,
    }


@router.get("/dead-letters", summary="Messages to offices that could not be delivered")
def list_dead_letters(session: SessionDep, user: Admin) -> dict[str, Any]:
    return {"items": delivery.dead_letters(session.connection())}


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(default=None, max_length=10_000)


@router.post("/dead-letters/replay", summary="Send dead letters again (all, or some ids)")
def replay_dead_letters(session: SessionDep, user: Admin, body: Replay) -> dict[str, int]:
    queued = delivery.replay(session.connection(), body.ids)
    session.commit()
    return {"queued": queued}


def _shown(
    request: Request,
    session: Session,
    settings: Settings,
    user: User,
    case_id: int,
    response: Response,
) -> dict[str, Any]:
    shown = read_case(request, session, settings, user, case_id)
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown


@router.get("/{case_id}", summary="One case and its whole history, in order (ETag: its version)")
def get_case(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    case_id: CaseId,
) -> dict[str, Any]:
    assert user is not None
    return _shown(request, session, settings, user, case_id, response)


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = None
    resolution: Resolution | None = None
    expected_on: dt.date | None = Field(default=None, description="acknowledge: by when")
    reason: RejectionReason | None = None
    office: Code | None = Field(default=None, description="reject: suggested; route: to")
    category: Code | None = Field(default=None, description="recategorise: the right one")


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None  # refused after the scope check: an unseen case stays a 404
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidInputError(f"If-Match: {if_match!r} is not an ETag of a case")
    return int(value)


@router.post(
    "/{case_id}/attachments",
    summary="Attach a file (PDF, PNG, JPEG) to a case with a progress note (If-Match)",
    responses=VERSIONED,
)
def attach_file(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    case_id: CaseId,
    file: Annotated[UploadFile, File(description="a PDF, PNG or JPEG")],
    note: Annotated[Text | None, Form()] = None,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> dict[str, Any]:
    assert user is not None
    data = file.file.read(settings.attachment_max_bytes + 1)
    attachments.attach(
        session.connection(),
        settings,
        actor(request, user),
        case_id,
        version=_version(if_match),
        now=clock(settings),
        name=file.filename or "",
        data=data,
        note=note,
    )
    shown = _shown(request, session, settings, user, case_id, response)
    session.commit()
    return shown


@router.get(
    "/{case_id}/attachments/{attachment_id}",
    summary="One file attached to a case",
    response_class=FileResponse,
)
def get_attachment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    case_id: CaseId,
    attachment_id: CaseId,
) -> FileResponse:
    assert user is not None
    path, found = attachments.attachment(
        session.connection(), settings, user.scope, case_id, attachment_id
    )
    audit(request, session, user, [found["household_id"]], ["attachment"])
    return FileResponse(
        path,
        media_type=found["media_type"],
        filename=found["name"],
        content_disposition_type="attachment",
    )


@router.post(
    "/{case_id}/{action}",
    summary="Act on a case (If-Match: the ETag it was read with)",
    responses=VERSIONED,
)
def act_on_case(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    user: Worker,
    case_id: CaseId,
    action: CaseAction,
    body: ActionRequest,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> dict[str, Any]:
    assert user is not None and (action in ACTIONS or action == "recategorise")
    version = _version(if_match)
    actions.act(
        session.connection(),
        actor(request, user),
        case_id,
        action,
        version=version,
        now=clock(settings),
        **body.model_dump(),
    )
    # One commit: the change and the access-log row of the answer that shows it.
    try:
        shown = _shown(request, session, settings, user, case_id, response)
        session.commit()  # nothing left to write, when the access log committed it already
        return shown
    except NotFoundError:
        # Handed on (rejected, re-categorised): the caller no longer sees the case.
        session.commit()
        return {"id": case_id, "handed_on": True}
