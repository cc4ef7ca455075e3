"""Survey uploads: start an import, follow it, read what it refused."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, StringConstraints

from api.auth import requires
from api.deps import PLAIN_TEXT, PageDep, RowId, SessionDep, SettingsDep, audit
from api.security import CONTROL
from geo.errors import (
    BamrungError,
    InvalidInputError,
    MissingColumnsError,
    TooLargeError,
    UnsupportedFileError,
)
from layers.access.users import User
from layers.survey import imports
from layers.survey.importer import Importer
from layers.survey.imports import JobLease
from layers.survey.opening import Opened
from layers.survey.readers import EXCEL_SUFFIXES

router = APIRouter(prefix="/imports", tags=["imports"])
log = logging.getLogger(__name__)
UPLOAD_SUFFIXES = (".csv", *EXCEL_SUFFIXES, ".geojson", ".json", ".gpkg")
CHUNK = 1 << 20


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


def _save(upload: UploadFile, folder: Path, limit: int) -> tuple[Path, str]:
    """Stream the upload to disk under a name of our own; returns the file and the name the
    caller gave it. Refuses a kind that is not a survey (415) before reading the body."""
    name = Path(upload.filename or "upload").name
    if len(name) > 255 or CONTROL.search(name):
        raise InvalidInputError(
            "file: the file name must be at most 255 characters, without control characters"
        )
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UnsupportedFileError(
            f"{name}: upload a CSV, XLSX, GeoJSON or GeoPackage file (.csv, .xlsx, .geojson, "
            ".json or .gpkg; zip a shapefile's parts and load it with `bamrung import`)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    size = 0
    with target.open("wb") as sink:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                sink.close()
                target.unlink(missing_ok=True)
                raise TooLargeError(f"the upload is larger than the limit of {limit:,} bytes")
            sink.write(chunk)
    return target, name


def _for_http(exc: BamrungError) -> BamrungError:
    """The error worded for an HTTP caller."""
    if isinstance(exc, MissingColumnsError) and exc.round_missing:
        return InvalidInputError(f"{exc}; or give the round of every row in the form field `round`")
    return exc


def _run_import(
    importer: Importer,
    opened: Opened,
    lease: JobLease,
    user: User,
    path: Path,
) -> None:
    try:
        importer.run_opened(opened, scope=user.scope, started_by=user.name, lease=lease)
    except BamrungError:
        pass  # the job says why
    except Exception as exc:
        # Not the message: a library's error may quote a row of the file (personal data).
        log.error("import job %d failed: %s", lease.job_id, type(exc).__name__)
    finally:
        path.unlink(missing_ok=True)


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
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON or GeoPackage")],
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
    path, name = _save(file, settings.home / "uploads", settings.upload_max_bytes)
    engine = request.app.state.engine
    try:
        importer = Importer(engine, settings)
        opened = importer.open(path, round=round, profile=profile, layers=layer, label=name)
    except BamrungError as exc:
        path.unlink(missing_ok=True)
        raise _for_http(exc) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        lease = imports.start_job(
            engine, "queued", file_name=name, sha256="", round=round, profile=profile,
            started_by=user.name,
        )  # fmt: skip
    except BaseException:
        opened.close()
        path.unlink(missing_ok=True)
        raise
    background.add_task(_run_import, importer, opened, lease, user, path)
    with request.app.state.sessionmaker() as session:
        return imports.job(session, lease.job_id)


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
    households = [str(i["values"].get("household_id")) for i in items if i["values"]]
    fields = sorted({k for i in items for k in (i["values"] or {})})
    audit(request, session, user, households, fields)
    return RejectedList(
        items=[Rejected(**i) for i in items], total=total, limit=paging.limit, offset=paging.offset
    )
