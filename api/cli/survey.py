"""`bamrung import` and `bamrung synth`: survey files in, synthetic surveys out."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from api.cli.common import engine, errors, out, progress, suffix_out
from layers.store.settings import Settings
from layers.survey.importer import Importer
from layers.survey.report import ImportReport

# The synthetic survey's modules (scipy among them) are imported by `bamrung synth` only.


def import_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV, XLSX, GeoJSON, GeoPackage or Shapefile; with --profile odk, Central's zip"
        ),
    ],
    round: Annotated[
        int | None, typer.Option("--round", help="survey round (BE year) for rows without one")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(help="odk (Central's zip or CSV), kobo (its XLSX or CSV) or a YAML file"),
    ] = None,
    layer: Annotated[
        list[str] | None,
        typer.Option(help="layer or sheet to read (repeat; default: every one with the columns)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per file on stdout")
    ] = False,
    batch_rows: Annotated[
        int, typer.Option(help="rows per batch (one transaction each)")
    ] = 100_000,
) -> None:
    """Import household survey files: validate, repair, geocode, store; quarantine bad rows."""
    settings = Settings()
    with errors():
        importer = Importer(engine(settings), settings)
        for path in files:
            with progress(counted=True) as bar:
                task = bar.add_task(f"importing {path.name}", total=None)
                report = importer.run(
                    path,
                    round=round,
                    profile=profile,
                    layers=layer,
                    batch_rows=batch_rows,
                    on_progress=partial(_advance, bar, task),
                )
            if as_json:
                out.print_json(json.dumps(report.as_dict()))
            else:
                _print(report)


def _advance(bar: Progress, task: TaskID, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


def _print(report: ImportReport) -> None:
    table = Table(
        "",
        "rows",
        title=f"{report.file} (job {report.job_id}, {report.format}, {report.encoding or 'GDAL'})",
    )
    for label, value in (
        ("rows read", report.rows),
        ("imported (new or changed)", report.rows_imported),
        ("unchanged", report.rows_unchanged),
        ("quarantined", report.rows_quarantined),
    ):
        table.add_row(label, f"{value:,}")
    out.print(table)
    out.print(
        f"households: {report.households_inserted:,} new, {report.households_updated:,} updated; "
        f"problems: {report.problems_inserted:,} new, {report.problems_updated:,} updated; "
        f"{report.seconds:.1f} s, {report.rows_per_s:,.0f} rows/s"
    )
    for title, counts in (
        ("quarantined by reason", report.quarantine_reasons),
        ("geocode precision (households)", report.geocode_precision),
        ("repairs (rows)", report.repairs),
    ):
        if counts:
            out.print(f"{title}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    if report.personal_columns:
        out.print(
            "personal data: "
            + ", ".join(f"{c} {how}" for c, how in report.personal_columns.items())
        )
    if report.ignored_columns:
        out.print("ignored columns: " + ", ".join(report.ignored_columns))
    if len(report.layers) > 1:
        out.print("layers read (rows numbered on across them): " + ", ".join(report.layers))


def synth(
    out_file: Annotated[
        Path, typer.Option("--out", help="CSV file to write", callback=suffix_out(".csv"))
    ],
    province: Annotated[
        list[str] | None, typer.Option(help="province code (repeat for more)")
    ] = None,
    country: Annotated[bool, typer.Option(help="the whole country")] = False,
    households: Annotated[
        int, typer.Option(help="households (each surveyed in two rounds)")
    ] = 10_000,
    seed: Annotated[
        int, typer.Option(help="random seed: the same seed gives the same file")
    ] = 2567,
    defects: Annotated[
        float, typer.Option(min=0, max=1, help="share of rows with a planted fault")
    ] = 0.0,
    encoding: Annotated[str, typer.Option(help="utf-8 or cp874")] = "utf-8",
) -> None:
    """Write a synthetic Re X-ray survey (canonical format), the key of its planted faults and
    its planted clusters of hardship."""
    from layers.survey.synth import generate, write

    if bool(province) == country:
        raise typer.BadParameter("give --province CODE (one or more) or --country")
    settings = Settings()
    with errors(), engine(settings).connect() as conn:
        survey = generate(
            conn, provinces=province, households=households, seed=seed, defects=defects
        )
        key = write(survey, out_file, encoding)
    out.print(
        f"wrote {len(survey.rows):,} rows ({households:,} households, 2 rounds) to {out_file}; "
        f"key of {len(survey.key):,} planted faults: {key}; "
        f"{survey.clusters['cluster'].nunique():,} planted hot and cold clusters: "
        f"{out_file.with_name(out_file.stem + '.clusters.csv')}"
    )


def form(
    out_file: Annotated[
        Path, typer.Option("--out", help="XLSForm workbook to write", callback=suffix_out(".xlsx"))
    ],
) -> None:
    """Write the household XLSForm for ODK Central and KoboToolbox, its problem list from the
    taxonomy (the shipped data/forms/household.xlsx is this command's output)."""
    import pandas as pd

    from layers.survey.collected import write_reference_form
    from layers.survey.taxonomy import read_taxonomy

    settings = Settings()
    with errors():
        categories = pd.DataFrame(
            [c.model_dump(include={"code", "name_th", "name_en"}) for c in read_taxonomy(
                settings.taxonomy_file)]
        )  # fmt: skip
        write_reference_form(categories, out_file)
    out.print(f"wrote the household form ({len(categories)} problem categories) to {out_file}")
