"""Survey uploads: start an import, follow it, read what it refused."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel

from api.auth import requires
from api.deps import RowId, SessionDep, SettingsDep
from api.routers.areas import Page, page
from api.routers.households import audit
from geo.errors import BamrungError, InvalidInputError, TooLargeError
from layers import imports
from layers.intake.importer import Importer
from layers.intake.readers import CSV_SUFFIXES, EXCEL_SUFFIXES
from layers.settings import Settings
from layers.users import User

router = APIRouter(prefix="/imports", tags=["imports"])
log = logging.getLogger(__name__)
UPLOAD_SUFFIXES = (*CSV_SUFFIXES, *EXCEL_SUFFIXES, ".geojson", ".json", ".gpkg")
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


def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Stream the upload to disk, refusing it as soon as it passes ``limit`` bytes."""
    name = Path(upload.filename or "upload").name
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise InvalidInputError(
            f"{name}: upload a CSV, XLSX, GeoJSON or GeoPackage file "
            "(zip a shapefile's parts and load it with `bamrung import`)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}-{name}"
    size = 0
    with target.open("wb") as sink:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                sink.close()
                target.unlink(missing_ok=True)
                raise TooLargeError(f"the upload is larger than the limit of {limit:,} bytes")
            sink.write(chunk)
    return target


def _run_import(
    request: Request,
    settings: Settings,
    path: Path,
    job_id: int,
    round: int | None,
    profile: str | None,
) -> None:
    engine = request.app.state.engine
    try:
        Importer(engine, settings).run(path, round=round, profile=profile, job_id=job_id)
    except BamrungError as exc:
        with request.app.state.sessionmaker() as session, session.begin():
            imports.fail_job(session, job_id, str(exc))
    except Exception as exc:
        # Not the message: a library's error may quote a row of the file (personal data).
        log.error("import job %d failed: %s", job_id, type(exc).__name__)
        with request.app.state.sessionmaker() as session, session.begin():
            imports.fail_job(session, job_id, f"internal error ({type(exc).__name__})")
    finally:
        path.unlink(missing_ok=True)


@router.post(
    "",
    status_code=202,
    response_model=Job,
    summary="Upload a survey file and import it",
)
def start_import(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User | None, Depends(requires("imports:write"))],
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON or GeoPackage")],
    round: Annotated[
        int | None, Form(ge=2400, le=2800, description="round (BE) for rows without one")
    ] = None,
    profile: Annotated[
        str | None, Form(pattern=r"^[a-z0-9_-]+$", description="odk or kobo")
    ] = None,
) -> Any:
    assert user is not None
    path = _save(file, settings.home / "uploads", settings.upload_max_bytes)
    job_id = imports.queue_job(session, path.name.split("-", 1)[1], round, profile, user.name)
    session.commit()
    background.add_task(_run_import, request, settings, path, job_id, round, profile)
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
    paging: Annotated[Page, Depends(page)],
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
