"""`bamrung layers` and `bamrung synth-water`: Geo-social vector layers and rasters."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import engine, errors, out, progress
from geo.vocab import LAYER_KINDS, RASTER_KINDS
from layers.store.settings import Settings

# Layer and raster modules (rasterio, scipy) are imported by the commands that use them.

geosocial_app = typer.Typer(
    help="Geo-social layers: water sources, waterways, flood/drought zones, land use, rasters.",
    no_args_is_help=True,
)


@geosocial_app.command("import")
def import_vector(
    files: Annotated[list[Path], typer.Argument(help="GeoPackage, GeoJSON, Shapefile, ...")],
    kind: Annotated[str, typer.Option(help=" | ".join(LAYER_KINDS))],
    name: Annotated[str | None, typer.Option(help="layer name (default: file name)")] = None,
    crs: Annotated[int | None, typer.Option(help="EPSG code, for files without a CRS")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Import vector layers: reprojected to EPSG:4326, repaired, bad features quarantined."""
    from layers.geography.geosocial import import_layer

    settings = Settings()
    with errors():
        for path in files:
            with engine(settings).begin() as conn:
                report = import_layer(conn, path, kind, name=name, crs=crs)
            if as_json:
                out.print_json(json.dumps(asdict(report)))
            elif report.skipped:
                out.print(f"{path.name}: already imported as layer {report.layer_id}")
            else:
                out.print(
                    f"{path.name}: layer {report.layer_id} ({kind}), {report.imported:,} features "
                    f"kept ({report.repaired:,} repaired), {report.quarantined:,} quarantined"
                    + (f" {report.quarantine_reasons}" if report.quarantine_reasons else "")
                    + f"; CRS {report.source_crs}{' (guessed)' if report.crs_guessed else ''}"
                )


@geosocial_app.command("import-raster")
def import_raster_file(
    file: Annotated[Path, typer.Argument(help="GeoTIFF (any CRS)")],
    kind: Annotated[str, typer.Option(help=" | ".join(RASTER_KINDS))],
    raster_id: Annotated[
        str | None, typer.Option("--id", help="registry id (default: kind-name)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    units: Annotated[str | None, typer.Option(help="units of the values")] = None,
) -> None:
    """Copy a raster into the store and register it under an id."""
    from layers.geography.geosocial import import_raster

    settings = Settings()
    with errors(), engine(settings).begin() as conn:
        record = import_raster(
            conn, settings, file, kind, name=name, raster_id=raster_id, units=units
        )
    out.print(
        f"raster {record['id']}: {record['width']}×{record['height']}, {record['crs']}, "
        f"{record['bands']} band(s) {record['dtype']}"
    )


@geosocial_app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """The imported vector layers and registered rasters."""
    from layers.geography.geosocial import list_layers, list_rasters

    with errors(), engine(Settings()).connect() as conn:
        layers, rasters = list_layers(conn), list_rasters(conn)
    if as_json:
        out.print_json(json.dumps({"layers": layers, "rasters": rasters}, default=str))
        return
    table = Table("id", "kind", "name", "features", "synthetic", title="vector layers")
    for layer in layers:
        table.add_row(
            str(layer["id"]),
            layer["kind"],
            layer["name"],
            f"{layer['features']:,}",
            "yes" if layer["synthetic"] else "",
        )
    out.print(table)
    table = Table("id", "kind", "size", "crs", "synthetic", title="rasters")
    for raster in rasters:
        table.add_row(
            raster["id"],
            raster["kind"],
            f"{raster['width']}×{raster['height']}",
            raster["crs"],
            "yes" if raster["synthetic"] else "",
        )
    out.print(table)


def synth_water(
    province: Annotated[str, typer.Option(help="province code, e.g. 34")],
    seed: Annotated[int, typer.Option(help="random seed")] = 34,
    folder: Annotated[
        Path | None,
        typer.Option("--out", help="folder (default BAMRUNG_HOME/synthetic-water-CODE)"),
    ] = None,
    load: Annotated[bool, typer.Option(help="import the files as layers and rasters")] = True,
    force: Annotated[bool, typer.Option(help="generate again even if the files exist")] = False,
) -> None:
    """Write (and load) a clearly labelled SYNTHETIC water set for a province.

    Files already in the folder are reused, so running it again loads nothing new (--force
    generates them again).
    """
    from layers.geography.geosocial import import_layer, import_raster
    from layers.geography.synth import generate_water, water_files, write_water

    settings = Settings()
    folder = folder or settings.home / f"synthetic-water-{province}"
    with errors():
        files = water_files(folder)
        if force or not all(p.exists() for p in files.values()):
            with progress() as bar:
                bar.add_task(f"generating synthetic water layers for {province}")
                with engine(settings).connect() as conn:
                    water = generate_water(conn, province, seed)
                write_water(water, folder)
            names = ", ".join(p.name for p in files.values())
            out.print(f"wrote SYNTHETIC water layers to {folder}: {names}")
        if not load:
            return
        with engine(settings).begin() as conn:
            for kind, path in files.items():
                if path.suffix == ".tif":
                    record = import_raster(
                        conn,
                        settings,
                        path,
                        kind,
                        raster_id=f"synthetic-{kind.replace('_', '-')}-{province}",
                        name=f"SYNTHETIC {kind.replace('_', ' ')} {province}",
                        units="m" if kind == "elevation" else "floods per 10 years",
                        synthetic=True,
                    )
                    out.print(f"raster {record['id']} registered")
                else:
                    report = import_layer(
                        conn, path, kind, name=f"SYNTHETIC {kind} {province}", synthetic=True
                    )
                    done = "already loaded" if report.skipped else f"{report.imported:,} features"
                    out.print(f"layer {report.layer_id} {kind}: {done}")
