"""Import jobs and their quarantined rows, for the interfaces."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.access import Scope
from geo.errors import NotFoundError
from layers import scope as scoped
from layers.models import ImportJob, QuarantinedRow


def queue_job(
    session: Session, file_name: str, round: int | None, profile: str | None, started_by: str
) -> int:
    """A job row for an upload that will be imported after the response."""
    job_id = session.scalar(
        insert(ImportJob)
        .values(
            file_name=file_name,
            sha256="",
            round=round,
            profile=profile,
            state="queued",
            started_by=started_by,
        )
        .returning(ImportJob.id)
    )
    assert job_id is not None
    return job_id


def fail_job(session: Session, job_id: int, error: str) -> None:
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(state="failed", error=error, finished_at=func.now())
    )


def job(session: Session, job_id: int) -> dict[str, Any]:
    found = session.get(ImportJob, job_id)
    if found is None:
        raise NotFoundError(f"no import job {job_id}")
    return {
        "id": found.id,
        "file_name": found.file_name,
        "sha256": found.sha256 or None,
        "round": found.round,
        "profile": found.profile,
        "state": found.state,
        "rows_done": found.rows_done,
        "report": found.report or None,
        "error": found.error,
        "started_at": found.started_at,
        "finished_at": found.finished_at,
    }


def quarantine(
    session: Session, job_id: int, scope: Scope, user: str, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The rows an import refused that ``user`` may see (ordered by row number), and how many."""
    job(session, job_id)
    query = select(QuarantinedRow).where(
        QuarantinedRow.import_job_id == job_id, scoped.quarantined(scope, user)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(QuarantinedRow.row_number).limit(limit).offset(offset))
    return [
        {
            "row_number": r.row_number,
            "reasons": r.reasons,
            "messages": r.messages,
            "values": r.values,
        }
        for r in rows
    ], total
