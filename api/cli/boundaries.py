"""`bamrung boundaries`: administrative boundaries and the registry of codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from api.cli.common import engine, errors, out, progress
from layers.geography.sources import fetch
from layers.store.settings import Settings

# The boundary loader and the registry (geothai) are imported by the commands that use them.

boundaries_app = typer.Typer(
    help="Administrative boundaries and the registry of codes.", no_args_is_help=True
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
    from layers.geography.boundaries import load_boundaries

    settings = Settings()
    with errors():
        database = engine(settings)
        with progress() as bar, database.begin() as conn:
            task = bar.add_task("loading", total=None)
            report = load_boundaries(
                conn,
                paths,
                settings.boundaries_dir,
                replace=replace,
                force=force,
                step=lambda message: bar.update(task, description=message),
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
    from layers.geography.registry import check_registry, registry_version

    settings = Settings()
    with errors(), Session(engine(settings)) as session, session.begin():
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
    with errors(), progress(download=True) as bar:
        task = bar.add_task("downloading", total=None)
        folders = fetch(
            settings.boundaries_dir,
            name,
            timeout=settings.download_timeout_s,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for folder in folders:
        out.print(f"downloaded; load it with: bamrung boundaries load {folder}")
