"""Starting an import from an uploaded survey file, for the JSON API and the imports page
alike: the file streamed to disk and checked as a whole, a job, the rows imported after the
answer."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from fastapi import BackgroundTasks, Request, UploadFile

from api.security import CONTROL
from geo.errors import (
    BamrungError,
    InvalidInputError,
    MissingColumnsError,
    TooLargeError,
    UnsupportedFileError,
)
from layers.access.users import User
from layers.store.settings import Settings
from layers.survey import imports
from layers.survey.importer import Importer
from layers.survey.imports import JobLease
from layers.survey.opening import Opened
from layers.survey.readers import EXCEL_SUFFIXES

log = logging.getLogger(__name__)
UPLOAD_SUFFIXES = (".csv", *EXCEL_SUFFIXES, ".geojson", ".json", ".gpkg", ".zip")
CHUNK = 1 << 20


def start(
    request: Request,
    settings: Settings,
    user: User,
    background: BackgroundTasks,
    file: UploadFile,
    round_: int | None,
    profile: str | None,
    layers: list[str] | None,
) -> int:
    """Check the upload and queue its import (run after the answer); returns the job's id."""
    path, name = _save(file, settings.home / "uploads", settings.upload_max_bytes)
    engine = request.app.state.engine
    try:
        importer = Importer(engine, settings)
        opened = importer.open(path, round=round_, profile=profile, layers=layers, label=name)
    except BamrungError as exc:
        path.unlink(missing_ok=True)
        raise _for_http(exc) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        lease = imports.start_job(
            engine, "queued", file_name=name, sha256="", round=round_, profile=profile,
            started_by=user.name,
        )  # fmt: skip
    except BaseException:
        opened.close()
        path.unlink(missing_ok=True)
        raise
    background.add_task(_run_import, importer, opened, lease, user, path)
    return lease.job_id


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
            ".json or .gpkg), or ODK Central's .zip with the profile odk; load a shapefile "
            "with `bamrung import`"
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
