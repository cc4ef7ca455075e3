"""`bamrung imports`: the import jobs, and the rows they refused (to fix and import again)."""

from __future__ import annotations

import getpass
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import engine, errors, out, suffix_out
from layers.access import records
from layers.store.settings import Settings
from layers.survey import imports

imports_app = typer.Typer(help="Import jobs and the rows they refused.", no_args_is_help=True)


@imports_app.command("list")
def list_jobs(
    limit: Annotated[int, typer.Option(min=1, help="how many, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """The latest import jobs and their state (a job whose process died says ``interrupted``)."""
    with errors(), engine(Settings()).connect() as conn:
        found = imports.jobs(conn, limit=limit)
    if as_json:
        out.print_json(json.dumps(found, default=str))
        return
    table = Table("job", "file", "state", "rows", "refused", "by", "started", title="import jobs")
    for job in found:
        report = job["report"] or {}
        table.add_row(
            str(job["id"]),
            escape(job["file_name"]),
            job["state"],
            f"{report.get('rows', job['rows_done']):,}",
            f"{report.get('rows_quarantined', 0):,}",
            escape(job["started_by"] or "command line"),
            f"{job['started_at']:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@imports_app.command("quarantine")
def quarantine(
    job_id: Annotated[int, typer.Argument(help="the job (see `bamrung imports list`)")],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="write the refused rows as a .csv to fix and import again",
            callback=suffix_out(".csv"),
        ),
    ] = None,
    purpose: Annotated[str, typer.Option(help="why (kept in the PDPA access log)")] = "not stated",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """The rows a job refused, with their reasons; ``--out`` writes them as the file had them
    (its columns first), then ``refused_row``, ``refused_reasons`` and ``refused_messages``."""
    with errors(), engine(Settings()).begin() as conn:
        frame = imports.refused_rows(conn, job_id)
        ids = [str(h) for h in frame.get("household_id", []) if h]
        if ids:  # refused rows hold the file's values: personal data, logged
            records.log_access(
                conn,
                user=f"shell:{getpass.getuser()}",
                role="admin",
                purpose=purpose,
                request_id=uuid.uuid4().hex,
                path=f"bamrung imports quarantine {job_id}",
                households=ids,
                fields=[c for c in frame.columns if c not in imports.REFUSED_COLUMNS],
            )
    if out_file is not None:
        from layers.delivery.exports import write_csv

        write_csv(frame, out_file)
        out.print(f"wrote {len(frame):,} refused rows of job {job_id} to {out_file}")
        return
    if as_json:
        out.print_json(frame.to_json(orient="records", force_ascii=False))
        return
    table = Table("row", "reasons", "messages", title=f"rows job {job_id} refused")
    for row in frame.itertuples(index=False):
        table.add_row(
            str(row.refused_row), escape(row.refused_reasons), escape(row.refused_messages)
        )
    out.print(table)
