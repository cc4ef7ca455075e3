"""`bamrung db`: the private local cluster and migrations."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.cli.common import engine, errors, out
from layers.geography.areas import boundary_versions, unit_counts
from layers.store.db import database_url, local_cluster, make_engine, safe_url
from layers.store.settings import Settings

# `layers.store.migrate` (Alembic) is imported by the commands that use it.

db_app = typer.Typer(
    help="The database: the private local cluster and migrations.", no_args_is_help=True
)


@db_app.command("up")
def db_up() -> None:
    """Start the private PostGIS cluster (created on first use); with DATABASE_URL, check it."""
    settings = Settings()
    with errors():
        url = database_url(settings)
        with engine(settings).connect() as conn:
            version = conn.scalar(text("SELECT postgis_lib_version()"))
    out.print(f"database ready: {safe_url(url)} (PostGIS {version})")


@db_app.command("down")
def db_down() -> None:
    """Stop the private cluster (nothing to do when DATABASE_URL is set)."""
    settings = Settings()
    if settings.database_url:
        out.print("DATABASE_URL is set: that server is not ours to stop")
        return
    with errors():
        cluster = local_cluster(settings)
        cluster.stop()
    out.print(f"stopped the cluster in {cluster.root}")


@db_app.command("status")
def db_status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Where the database is, whether it runs, its schema revision and what is loaded."""
    from layers.store import migrate

    settings = Settings()
    with errors():
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
        database = make_engine(url, settings)
        status["url"] = safe_url(url)
        with database.connect() as conn:
            status["postgis"] = conn.scalar(text("SELECT postgis_lib_version()"))
        status["revision"] = migrate.current(database)
        status["head"] = migrate.head()
        if status["revision"]:
            with Session(database) as session:
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
    """Apply the Alembic migrations; sync the problem taxonomy and the agencies from their files."""
    from layers.cases import setup
    from layers.store import migrate

    settings = Settings()
    with errors():
        database = engine(settings)
        counts = setup.upgrade_and_sync(database, settings.taxonomy_file, settings.agencies_file)
    out.print(
        f"schema at revision {migrate.current(database)}; taxonomy: {counts['categories']} "
        f"categories ({counts['added']} added, {counts['removed']} removed) "
        f"from {settings.taxonomy_file}; {counts['agencies']} agencies, {counts['offices']:,} "
        f"offices and {counts['routes']:,} routes from {settings.agencies_file}"
    )


@db_app.command("definitions")
def db_definitions(
    write: Annotated[
        bool, typer.Option("--write", help="rewrite layers/store/sql/ from the database")
    ] = False,
) -> None:
    """Compare the SQL functions and triggers in force with layers/store/sql/ (exit 1 if apart)."""
    from layers.store import definitions

    settings = Settings()
    with errors(), engine(settings).connect() as conn:
        if write:
            changed = definitions.write(conn)
            out.print(f"rewrote {', '.join(changed) or 'nothing'} in {definitions.FOLDER}")
            return
        apart = definitions.differences(conn)
    if apart:
        out.print(f"differ from {definitions.FOLDER}: {', '.join(apart)} (see --write)")
        raise typer.Exit(1)
    out.print(f"the definitions match {definitions.FOLDER}")
