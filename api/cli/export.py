"""``bamrung export``: layers as styled files for QGIS and other GIS tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import console, engine, errors, out, progress
from geo.access import Scope
from geo.errors import InvalidInputError
from layers.delivery import catalog, writers
from layers.store.settings import Settings


def export(
    layers: Annotated[
        list[str],
        typer.Argument(help=f"layers to write: {', '.join(catalog.LAYERS)}", show_default=False),
    ],
    out_file: Annotated[Path, typer.Option("--out", help="the file written (replaced)")],
    area: Annotated[str, typer.Option(help="area code; empty = the whole country")] = "",
    level: Annotated[
        str | None,
        typer.Option(help="level of the areas (default: the one below the area); household"),
    ] = None,
    round_: Annotated[
        int | None, typer.Option("--round", help="survey round (default latest)")
    ] = None,
    dimension: Annotated[str | None, typer.Option(help="problems of one dimension")] = None,
    category: Annotated[str | None, typer.Option(help="problems of one category")] = None,
    status: Annotated[str | None, typer.Option(help="problems of one status")] = None,
    state: Annotated[str | None, typer.Option(help="cases in one state")] = None,
    indicator: Annotated[
        str, typer.Option(help="the field a roll-up layer is coloured by")
    ] = "problems_per_1000",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"{', '.join(writers.FORMATS)} (default: from --out)"),
    ] = None,
    crs: Annotated[str, typer.Option(help=", ".join(writers.CRS_CHOICES))] = "4326",
    lang: Annotated[str, typer.Option(help="language of names and legends: th or en")] = "th",
    public: Annotated[
        bool, typer.Option("--public", help="what the public gets: aggregates, small counts hidden")
    ] = False,
) -> None:
    """Write layers as one styled file: GeoPackage (with a QGIS project), shapefile zip, ...

    A GeoPackage opens in QGIS with each layer's style and Thai field names, and holds a
    project (with the area's outline) that opens them all: in QGIS, Project > Open From >
    GeoPackage. Several layers go in one GeoPackage or shapefile zip.
    """
    settings = Settings()
    with errors():
        fmt = fmt or _format_of(out_file)
        writers.check_format(fmt, len(set(layers)), crs)
        if not out_file.parent.is_dir():
            raise InvalidInputError(f"{out_file}: the folder {out_file.parent} does not exist")
        query = catalog.LayerQuery(
            area=area,
            level=level,
            round=round_,
            dimension=dimension,
            category=category,
            status=status,
            state=state,
            indicator=indicator,
            lang=lang,
        )
        scope = None if public else Scope(role="admin")
        with progress() as bar, engine(settings).connect() as conn:
            bar.add_task(f"writing {', '.join(layers)} to {out_file}")
            written = writers.export_file(
                conn, settings, layers, query, scope, fmt=fmt, crs=crs, path=out_file
            )
    for layer in written:
        out.print(f"{layer.name}: {len(layer.frame):,} features ({layer.style.title})")
    console.print(f"wrote {out_file} ({out_file.stat().st_size:,} bytes, {fmt})")


def _format_of(path: Path) -> str:
    by_suffix = {suffix: fmt for fmt, (suffix, _) in writers.FORMATS.items()}
    by_suffix[".json"] = "geojson"
    fmt = by_suffix.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"{path}: give --format, or a file ending in {', '.join(sorted(by_suffix))}"
        )
    return fmt
