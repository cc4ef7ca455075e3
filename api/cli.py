"""The ``bamrung`` command line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from psycopg.errors import UndefinedColumn, UndefinedTable
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from geo.errors import BamrungError
from layers import migrate
from layers.areas import boundary_versions, unit_counts
from layers.boundaries import load_boundaries
from layers.db import database_url, local_cluster, make_engine, safe_url
from layers.registry import check_registry, registry_version
from layers.settings import Settings
from layers.sources import fetch
from layers.taxonomy import read_taxonomy, sync_taxonomy

app = typer.Typer(
    help="Bamrung: find, map and resolve household hardship in Thailand.", no_args_is_help=True
)
db_app = typer.Typer(
    help="The database: the private local cluster and migrations.", no_args_is_help=True
)
boundaries_app = typer.Typer(
    help="Administrative boundaries and the registry of codes.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(boundaries_app, name="boundaries")

# Piped output (CI logs, `| less`) gets room for the tables instead of rich's 80 columns.
WIDTH = None if sys.stdout.isatty() else 120
console = Console(stderr=True, width=WIDTH)
out = Console(width=WIDTH)
log = logging.getLogger("bamrung")


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and exit code 2."""
    try:
        yield
    except BamrungError as exc:
        message = str(exc)
    except OperationalError as exc:
        message = f"cannot reach the database: {_first_line(exc.orig or exc)}"
    except ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable | UndefinedColumn):
            raise
        message = f"the schema is not ready ({_first_line(exc.orig)}): run `bamrung db migrate`"
    else:
        return
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def _engine(settings: Settings) -> Engine:
    return make_engine(database_url(settings), settings)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="more log output")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


@db_app.command("up")
def db_up() -> None:
    """Start the private PostGIS cluster (created on first use); with DATABASE_URL, check it."""
    settings = Settings()
    with _errors():
        url = database_url(settings)
        with _engine(settings).connect() as conn:
            version = conn.scalar(text("SELECT postgis_lib_version()"))
    out.print(f"database ready: {safe_url(url)} (PostGIS {version})")


@db_app.command("down")
def db_down() -> None:
    """Stop the private cluster (nothing to do when DATABASE_URL is set)."""
    settings = Settings()
    if settings.database_url:
        out.print("DATABASE_URL is set: that server is not ours to stop")
        return
    with _errors():
        cluster = local_cluster(settings)
        cluster.stop()
    out.print(f"stopped the cluster in {cluster.root}")


@db_app.command("status")
def db_status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Where the database is, whether it runs, its schema revision and what is loaded."""
    settings = Settings()
    with _errors():
        status: dict[str, object] = {}
        if settings.database_url:
            status["mode"] = "external (DATABASE_URL)"
        else:
            cluster = local_cluster(settings)
            status["mode"] = f"local cluster in {cluster.root}"
            status["running"] = cluster.running
            if not cluster.running:
                _print_status(status, as_json)
                raise typer.Exit(1)
        url = database_url(settings, start=False)
        engine = make_engine(url, settings)
        status["url"] = safe_url(url)
        with engine.connect() as conn:
            status["postgis"] = conn.scalar(text("SELECT postgis_lib_version()"))
        status["revision"] = migrate.current(engine)
        status["head"] = migrate.head()
        if status["revision"]:
            with Session(engine) as session:
                status["units"] = unit_counts(session)
                status["boundaries"] = boundary_versions(session)
    _print_status(status, as_json)


def _print_status(status: dict[str, object], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(status, default=str))
        return
    for key, value in status.items():
        out.print(f"[bold]{key}[/]: {value}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the Alembic migrations and sync the problem taxonomy from its file."""
    settings = Settings()
    with _errors():
        engine = _engine(settings)
        migrate.upgrade(engine)
        categories = read_taxonomy(settings.taxonomy_file)
        with Session(engine) as session, session.begin():
            counts = sync_taxonomy(session, categories)
    out.print(
        f"schema at revision {migrate.current(engine)}; taxonomy: {counts['categories']} "
        f"categories ({counts['added']} added, {counts['removed']} removed) "
        f"from {settings.taxonomy_file}"
    )


@boundaries_app.command("load")
def boundaries_load(
    paths: Annotated[
        list[Path], typer.Argument(help="files (GeoJSON, Shapefile, GeoPackage, zip) or folders")
    ],
    replace: Annotated[
        bool, typer.Option(help="remove units of a level that the new file lacks")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="load even when the same file was loaded last")
    ] = False,
) -> None:
    """Load COD-AB boundary files (ADM1/ADM2/ADM3) in one transaction; idempotent."""
    settings = Settings()
    with _errors():
        engine = _engine(settings)
        with _progress() as progress, engine.begin() as conn:
            task = progress.add_task("loading", total=None)
            report = load_boundaries(
                conn,
                paths,
                settings.boundaries_dir,
                replace=replace,
                force=force,
                step=lambda message: progress.update(task, description=message),
            )
    columns = ("layer", "level", "features", "inserted", "updated", "unchanged", "repaired")
    table = Table(*columns, "note", title="boundaries")
    for r in report.layers:
        counts = (r.features, r.inserted, r.updated, r.unchanged, len(r.repaired))
        note = "skipped: already loaded" if r.skipped else ""
        if r.absent and replace:
            kept = r.absent - r.removed
            note = f"{r.absent:,} not in this file: {r.removed:,} removed"
            note += f", {kept:,} kept (they have child units)" if kept else ""
        elif r.absent:
            note = f"{r.absent:,} not in this file: kept (--replace removes them)"
        table.add_row(r.layer, r.level, *(f"{n:,}" for n in counts), note)
    out.print(table)
    for r in report.layers:
        if r.repaired:
            out.print(f"{r.layer}: repaired invalid geometry of {', '.join(r.repaired)}")
    if report.hierarchy:
        out.print(f"[yellow]{len(report.hierarchy)} unit(s) do not sit in their parent:[/]")
        for issue in report.hierarchy:
            out.print(
                f"  {issue.level} {issue.code} (parent {issue.parent_code}): "
                f"{issue.problem}: {issue.detail}"
            )
    else:
        out.print(
            "hierarchy: every district and subdistrict lies in its parent (by code and in space)"
        )


@boundaries_app.command("check")
def boundaries_check(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Reconcile the boundaries with the official registry (geothai); store registry-only units."""
    settings = Settings()
    with _errors():
        engine = _engine(settings)
        with Session(engine) as session, session.begin():
            result = check_registry(session)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "registry": registry_version(),
                    "missing": [vars(u) for u in result.missing],
                    "retired": [
                        {**vars(r), "successors": list(r.successors)} for r in result.retired
                    ],
                }
            )
        )
        return
    out.print(f"registry: {registry_version()}")
    missing = Table(
        "level",
        "code",
        "name_th",
        "name_en",
        "parent",
        title=f"{len(result.missing)} registry unit(s) without a polygon (stored without geometry)",
    )
    for u in result.missing:
        missing.add_row(u.level, u.code, u.name_th, u.name_en, u.parent_code or "")
    out.print(missing)
    retired = Table(
        "level",
        "code",
        "abolished on",
        "replaced by",
        title=f"{len(result.retired)} polygon(s) whose code the registry no longer lists",
    )
    for r in result.retired:
        retired.add_row(
            r.level, r.code, r.abolished_on or "?", ", ".join(r.successors) or "unknown"
        )
    out.print(retired)


@boundaries_app.command("fetch")
def boundaries_fetch(
    name: Annotated[
        str | None, typer.Argument(help="a source name from the manifest (default: all)")
    ] = None,
) -> None:
    """Download the full-resolution COD-AB files listed in data/boundaries/manifest.toml."""
    settings = Settings()
    with _errors(), _progress(download=True) as progress:
        task = progress.add_task("downloading", total=None)
        folders = fetch(
            settings.boundaries_dir,
            name,
            timeout=settings.download_timeout_s,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for folder in folders:
        out.print(f"downloaded; load it with: bamrung boundaries load {folder}")


@contextmanager
def _progress(download: bool = False) -> Iterator[Progress]:
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    columns.append(DownloadColumn() if download else TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
) -> None:
    """Serve the API (OpenAPI docs at /docs); starts the private cluster if needed."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    with _errors():
        database_url(settings)
    out.print(f"Bamrung API on http://{host}:{port}/ (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def main() -> None:
    app()
