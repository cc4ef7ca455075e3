"""`bamrung communities`: load municipal communities from a file, or make the SYNTHETIC demo
set (Phibun Mangsahan's 17 communities and the 205 issues of their 2565 planning meetings)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import engine, errors, out
from layers.store.settings import Settings

communities_app = typer.Typer(help="Municipal communities and their planning meetings.")


@communities_app.command("load")
def load_file(
    file: Annotated[Path, typer.Argument(help="GeoPackage, GeoJSON, Shapefile, …: code, name_th")],
    layer: Annotated[str | None, typer.Option(help="the file's layer (default: its first)")] = None,
) -> None:
    """Add or update communities (polygons or points, any CRS); refused rows say why."""
    import pyogrio

    from layers.citizens.communities import load

    settings = Settings()
    with errors():
        frame = pyogrio.read_dataframe(file, layer=layer)
        with engine(settings).begin() as conn:
            kept, refused = load(conn, frame, source=file.name)
        out.print(f"{file.name}: {kept:,} communities kept, {len(refused):,} refused")
        for row in refused.itertuples():
            out.print(f"  row {row.row}: {row.field}: {row.reason}")
        if len(refused):
            raise typer.Exit(1)


@communities_app.command("synth")
def synth(
    subdistrict: Annotated[str, typer.Option(help="the municipality's subdistrict")] = "341901",
    year: Annotated[int, typer.Option(help="plan year, Buddhist Era")] = 2565,
    communities: Annotated[int, typer.Option(min=1, max=200)] = 17,
    issues: Annotated[int, typer.Option(min=1, max=100_000)] = 205,
    seed: Annotated[int, typer.Option()] = 17,
) -> None:
    """Make a SYNTHETIC municipality's communities, meetings and issues (replacing a run's)."""
    from layers.cases.events import SYSTEM
    from layers.citizens.communities import synthesize

    settings = Settings()
    with errors():
        with engine(settings).begin() as conn:
            made = synthesize(
                conn, SYSTEM, subdistrict, year, communities=communities, issues=issues,
                seed=seed, now=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        out.print(
            f"SYNTHETIC: {made['communities']} communities of {subdistrict}, "
            f"{made['meetings']} meetings, {made['issues']} issues in {year}"
        )
