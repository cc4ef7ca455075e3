"""Exports too large for one answer, run by the job queue's worker (``bamrung worker``).

``submit`` checks the request as the caller may make it and stores it; ``defer`` queues it;
the worker's ``export`` task reads the layers as the user may see them *when it runs* (a user
disabled meanwhile gets nothing), writes the file into the home's ``exports`` folder and
reports its progress. Only the user who asked sees the job; each download is access-logged
with the households the file holds.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import procrastinate
from sqlalchemy import Connection, Engine, Row, insert, select, update

from geo.errors import BamrungError, NotFoundError
from layers.access.users import User, user_named
from layers.delivery.catalog import LayerQuery, spec_for
from layers.delivery.writers import FORMATS, check_format, export_file
from layers.store.db import database_url, make_engine
from layers.store.models import ExportJob
from layers.store.queue import queue_app
from layers.store.settings import Settings

log = logging.getLogger(__name__)

QUEUE = "exports"
TASK = "export"


def folder(settings: Settings) -> Path:
    """Where the worker writes the exports' files."""
    path = settings.home / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def submit(
    conn: Connection,
    user: User,
    names: list[str],
    query: LayerQuery,
    *,
    fmt: str,
    crs: str,
) -> int:
    """Store an export for ``user`` once its format, CRS and layers are checked; its id."""
    check_format(fmt, len(set(names)), crs)
    for name in names:
        spec_for(name, user.scope)
    request = {"layers": names, "format": fmt, "crs": crs, "query": asdict(query)}
    job_id = conn.scalar(
        insert(ExportJob).values(user_name=user.name, request=request).returning(ExportJob.id)
    )
    assert job_id is not None
    return int(job_id)


def defer(settings: Settings, job_id: int) -> None:
    """Queue the export ``job_id`` for the worker (after its row is committed)."""
    with queue_app(settings).open() as app:
        app.configure_task(name=TASK, queue=QUEUE).defer(job_id=job_id)


def register(app: procrastinate.App, settings: Settings) -> None:
    """Add the ``export`` task to the worker's queue app."""
    engine = make_engine(database_url(settings), settings)

    @app.task(name=TASK, queue=QUEUE)
    def export_task(job_id: int) -> str:
        return run(engine, settings, job_id)


def run(engine: Engine, settings: Settings, job_id: int) -> str:
    """Run the export ``job_id`` if it is still queued; its final state."""
    with engine.begin() as conn:
        job = conn.execute(
            select(ExportJob.__table__)
            .where(ExportJob.id == job_id)
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if job is None or job.state != "queued":
            return "skipped"
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(state="running"))
        request, user = job.request, user_named(conn, job.user_name)
    if user is None:
        return _finish(engine, job_id, state="failed", message="the user is disabled or gone")
    fmt = request["format"]
    path = folder(settings) / f"{job_id}{FORMATS[fmt][0]}"

    def progress(percent: int) -> None:
        with engine.begin() as conn:
            conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(progress=percent))

    try:
        with engine.connect() as conn:
            written = export_file(
                conn,
                settings,
                request["layers"],
                LayerQuery(**request["query"]),
                user.scope,
                fmt=fmt,
                crs=request["crs"],
                path=path,
                progress=progress,
            )
    except BamrungError as exc:
        return _finish(engine, job_id, state="failed", message=str(exc))
    except Exception:
        log.exception("export job %s failed", job_id)
        return _finish(engine, job_id, state="failed", message="the export failed (see the log)")
    return _finish(
        engine,
        job_id,
        state="done",
        progress=100,
        features=sum(len(layer.frame) for layer in written),
        file_name=path.name,
        bytes=path.stat().st_size,
        households=sorted({h for layer in written for h in layer.households}),
    )


def _finish(engine: Engine, job_id: int, **values: Any) -> str:
    with engine.begin() as conn:
        conn.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id)
            .values(finished_at=dt.datetime.now(dt.UTC), **values)
        )
    return str(values["state"])


def job_for(conn: Connection, job_id: int, user: User) -> Row[Any]:
    """The export ``job_id`` if ``user`` asked for it (anyone else: not found)."""
    job = conn.execute(
        select(ExportJob.__table__).where(ExportJob.id == job_id, ExportJob.user_name == user.name)
    ).one_or_none()
    if job is None:
        raise NotFoundError(f"no export job {job_id}")
    return job


def jobs_of(conn: Connection, user: User, limit: int = 50) -> list[Row[Any]]:
    """The newest export jobs ``user`` asked for."""
    return list(
        conn.execute(
            select(ExportJob.__table__)
            .where(ExportJob.user_name == user.name)
            .order_by(ExportJob.id.desc())
            .limit(limit)
        )
    )


def status(job: Row[Any]) -> dict[str, Any]:
    """What the job's owner is told: state, progress, size and the request."""
    return {
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "features": job.features,
        "bytes": job.bytes,
        "request": job.request,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def download_name(job: Row[Any]) -> str:
    """The file's name for the person who downloads it: its first layer, area and format."""
    request = job.request
    area = request["query"].get("area") or "TH"
    return f"{request['layers'][0]}-{area}{FORMATS[request['format']][0]}"
