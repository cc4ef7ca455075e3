"""`bamrung density`, `bamrung hotspots` and `bamrung target`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import engine, errors, layer_out, out, progress
from layers.store.settings import Settings

# The analysis modules (libpysal, esda, rasterio) are imported by the commands that use them:
# every other command, `bamrung import` among them, starts a second sooner.

AreaOption = Annotated[str, typer.Option(help="area code; empty = the whole country")]
RoundOption = Annotated[int | None, typer.Option("--round", help="survey round (default latest)")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="write a .gpkg, .geojson or .csv", callback=layer_out),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable")]


def density(
    area: AreaOption = "34",
    round_: RoundOption = None,
    dimension: Annotated[str | None, typer.Option(help="only this dimension")] = None,
    category: Annotated[str | None, typer.Option(help="only this problem category")] = None,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    resolution: Annotated[int | None, typer.Option(help="H3 resolution (default by size)")] = None,
    kde: Annotated[bool, typer.Option(help="also write a kernel density GeoTIFF")] = False,
    cell: Annotated[float, typer.Option(help="KDE cell size, metres")] = 250.0,
    bandwidth: Annotated[float | None, typer.Option(help="KDE bandwidth, metres")] = None,
    out_file: OutOption = None,
) -> None:
    """Problem counts and rates on an H3 grid; optionally a kernel density surface."""
    from layers.analysis import runs as analysis
    from layers.analysis.runs import Filters
    from layers.delivery.exports import write_layer

    settings = Settings()
    filters = Filters(dimension=dimension, category=category, status=status)
    with errors(), engine(settings).begin() as conn:
        cells = analysis.hexagons(conn, area, round_, filters, resolution)
        out.print(
            f"{len(cells):,} H3 cells at resolution {cells.attrs['resolution']}: "
            f"{int(cells['households'].sum()):,} households, "
            f"{int(cells['problems'].sum()):,} problems"
        )
        if out_file:
            write_layer(cells, out_file, "hexagons")
            out.print(f"wrote {out_file}")
        if kde:
            made = analysis.density_surface(
                conn, settings, area, round_, filters, cell_m=cell, bandwidth_m=bandwidth
            )
            out.print(f"raster {made['id']}: {made['description']}")


def hotspots(
    area: AreaOption = "",
    level: Annotated[str, typer.Option(help="unit level")] = "subdistrict",
    indicator: Annotated[
        str, typer.Option(help="problems_per_1000, affected_per_1000 or unsolved_pct")
    ] = "problems_per_1000",
    round_: RoundOption = None,
    dimension: Annotated[str | None, typer.Option(help="only this dimension")] = None,
    permutations: Annotated[int, typer.Option(help="conditional permutations")] = 999,
    seed: Annotated[int, typer.Option(help="permutation seed")] = 12345,
    alpha: Annotated[float, typer.Option(help="false discovery rate")] = 0.05,
    out_file: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Getis-Ord Gi* and Local Moran's I hot and cold spots, stored as a layer."""
    from geo.tables import json_rows
    from layers.analysis import runs as analysis
    from layers.delivery.exports import write_layer

    with errors(), engine(Settings()).begin() as conn:
        with progress() as bar:
            bar.add_task("spatial weights and permutations")
            run_id, result = analysis.run_hotspots(
                conn,
                area=area,
                level=level,
                round_=round_,
                indicator=indicator,
                dimension=dimension,
                permutations=permutations,
                seed=seed,
                alpha=alpha,
            )
        layer = analysis.hotspot_layer(conn, run_id)
        if out_file:
            write_layer(layer, out_file, "hotspots")
    if as_json:
        out.print_json(
            json.dumps({"run": layer.attrs["run"], "areas": json_rows(layer)}, default=str)
        )
        return
    counts = result["gi_class"].value_counts()
    out.print(f"hotspot run {run_id}: {len(result):,} {level}s, Gi* classes: {counts.to_dict()}")
    moran = result["moran_class"].value_counts()
    out.print(f"Local Moran classes: {moran.to_dict()}")


def target(
    level: Annotated[str, typer.Option(help="province, district, subdistrict or household")],
    area: AreaOption = "",
    top: Annotated[int, typer.Option(help="rows to show")] = 20,
    round_: RoundOption = None,
    config: Annotated[
        Path | None, typer.Option(help="weights file (default BAMRUNG_TARGETING_FILE)")
    ] = None,
    out_file: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank areas (or households) for action, with every score's components.

    A ranking of areas is stored as a run, unless one computed from the same data and weights
    is stored already (then that run is shown). ``--out`` writes the areas' outlines or the
    households' points with their scores.
    """
    from geo.tables import json_rows
    from layers.analysis import targeting
    from layers.delivery.exports import write_layer

    settings = Settings()
    with errors(), engine(settings).begin() as conn:
        weights = targeting.load_config(config or settings.targeting_file)
        run_id = None
        if level == "household":
            layer = targeting.target_households(conn, weights, area=area, round_=round_)
        else:
            run_id, ranked = targeting.target_areas(
                conn, weights, area=area, level=level, round_=round_, store=True
            )
            layer = targeting.area_layer(conn, ranked, area=area, level=level)
        layer = layer.reset_index(names="code")
        if out_file:
            write_layer(layer, out_file, "targeting")
            out.print(f"wrote {len(layer):,} {level}s to {out_file}")
    shown = layer.drop(columns=layer.geometry.name).head(top)
    if as_json:
        out.print_json(json.dumps(json_rows(shown), ensure_ascii=False, default=str))
        return
    title = f"top {top} {level}s" + (f" (run {run_id})" if run_id else "")
    table = Table("rank", "code", "name", "score", *weights.weights, title=title)
    for row in shown.to_dict("records"):
        table.add_row(
            str(row["rank"]),
            str(row["code"]),
            str(row.get("name_th") or ""),
            f"{row['score']:.1f}",
            *[f"{row[f'{c}_points']:.1f}" for c in weights.weights],
        )
    out.print(table)
    out.print("component columns are points of the score (0-100 in all)")
