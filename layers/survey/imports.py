"""Import jobs and their quarantined rows: who owns a running job, what it refused.

The module is the one writer of quarantine, for surveys and layers alike, and holds its readers.

A job is owned by the database session that started it: that session holds an advisory lock on
the job for as long as the job runs. A job left ``queued`` or ``running`` whose lock nobody holds
lost its owner (a killed process, a crashed server): it is shown as ``interrupted``, and stored
as such by the next import that starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import OID
from sqlalchemy.orm import Session

from geo.access import Scope
from geo.errors import NotFoundError
from layers.access import scope as scoped
from layers.store.models import ImportJob, QuarantinedRow

LOCK_CLASS = 0x62616D73
"""First key of the advisory lock a job's owner holds (the second is the job's id)."""
UNFINISHED = ("queued", "running")
INTERRUPTED = "interrupted: the process running it stopped"


@dataclass
class JobLease:
    """A job and the session that owns it: while the lease lives, the job is not abandoned."""

    job_id: int
    conn: Connection

    def release(self) -> None:
        """Give the job up (its state says how it ended) and close the owning session."""
        try:
            self.conn.execute(
                text("SELECT pg_advisory_unlock(:c, :j)"), {"c": LOCK_CLASS, "j": self.job_id}
            )
            self.conn.commit()
        finally:
            self.conn.close()


def start_job(engine: Engine, state: str, **values: Any) -> JobLease:
    """A new job row in ``state``, owned by a session of its own from the moment it is seen."""
    conn = engine.connect()
    try:
        with conn.begin():
            job_id = conn.scalar(
                insert(ImportJob).values(state=state, **values).returning(ImportJob.id)
            )
            assert job_id is not None
            # Taken before the row commits: nobody sees the job without its owner.
            conn.execute(text("SELECT pg_advisory_lock(:c, :j)"), {"c": LOCK_CLASS, "j": job_id})
    except BaseException:
        conn.close()
        raise
    return JobLease(job_id, conn)


PG_LOCKS = table(
    "pg_locks",
    column("locktype"),
    column("granted"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
)


def _owned() -> ColumnElement[bool]:
    """Whether a live session holds the job's lock."""
    this_database: Select[Any] = (
        select(column("oid"))
        .select_from(table("pg_database"))
        .where(column("datname") == func.current_database())
    )
    return (
        exists()
        .where(
            PG_LOCKS.c.locktype == "advisory",
            PG_LOCKS.c.granted,
            PG_LOCKS.c.database == this_database.scalar_subquery(),
            PG_LOCKS.c.classid == LOCK_CLASS,
            PG_LOCKS.c.objsubid == 2,  # a lock on a pair of int4 keys
            PG_LOCKS.c.objid == cast(ImportJob.id, OID),
        )
        .correlate(ImportJob)
    )


def _abandoned() -> ColumnElement[bool]:
    """Whether a job is unfinished and nobody owns it."""
    return and_(ImportJob.state.in_(UNFINISHED), ~_owned())


def _state() -> ColumnElement[str]:
    """The job's state as it is: ``interrupted`` when it is abandoned."""
    return case((_abandoned(), literal("interrupted")), else_=ImportJob.state)


def mark_interrupted(conn: Connection) -> int:
    """Store the abandoned jobs as ``interrupted``; returns how many there were."""
    done = conn.execute(
        update(ImportJob)
        .where(_abandoned())
        .values(state="interrupted", error=INTERRUPTED, finished_at=func.now())
    )
    return done.rowcount


JOB_COLUMNS = (
    ImportJob.id,
    ImportJob.file_name,
    ImportJob.sha256,
    ImportJob.round,
    ImportJob.profile,
    ImportJob.rows_done,
    ImportJob.report,
    ImportJob.error,
    ImportJob.started_at,
    ImportJob.finished_at,
    ImportJob.started_by,
)


def _record(row: Any) -> dict[str, Any]:
    found = dict(row)
    found["sha256"] = found["sha256"] or None
    found["report"] = found["report"] or None
    if found["state"] == "interrupted" and found["error"] is None:
        found["error"] = INTERRUPTED
    return found


def job(session: Session | Connection, job_id: int) -> dict[str, Any]:
    """One job as it is now (an abandoned one says ``interrupted``)."""
    row = (
        session.execute(select(*JOB_COLUMNS, _state().label("state")).where(ImportJob.id == job_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFoundError(f"no import job {job_id}")
    return _record(row)


def jobs(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest jobs, newest first."""
    rows = conn.execute(
        select(*JOB_COLUMNS, _state().label("state")).order_by(ImportJob.id.desc()).limit(limit)
    ).mappings()
    return [_record(r) for r in rows]


@dataclass(frozen=True)
class Quarantined:
    """A row an import refused, as quarantine keeps it."""

    row_number: int
    reasons: list[str]
    messages: list[str]
    values: dict[str, Any]
    subdistrict_code: str | None = None
    """The subdistrict the row declared, when it is a well-formed code: who may see the row."""


def write_quarantine(
    conn: Connection,
    job_id: int,
    sha256: str,
    file_name: str,
    rows: Sequence[Quarantined],
    *,
    replacing: tuple[int, int] | None = None,
) -> None:
    """Keep the rows job ``job_id`` refused in the file ``sha256``, in ``conn``'s transaction.

    ``replacing``: the first and last row number of a part of the file read again; what
    quarantine holds of those rows is forgotten first (a re-run keeps only what it refuses).
    """
    if replacing is not None:
        conn.execute(
            delete(QuarantinedRow).where(
                QuarantinedRow.sha256 == sha256, QuarantinedRow.row_number.between(*replacing)
            )
        )
    if not rows:
        return
    entries = [
        {
            "import_job_id": job_id,
            "sha256": sha256,
            "file_name": file_name,
            "row_number": row.row_number,
            "reasons": row.reasons,
            "messages": row.messages,
            "values": row.values,
            "subdistrict_code": row.subdistrict_code,
        }
        for row in rows
    ]
    conn.execute(insert(QuarantinedRow), entries)


def quarantine(
    session: Session | Connection,
    job_id: int,
    scope: Scope | None,
    user: str | None,
    *,
    limit: int | None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The rows an import refused that ``user`` may see (ordered by row number), and how many.

    ``scope`` None: every row (the command line).
    """
    job(session, job_id)
    fields = (
        QuarantinedRow.row_number,
        QuarantinedRow.reasons,
        QuarantinedRow.messages,
        QuarantinedRow.values,
    )
    query = select(*fields).where(QuarantinedRow.import_job_id == job_id)
    if scope is not None:
        query = query.where(scoped.quarantined(scope, user or ""))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(QuarantinedRow.row_number).limit(limit).offset(offset)
    return [dict(r) for r in session.execute(page).mappings()], total


def seen_in(job_id: int, rows: list[dict[str, Any]]) -> list[str]:
    """What the access log names for refused rows shown.

    Each row's household id, or, for a row without one, the job and row (the row is still what
    the file said of a household).
    """
    return [
        str((row.get("values") or {}).get("household_id") or "")
        or f"import {job_id} row {row['row_number']}"
        for row in rows
    ]


#: The columns a refused-rows file adds after the file's own.
REFUSED_COLUMNS = ("refused_row", "refused_reasons", "refused_messages")


def refused_rows(
    conn: Connection, job_id: int, scope: Scope | None = None, user: str | None = None
) -> pd.DataFrame:
    """Every row a job refused that ``user`` may see, with its row number, reasons, messages.

    ``scope`` and ``user`` as for ``quarantine``. As the file had it: its columns in its order,
    personal columns as the import treated them. Fix and re-import.
    """
    found = job(conn, job_id)
    items, _ = quarantine(conn, job_id, scope, user, limit=None)
    columns = list((found["report"] or {}).get("columns") or [])
    for item in items:
        columns += [c for c in item["values"] if c not in columns]
    frame = pd.DataFrame([i["values"] for i in items], columns=columns).fillna("")
    frame[REFUSED_COLUMNS[0]] = [i["row_number"] for i in items]
    frame[REFUSED_COLUMNS[1]] = [";".join(i["reasons"]) for i in items]
    frame[REFUSED_COLUMNS[2]] = [" | ".join(i["messages"]) for i in items]
    return frame
