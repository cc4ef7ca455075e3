"""Citizens' reports: a citizen reports a problem and follows it; the district team verifies
or rejects what waits in its queue; the citizen says whether the solved case is solved.

Reports hold a household's personal data: every answer that carries them is access-logged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.auth import client_address, requires
from api.casework import actor
from api.deps import PLAIN_TEXT, AreaQuery, PageDep, SessionDep, SettingsDep, audit
from geo.citizens import DETAIL_MAX, REPORT_STATES, ReportState
from layers.access.users import User
from layers.cases.events import clock
from layers.citizens import photos, reports

router = APIRouter(prefix="/reports", tags=["citizens"])
Reporter = Annotated[User | None, Depends(requires("reports:write"))]
Verifier = Annotated[User | None, Depends(requires("reports:verify"))]
Reader = Annotated[User | None, Depends(requires("reports:read"))]
ReportId = Annotated[int, Path(ge=1, le=2**62)]
Text = Annotated[str, StringConstraints(max_length=DETAIL_MAX)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=48, pattern=PLAIN_TEXT)]
FIELDS = ["category", "detail", "position"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    detail: Text
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


def _logged(request: Request, session: Any, user: User, found: dict[str, Any]) -> dict[str, Any]:
    audit(request, session, user, [found["household_id"]], FIELDS)
    return found


@router.post("", status_code=201, summary="Report a problem of one's household (a citizen)")
def submit_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reporter,
    body: ReportRequest,
) -> dict[str, Any]:
    assert user is not None
    made = reports.submit(
        session.connection(),
        user,
        reports.NewReport(body.category, body.detail, body.lon, body.lat),
        clock(settings),
        address=client_address(request),
        per_address=settings.reports_per_address,
    )
    session.commit()
    return _logged(request, session, user, made)


@router.get("", summary="Reports inside the caller's scope (the district team's queue)")
def list_reports(
    request: Request,
    session: SessionDep,
    user: Reader,
    page: PageDep,
    area: AreaQuery = "",
    state: Annotated[ReportState | None, Query(description=f"one of {REPORT_STATES}")] = None,
) -> dict[str, Any]:
    assert user is not None
    rows, total = reports.listed(
        session.connection(), user.scope, state=state, area=area, limit=page.limit,
        offset=page.offset,
    )  # fmt: skip
    audit(request, session, user, [r["household_id"] for r in rows], FIELDS)
    return {"total": total, "items": rows}


@router.get("/{report_id}", summary="One report, with its case once verified")
def get_report(
    request: Request, session: SessionDep, user: Reader, report_id: ReportId
) -> dict[str, Any]:
    assert user is not None
    return _logged(request, session, user, reports.get(session.connection(), user.scope, report_id))


@router.post("/{report_id}/verify", summary="Make a report its household's problem, and route it")
def verify_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Verifier,
    report_id: ReportId,
) -> dict[str, Any]:
    assert user is not None
    session.close()  # the decision and the routing commit on their own
    found = reports.verify(session.get_bind(), user, report_id, clock(settings))  # type: ignore[arg-type]
    return _logged(request, session, user, found)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=DETAIL_MAX)]
    duplicate_of: int | None = Field(default=None, ge=1, le=2**62)


@router.post("/{report_id}/reject", summary="Turn a report down, saying why")
def reject_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Verifier,
    report_id: ReportId,
    body: RejectRequest,
) -> dict[str, Any]:
    assert user is not None
    found = reports.reject(
        session.connection(), user, report_id, clock(settings), reason=body.reason,
        duplicate_of=body.duplicate_of,
    )  # fmt: skip
    session.commit()
    return _logged(request, session, user, found)


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    solved: bool
    version: int = Field(ge=1, description="the case's version, as the report showed it")
    reason: Text | None = None


@router.post("/{report_id}/confirm", summary='Answer "is it solved?" for a resolved case')
def confirm_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reporter,
    report_id: ReportId,
    body: ConfirmRequest,
) -> dict[str, Any]:
    assert user is not None
    found = reports.confirm(
        session.connection(), actor(request, user), report_id, clock(settings),
        solved=body.solved, version=body.version, reason=body.reason,
    )  # fmt: skip
    session.commit()
    return _logged(request, session, user, found)


@router.post("/{report_id}/photos", status_code=201, summary="Add a photo to one's own report")
def add_photo(
    session: SessionDep,
    settings: SettingsDep,
    user: Reporter,
    report_id: ReportId,
    file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP photo")],
) -> dict[str, Any]:
    """The photo is re-encoded as a JPEG without its EXIF (the phone's GPS position goes)."""
    assert user is not None
    data = file.file.read(settings.photo_max_bytes + 1)
    made = photos.add(session.connection(), settings, user, report_id, data, clock(settings))
    session.commit()
    return made


@router.get(
    "/{report_id}/photos/{photo_id}",
    summary="One photo of a report",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the photo, as kept"}},
)
def get_photo(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    report_id: ReportId,
    photo_id: ReportId,
) -> FileResponse:
    assert user is not None
    path, household = photos.photo(session.connection(), settings, user, report_id, photo_id)
    audit(request, session, user, [household], ["photo"])
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )
