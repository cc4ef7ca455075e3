"""Imports for officers: upload a survey, watch its progress, read the refused rows with their
reasons, and download them as CSV to fix and upload again."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api import uploads
from api.auth import requires
from api.deps import Offset, RowId, SessionDep, SettingsDep, audit
from api.web.render import page, pages_router, redirect, words
from layers.access.users import User
from layers.survey import imports
from layers.survey.collected import TOOLS
from layers.survey.imports import UNFINISHED

router = pages_router("/app/imports")
Reader = Annotated[User | None, Depends(requires("imports:read"))]
Writer = Annotated[User | None, Depends(requires("imports:write"))]
SHOWN = 100


@router.get("", response_class=HTMLResponse)
def import_list(request: Request, session: SessionDep, user: Reader) -> HTMLResponse:
    return page(
        request,
        "imports.html",
        user,
        title=words(request)("imports"),
        jobs=imports.jobs(session.connection(), limit=30),
        profiles=list(TOOLS),
    )


@router.post("")
def upload(
    request: Request,
    settings: SettingsDep,
    user: Writer,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File()],
    round: Annotated[int | None, Form(ge=2400, le=2800)] = None,
    profile: Annotated[str | None, Form(pattern=r"^[a-z0-9_-]{0,32}$")] = None,
) -> Response:
    assert user is not None
    job_id = uploads.start(request, settings, user, background, file, round, profile or None, None)
    return redirect(request, f"/app/imports/{job_id}")


@router.get("/{job_id}", response_class=HTMLResponse)
def import_job(
    request: Request,
    session: SessionDep,
    user: Reader,
    job_id: RowId,
    offset: Offset = 0,
    progress: bool = False,
) -> HTMLResponse:
    assert user is not None
    found = imports.job(session, job_id)
    running = found["state"] in UNFINISHED
    if progress:
        # What the page polls for while the job runs: its state alone, no refused row (so no
        # access-log row a second); once it ends, the page loads again with the rows.
        shown = page(request, "_import_status.html", user, job=found, running=running)
        if not running:
            shown.headers["HX-Refresh"] = "true"
        return shown
    items, total = imports.quarantine(
        session, job_id, user.scope, user.name, limit=SHOWN, offset=offset
    )
    fields = sorted({k for i in items for k in i["values"] or {}})
    audit(request, session, user, imports.seen_in(job_id, items), fields)
    return page(
        request,
        "import.html",
        user,
        title=f"{words(request)('job')} {job_id}: {found['file_name']}",
        job=found,
        items=items,
        total=total,
        limit=SHOWN,
        offset=offset,
        running=running,
    )


@router.get("/{job_id}/refused.csv")
def refused_csv(request: Request, session: SessionDep, user: Reader, job_id: RowId) -> Response:
    assert user is not None
    frame = imports.refused_rows(session.connection(), job_id, user.scope, user.name)
    rows = [
        {"row_number": n, "values": {"household_id": h}}
        for n, h in zip(
            frame[imports.REFUSED_COLUMNS[0]], frame.get("household_id", [""] * len(frame)),
            strict=True,
        )
    ]  # fmt: skip
    audit(request, session, user, imports.seen_in(job_id, rows), [str(c) for c in frame.columns])
    return Response(
        frame.to_csv(index=False).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="refused-{job_id}.csv"'},
    )
