"""Files attached to cases: checked (kind, size), kept by their SHA-256, each with its event."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from geo.cases.attachments import SIGNATURES, media_type
from geo.errors import InvalidInputError, NotFoundError, TooLargeError, UnsupportedFileError
from layers.access.scope import cases as in_scope
from layers.cases.actions import act
from layers.cases.events import Actor
from layers.store.models import Attachment, Case, CaseEvent
from layers.store.settings import Settings


def folder(settings: Settings) -> Path:
    """Where attached files are kept (private to the platform's user)."""
    return settings.home / "attachments"


def attach(
    conn: Connection,
    settings: Settings,
    actor: Actor,
    case_id: int,
    *,
    version: int | None,
    now: dt.datetime,
    name: str,
    data: bytes,
    note: str | None = None,
) -> int:
    """Attach a file to a case with a progress note; returns the case's new version.

    Raises
    ------
    TooLargeError
        Above ``BAMRUNG_ATTACHMENT_MAX_BYTES``.
    UnsupportedFileError
        For a file that is not a PDF, PNG or JPEG by its content.
    """
    if len(data) > settings.attachment_max_bytes:
        raise TooLargeError(
            f"file: {len(data):,} bytes, more than {settings.attachment_max_bytes:,} "
            "(BAMRUNG_ATTACHMENT_MAX_BYTES)"
        )
    kind = media_type(data[:16])
    if kind is None:
        raise UnsupportedFileError(
            f"file: {name!r} is not one of {', '.join(sorted(set(SIGNATURES.values())))} "
            "by its content"
        )
    clean = Path(name).name.strip()[:200]
    if not clean:
        raise InvalidInputError("file: a file name is needed", field="file")
    digest = hashlib.sha256(data).hexdigest()
    version = act(
        conn, actor, case_id, "progress", version=version, now=now,
        note=note or f"attached {clean}",
    )  # fmt: skip
    event = conn.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case_id))
    target = folder(settings) / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = target.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    found = conn.scalar(
        insert(Attachment)
        .values(
            case_id=case_id, event_id=event, name=clean, media_type=kind, bytes=len(data),
            sha256=digest,
        )
        .returning(Attachment.id)
    )  # fmt: skip
    assert found is not None
    return version


def attachment(
    conn: Connection, settings: Settings, scope: Any, case_id: int, attachment_id: int
) -> tuple[Path, dict[str, Any]]:
    """One file of a case the scope may see: its path and what is known of it.

    Raises
    ------
    NotFoundError
        If there is no such file of a case in the scope.
    """
    row = (
        conn.execute(
            select(Attachment.__table__, Case.household_id)
            .join(Case, Case.id == Attachment.case_id)
            .where(Attachment.id == attachment_id, Case.id == case_id, in_scope(scope))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no attachment {attachment_id} of case {case_id}")
    return folder(settings) / row["sha256"], dict(row)
