"""Survey uploads: start an import, follow it, read what it refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, StringConstraints

from api import uploads
from api.auth import requires
from api.deps import PLAIN_TEXT, PageDep, RowId, SessionDep, SettingsDep, audit
from layers.access.users import User
from layers.survey import imports

router = APIRouter(prefix="/imports", tags=["imports"])


class Job(BaseModel):
    id: int
    file_name: str
    sha256: str | None
    round: int | None
    profile: str | None
    state: str
    rows_done: int
    report: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class Rejected(BaseModel):
    row_number: int
    reasons: list[str]
    messages: list[str]
    values: dict[str, Any]


class RejectedList(BaseModel):
    items: list[Rejected]
    total: int
    limit: int
    offset: int


@router.post(
    "",
    status_code=202,
    response_model=Job,
    summary="Upload a survey file and import it",
    description="The file is checked as a whole at once (its kind, text, columns, layers: 415 "
    "or 422 when it cannot be imported), then imported row by row after the answer; follow it "
    "with `GET /imports/{id}`. Rows outside the uploader's area are refused "
    "(`outside_your_area`) and kept in quarantine.",
)
def start_import(
    request: Request,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("imports:write"))],
    background: BackgroundTasks,
    file: Annotated[
        UploadFile,
        File(description="CSV, XLSX, GeoJSON or GeoPackage; ODK Central's zip with profile odk"),
    ],
    round: Annotated[
        int | None, Form(ge=2400, le=2800, description="round (BE) for rows without one")
    ] = None,
    profile: Annotated[
        str | None, Form(pattern=r"^[a-z0-9_-]{1,32}$", description="odk or kobo")
    ] = None,
    layer: Annotated[
        list[Annotated[str, StringConstraints(max_length=128, pattern=PLAIN_TEXT)]] | None,
        Form(description="layers or sheets to read (default: every one with the columns)"),
    ] = None,
) -> Any:
    assert user is not None
    job_id = uploads.start(request, settings, user, background, file, round, profile, layer)
    with request.app.state.sessionmaker() as session:
        return imports.job(session, job_id)


@router.get(
    "/{job_id}",
    response_model=Job,
    summary="An import job and its report",
    dependencies=[Depends(requires("imports:read"))],
)
def get_import(session: SessionDep, job_id: RowId) -> Any:
    return imports.job(session, job_id)


@router.get(
    "/{job_id}/quarantine",
    response_model=RejectedList,
    summary="Rows the import refused, with reasons: those declaring a subdistrict in the "
    "caller's area, and all rows of the caller's own uploads",
)
def get_quarantine(
    request: Request,
    session: SessionDep,
    user: Annotated[User | None, Depends(requires("imports:read"))],
    job_id: RowId,
    paging: PageDep,
) -> RejectedList:
    assert user is not None
    items, total = imports.quarantine(
        session, job_id, user.scope, user.name, limit=paging.limit, offset=paging.offset
    )
    # Refused rows hold the file's values (addresses among them): personal data, logged.
    households = imports.seen_in(job_id, items)
    fields = sorted({k for i in items for k in (i["values"] or {})})
    audit(request, session, user, households, fields)
    return RejectedList(
        items=[Rejected(**i) for i in items], total=total, limit=paging.limit, offset=paging.offset
    )
