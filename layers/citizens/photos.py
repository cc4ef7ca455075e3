"""Photos of citizens' reports, kept by their SHA-256 in the platform's home.

Cleaned by ``geo.photos`` (EXIF stripped, re-encoded); read inside the reports' scope filter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from geo import photos
from geo.errors import ForbiddenError, InvalidInputError, NotFoundError
from layers.access import scope as scoped
from layers.access.users import User
from layers.store.models import CitizenReport, ReportPhoto
from layers.store.settings import Settings

#: How many photos a report takes.
PER_REPORT = 3


def folder(settings: Settings) -> Path:
    """Where photos are kept (private to the platform's user)."""
    return settings.home / "photos"


def add(
    conn: Connection, settings: Settings, user: User, report_id: int, data: bytes, now: dt.datetime
) -> dict[str, Any]:
    """Keep a photo of the citizen's own report; returns its id and size.

    Raises
    ------
    ForbiddenError
        If the user is not the report's household's citizen.
    NotFoundError
        If the report is not one the user may see.
    TooLargeError, UnsupportedFileError, InvalidInputError
        As ``geo.photos.clean`` says; or when the report has ``PER_REPORT`` photos already.
    """
    if user.role != "citizen":
        raise ForbiddenError("only the household's own account adds photos to its report")
    found = conn.scalar(
        select(CitizenReport.id)
        .where(CitizenReport.id == report_id, scoped.reports(user.scope))
        .with_for_update()
    )
    if found is None:
        raise NotFoundError(f"no report {report_id}")
    count = conn.scalar(
        select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report_id)
    )
    if (count or 0) >= PER_REPORT:
        raise InvalidInputError(f"photo: a report takes {PER_REPORT} photos", field="photo")
    photo = photos.clean(data, settings.photo_max_bytes)
    digest = hashlib.sha256(photo.data).hexdigest()
    target = folder(settings) / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = target.with_suffix(".part")
        temporary.write_bytes(photo.data)
        os.replace(temporary, target)
    photo_id = conn.scalar(
        insert(ReportPhoto)
        .values(
            report_id=report_id, sha256=digest, bytes=len(photo.data), width=photo.width,
            height=photo.height, added_at=now,
        )
        .returning(ReportPhoto.id)
    )  # fmt: skip
    return {"id": photo_id, "width": photo.width, "height": photo.height, "bytes": len(photo.data)}


def listed(conn: Connection, report_id: int) -> list[dict[str, Any]]:
    """The photos of a report (the caller has read the report through the scope)."""
    rows = conn.execute(
        select(ReportPhoto.id, ReportPhoto.width, ReportPhoto.height)
        .where(ReportPhoto.report_id == report_id)
        .order_by(ReportPhoto.id)
    ).mappings()
    return [dict(r) for r in rows]


def photo(
    conn: Connection, settings: Settings, user: User, report_id: int, photo_id: int
) -> tuple[Path, str]:
    """The file of one photo of a report the user may see, and its household.

    Raises
    ------
    NotFoundError
        If there is no such photo of a report in the user's scope.
    """
    row = conn.execute(
        select(ReportPhoto.sha256, CitizenReport.household_id)
        .join(CitizenReport, CitizenReport.id == ReportPhoto.report_id)
        .where(
            ReportPhoto.id == photo_id,
            ReportPhoto.report_id == report_id,
            scoped.reports(user.scope),
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no photo {photo_id} of report {report_id}")
    return folder(settings) / row.sha256, str(row.household_id)
