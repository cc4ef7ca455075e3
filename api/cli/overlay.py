"""`bamrung overlay`: survey × Geo-social layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import engine, errors, layer_out, out
from geo.tables import json_rows
from geo.vocab import CODE_LENGTH
from layers.analysis import overlay
from layers.delivery.exports import write_layer
from layers.store.settings import Settings

overlay_app = typer.Typer(help="Overlay the survey with Geo-social layers.", no_args_is_help=True)

AreaOption = Annotated[str, typer.Option(help="area code; empty = the whole country")]
RoundOption = Annotated[int | None, typer.Option("--round", help="survey round (default latest)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="write a .gpkg, .geojson or .csv", callback=layer_out),
]


def _show(rows: list[dict[str, object]], title: str, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(title=title)
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    out.print(table)


@overlay_app.command("zones")
def zones(
    kind: Annotated[list[str], typer.Option(help="flood_zones, drought_zones or land_use")],
    level: Annotated[str, typer.Option(help="province, district or subdistrict")],
    area: AreaOption = "",
    round_: RoundOption = None,
    as_json: JsonOption = False,
) -> None:
    """Households and problems inside flood or drought zones, per area."""
    with errors(), engine(Settings()).connect() as conn:
        frame = overlay.zone_exposure(
            conn, kinds=tuple(kind), area=area, level=level, round_=round_
        )
    _show(json_rows(frame), f"households in {', '.join(kind)}", as_json)


@overlay_app.command("water-access")
def water_access(
    area: AreaOption = "",
    level: Annotated[str, typer.Option(help="level of the summary")] = "district",
    round_: RoundOption = None,
    out_file: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Nearest working water source of each household reporting no clean water."""
    with errors(), engine(Settings()).connect() as conn:
        access = overlay.water_access(conn, area=area, round_=round_)
        if out_file:
            write_layer(access, out_file, "water_access")
            out.print(f"wrote {len(access):,} households to {out_file}")
    summary = overlay.water_access_summary(access, level).reset_index()
    _show(json_rows(summary), "distance to the nearest working water source (m)", as_json)


@overlay_app.command("sample")
def sample(
    raster: Annotated[str, typer.Option(help="registered raster id (`bamrung layers list`)")],
    area: AreaOption = "",
    round_: RoundOption = None,
    out_file: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """The raster's value under each household of an area (summarised; --out for all)."""
    settings = Settings()
    with errors(), engine(settings).connect() as conn:
        points = overlay.sample_households(
            conn, settings, raster_id=raster, area=area, round_=round_
        )
        if out_file:
            write_layer(points, out_file, "sampled")
            out.print(f"wrote {len(points):,} households to {out_file}")
    summary = (
        points.groupby(points["subdistrict_code"].str[: CODE_LENGTH["district"]])["value"]
        .describe()
        .round(2)
    )
    _show(json_rows(summary.reset_index(names="district")), f"{raster} at households", as_json)


@overlay_app.command("zonal")
def zonal(
    raster: Annotated[str, typer.Option(help="registered raster id")],
    level: Annotated[str, typer.Option(help="province, district or subdistrict")],
    area: AreaOption = "",
    out_file: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zonal statistics of a raster per admin unit."""
    settings = Settings()
    with errors(), engine(settings).connect() as conn:
        frame = overlay.zonal_by_area(conn, settings, raster_id=raster, area=area, level=level)
        if out_file:
            write_layer(frame, out_file, "zonal")
    _show(json_rows(frame), f"{raster} per {level}", as_json)
